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
    /// Our addition: a rate limit stopped the Backend API call the request needed: Clerk's own
    /// (429), this server's budget of calls, or this client's allowance of unknown machine
    /// tokens (503 with `Retry-After`).
    RateLimited,
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

    // Clerk's request reasons (`AuthErrorReason` of `@clerk/backend`).
    /// Clerk's: no session cookie and no live client (`__client_uat` absent or 0).
    SessionTokenAndUatMissing,
    /// Clerk's: a session cookie, but the client is signed out (another tab, a sibling subdomain).
    SessionTokenButNoClientUat,
    /// Clerk's: a live client without a session cookie.
    ClientUatButNoSessionToken,
    /// Clerk's: the token is older than the client's last change.
    SessionTokenIatBeforeClientUat,
    /// Clerk's: an expired token, and why it was not refreshed without a redirect
    /// (`session-token-expired-refresh-<why>`).
    SessionTokenExpired(RefreshError),
    /// Clerk's: the token's `nbf` is ahead of the clock, as a request reason.
    SessionTokenNbf,
    /// Clerk's: the token's `iat` is ahead of the clock, as a request reason.
    SessionTokenIatInTheFuture,
    /// Clerk's: a development instance's browser without its `__clerk_db_jwt`.
    DevBrowserMissing,
    /// Clerk's: a development browser token arrived in the URL.
    DevBrowserSync,
    /// Clerk's: a document reached from another site (perhaps a satellite) is synced once.
    PrimaryDomainCrossOriginSync,
    /// Clerk's: the URL names an organization (or the personal account) other than the token's
    /// active one (`organizationSyncOptions`; `clerk::org_sync`).
    ActiveOrganizationMismatch,
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
            Reason::RateLimited => "rate-limited",
            Reason::MissingRole => "missing-role",
            Reason::MissingPermission => "missing-permission",
            Reason::MissingFeature => "missing-feature",
            Reason::MissingPlan => "missing-plan",
            Reason::MissingReverification => "missing-reverification",
            Reason::SessionTokenAndUatMissing => "session-token-and-uat-missing",
            Reason::SessionTokenButNoClientUat => "session-token-but-no-client-uat",
            Reason::ClientUatButNoSessionToken => "client-uat-but-no-session-token",
            Reason::SessionTokenIatBeforeClientUat => "session-token-iat-before-client-uat",
            Reason::SessionTokenExpired(why) => why.reason(),
            Reason::SessionTokenNbf => "session-token-nbf",
            Reason::SessionTokenIatInTheFuture => "session-token-iat-in-the-future",
            Reason::DevBrowserMissing => "dev-browser-missing",
            Reason::DevBrowserSync => "dev-browser-sync",
            Reason::PrimaryDomainCrossOriginSync => "primary-domain-cross-origin-sync",
            Reason::ActiveOrganizationMismatch => "active-organization-mismatch",
        }
    }

    /// Every reason, for documentation and tests.
    pub const ALL: [Reason; 48] = [
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
        Reason::RateLimited,
        Reason::MissingRole,
        Reason::MissingPermission,
        Reason::MissingFeature,
        Reason::MissingPlan,
        Reason::MissingReverification,
        Reason::SessionTokenAndUatMissing,
        Reason::SessionTokenButNoClientUat,
        Reason::ClientUatButNoSessionToken,
        Reason::SessionTokenIatBeforeClientUat,
        Reason::SessionTokenExpired(RefreshError::NonEligibleNonGet),
        Reason::SessionTokenExpired(RefreshError::NonEligibleNoRefreshCookie),
        Reason::SessionTokenExpired(RefreshError::FetchError),
        Reason::SessionTokenExpired(RefreshError::UnexpectedBapiError),
        Reason::SessionTokenExpired(RefreshError::UnexpectedSdkError),
        Reason::SessionTokenExpired(RefreshError::InvalidSessionToken),
        Reason::SessionTokenExpired(RefreshError::MissingSidClaim),
        Reason::SessionTokenNbf,
        Reason::SessionTokenIatInTheFuture,
        Reason::DevBrowserMissing,
        Reason::DevBrowserSync,
        Reason::PrimaryDomainCrossOriginSync,
        Reason::ActiveOrganizationMismatch,
    ];
}

