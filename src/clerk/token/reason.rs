//! Why a token or a request is refused: Clerk's reason codes, and the error that carries one.

/// Why a request is not signed in. The codes are Clerk's reason names where Clerk has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    SessionTokenMissing,
    TokenInvalid,
    TokenInvalidAlgorithm,
    TokenInvalidSignature,
    TokenExpired,
    TokenNotActiveYet,
    TokenIatInTheFuture,
    TokenInvalidAuthorizedParties,
    /// Our addition: Clerk's SDK does not check `iss`.
    TokenInvalidIssuer,
    TokenVerificationFailed,
    TokenTypeMismatch,
    /// Our addition: `sts: pending` (Clerk's SDK treats it as signed out).
    SessionPending,
    JwkKidMismatch,
    JwkRemoteFailedToLoad,
    /// Our addition: the token is valid but carries no `email` and none could be found.
    EmailClaimMissing,
    /// Our addition: the Backend API does not know the token's user.
    UserNotFound,
    /// Our addition: Clerk deleted the user (a `user.deleted` webhook or `clerk-rocket sync`).
    UserDeleted,
    /// Our addition: Clerk banned the user. Answered with 403: the token is fine, the user is not.
    UserBanned,
    /// Our addition: Clerk ended, removed or revoked the token's session.
    SessionRevoked,
    /// Our addition: signed in, but not an administrator (403).
    NotAdmin,
    /// Our addition: a write (POST, PUT, PATCH, DELETE) signed in by cookie from an origin that
    /// is neither an authorized party nor this app's own (403): cross-site request forgery.
    OriginNotAllowed,

    // Machine tokens and organizations (clerk-machines-orgs.md).
    /// Our addition: a machine token that Clerk revoked (its verify endpoint may still say 200).
    TokenRevoked,
    /// Our addition: an M2M token that does not name this machine (`CLERK_MACHINE_ID`).
    TokenAudienceMismatch,
    /// Clerk's code for a Backend API answer that is neither a verdict nor a refusal of the key.
    UnexpectedError,
    /// Clerk's code for a secret key the Backend API refuses (answered with 503: ours to fix).
    SecretKeyInvalid,
    /// Our addition: signed in, but without the organization role a route needs (403).
    MissingRole,
    /// Our addition: signed in, but without the organization permission a route needs (403).
    MissingPermission,
    /// Our addition: signed in, but without the feature a route needs (403).
    MissingFeature,
    /// Our addition: signed in, but without the plan a route needs (403).
    MissingPlan,
    /// Our addition: signed in, but the first or second factor was verified too long ago (403).
    MissingReverification,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::SessionTokenMissing => "session-token-missing",
            Reason::TokenInvalid => "token-invalid",
            Reason::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Reason::TokenInvalidSignature => "token-invalid-signature",
            Reason::TokenExpired => "token-expired",
            Reason::TokenNotActiveYet => "token-not-active-yet",
            Reason::TokenIatInTheFuture => "token-iat-in-the-future",
            Reason::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Reason::TokenInvalidIssuer => "token-invalid-issuer",
            Reason::TokenVerificationFailed => "token-verification-failed",
            Reason::TokenTypeMismatch => "token-type-mismatch",
            Reason::SessionPending => "session-pending",
            Reason::JwkKidMismatch => "jwk-kid-mismatch",
            Reason::JwkRemoteFailedToLoad => "jwk-remote-failed-to-load",
            Reason::EmailClaimMissing => "email-claim-missing",
            Reason::UserNotFound => "user-not-found",
            Reason::UserDeleted => "user-deleted",
            Reason::UserBanned => "user-banned",
            Reason::SessionRevoked => "session-revoked",
            Reason::NotAdmin => "forbidden",
            Reason::OriginNotAllowed => "origin-not-allowed",
            Reason::TokenRevoked => "token-revoked",
            Reason::TokenAudienceMismatch => "token-audience-mismatch",
            Reason::UnexpectedError => "unexpected-error",
            Reason::SecretKeyInvalid => "secret-key-invalid",
            Reason::MissingRole => "missing-role",
            Reason::MissingPermission => "missing-permission",
            Reason::MissingFeature => "missing-feature",
            Reason::MissingPlan => "missing-plan",
            Reason::MissingReverification => "missing-reverification",
        }
    }

    /// Every reason, for documentation and tests.
    pub const ALL: [Reason; 30] = [
        Reason::SessionTokenMissing,
        Reason::TokenInvalid,
        Reason::TokenInvalidAlgorithm,
        Reason::TokenInvalidSignature,
        Reason::TokenExpired,
        Reason::TokenNotActiveYet,
        Reason::TokenIatInTheFuture,
        Reason::TokenInvalidAuthorizedParties,
        Reason::TokenInvalidIssuer,
        Reason::TokenVerificationFailed,
        Reason::TokenTypeMismatch,
        Reason::SessionPending,
        Reason::JwkKidMismatch,
        Reason::JwkRemoteFailedToLoad,
        Reason::EmailClaimMissing,
        Reason::UserNotFound,
        Reason::UserDeleted,
        Reason::UserBanned,
        Reason::SessionRevoked,
        Reason::NotAdmin,
        Reason::OriginNotAllowed,
        Reason::TokenRevoked,
        Reason::TokenAudienceMismatch,
        Reason::UnexpectedError,
        Reason::SecretKeyInvalid,
        Reason::MissingRole,
        Reason::MissingPermission,
        Reason::MissingFeature,
        Reason::MissingPlan,
        Reason::MissingReverification,
    ];
}