/// Why an expired session token was not refreshed through the Backend API (Clerk's
/// `RefreshTokenErrorReason`, the end of `session-token-expired-refresh-…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    /// Not a GET.
    NonEligibleNonGet,
    /// A GET without Clerk's `__refresh` cookie.
    NonEligibleNoRefreshCookie,
    /// The Backend API could not be reached (or its budget was spent).
    FetchError,
    /// The Backend API answered neither cookies nor an error code.
    UnexpectedBapiError,
    /// The Backend API answered no cookies.
    UnexpectedSdkError,
    /// The refreshed token did not verify.
    InvalidSessionToken,
    /// The expired token has no `sid`.
    MissingSidClaim,
    /// The Backend API's own error code (`session-token-expired-refresh-<code>`, interned).
    Api(&'static str),
}

impl RefreshError {
    /// The whole request reason.
    pub fn reason(self) -> &'static str {
        match self {
            RefreshError::NonEligibleNonGet => "session-token-expired-refresh-non-eligible-non-get",
            RefreshError::NonEligibleNoRefreshCookie => {
                "session-token-expired-refresh-non-eligible-no-refresh-cookie"
            }
            RefreshError::FetchError => "session-token-expired-refresh-fetch-error",
            RefreshError::UnexpectedBapiError => {
                "session-token-expired-refresh-unexpected-bapi-error"
            }
            RefreshError::UnexpectedSdkError => {
                "session-token-expired-refresh-unexpected-sdk-error"
            }
            RefreshError::InvalidSessionToken => {
                "session-token-expired-refresh-invalid-session-token"
            }
            RefreshError::MissingSidClaim => {
                "session-token-expired-refresh-expired-session-token-missing-sid-claim"
            }
            RefreshError::Api(reason) => reason,
        }
    }

    /// The Backend API's error `code` as a reason: interned, since reasons are `'static` (the
    /// metrics and log keep them). Only short codes of Clerk's shape, and at most 64 of them
    /// per process; anything else is `unexpected-bapi-error`.
    pub fn api(code: &str) -> RefreshError {
        use std::sync::Mutex;
        static INTERNED: Mutex<Vec<(&'static str, &'static str)>> = Mutex::new(Vec::new());
        let shaped = (1..=64).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !shaped {
            return RefreshError::UnexpectedBapiError;
        }
        let mut interned = INTERNED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, reason)) = interned.iter().find(|(c, _)| *c == code) {
            return RefreshError::Api(reason);
        }
        if interned.len() >= 64 {
            return RefreshError::UnexpectedBapiError;
        }
        let reason: &'static str =
            Box::leak(format!("session-token-expired-refresh-{code}").into_boxed_str());
        let code: &'static str = Box::leak(code.to_owned().into_boxed_str());
        interned.push((code, reason));
        RefreshError::Api(reason)
    }
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
            | Reason::RateLimited
            | Reason::MissingRole
            | Reason::MissingPermission
            | Reason::MissingFeature
            | Reason::MissingPlan
            | Reason::MissingReverification
            | Reason::SessionTokenAndUatMissing
            | Reason::SessionTokenButNoClientUat
            | Reason::ClientUatButNoSessionToken
            | Reason::SessionTokenIatBeforeClientUat
            | Reason::SessionTokenExpired(_)
            | Reason::SessionTokenNbf
            | Reason::SessionTokenIatInTheFuture
            | Reason::DevBrowserMissing
            | Reason::DevBrowserSync
            | Reason::PrimaryDomainCrossOriginSync
            | Reason::ActiveOrganizationMismatch => Reason::ALL.contains(&reason),
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