/// A refused token: the reason, a message safe to show the client, and for key outages how long
/// to wait before retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({message})", reason.code())]
pub struct AuthError {
    pub reason: Reason,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AuthError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        AuthError {
            reason,
            message: message.into(),
            retry_after: None,
        }
    }
}

pub(crate) fn fail<T>(reason: Reason, message: impl Into<String>) -> Result<T, AuthError> {
    Err(AuthError::new(reason, message))
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn every_reason_is_listed_once_with_a_kebab_case_code() {
        // Exhaustive: a new variant stops this from compiling, a reminder to add it to ALL.
        let listed = |reason: Reason| match reason {
            Reason::SessionTokenMissing
            | Reason::TokenInvalid
            | Reason::TokenInvalidAlgorithm
            | Reason::TokenInvalidSignature
            | Reason::TokenExpired
            | Reason::TokenNotActiveYet
            | Reason::TokenIatInTheFuture
            | Reason::TokenInvalidAuthorizedParties
            | Reason::TokenInvalidIssuer
            | Reason::TokenVerificationFailed
            | Reason::TokenTypeMismatch
            | Reason::SessionPending
            | Reason::JwkKidMismatch
            | Reason::JwkRemoteFailedToLoad
            | Reason::EmailClaimMissing
            | Reason::UserNotFound
            | Reason::UserDeleted
            | Reason::UserBanned
            | Reason::SessionRevoked
            | Reason::NotAdmin
            | Reason::OriginNotAllowed
            | Reason::TokenRevoked
            | Reason::TokenAudienceMismatch
            | Reason::UnexpectedError
            | Reason::SecretKeyInvalid
            | Reason::MissingRole
            | Reason::MissingPermission
            | Reason::MissingFeature
            | Reason::MissingPlan
            | Reason::MissingReverification => Reason::ALL.contains(&reason),
        };
        let mut codes = std::collections::BTreeSet::new();
        for reason in Reason::ALL {
            assert!(listed(reason));
            let code = reason.code();
            assert!(
                code.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                "{code}"
            );
            assert!(codes.insert(code), "{code} twice");
        }
        for code in ["user-deleted", "user-banned", "session-revoked"] {
            assert!(codes.contains(code), "{code}");
        }
    }
}
