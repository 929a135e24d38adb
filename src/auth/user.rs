//! From verified claims to the local user row.

use crate::clerk::backend_api::BackendApiError;
use crate::clerk::token::{now, AuthError, Reason, SessionClaims};
use crate::clerk::Clerk;
use crate::db::revoked_sessions::Revocations;
use crate::db::users::{self, SeenUser, User};
use crate::db::AnyPool;
use crate::error::ApiError;

/// How stale `last_seen_at` may get before a request writes it again; keeps the hot path a read.
pub const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

const ADD_EMAIL_CLAIM: &str = "the session token has no email claim. In the Clerk dashboard, open \
    Sessions > Customize session token and add {\"email\": \"{{user.primary_email_address}}\"}, \
    or set CLERK_SECRET_KEY on this server so that it can look the email up";

/// The user row for `session`: read, and written only on first sight, when `last_seen_at` is
/// stale, or when the token is newer than every source of the stored profile and says something
/// else (see `db::users`). A session that Clerk ended, and a user that Clerk deleted (a tombstone)
/// or banned, are refused even while the token is valid; their rows are never written. Every way
/// to a signed-in user goes through here.
pub async fn resolve(
    pool: &AnyPool,
    clerk: &Clerk,
    revocations: &Revocations,
    session: &SessionClaims,
) -> Result<User, ApiError> {
    if revocations
        .is_revoked(pool, &session.session_id, now())
        .await?
    {
        return Err(AuthError::new(
            Reason::SessionRevoked,
            "Clerk ended this session (signed out, removed or revoked); sign in again",
        )
        .into());
    }
    let existing = users::find_by_clerk_id(&**pool, &session.user_id).await?;
    if let Some(user) = &existing {
        admissible(user)?;
    }
    let email = match (&session.email, &existing) {
        (Some(email), _) => email.clone(),
        (None, Some(user)) if !user.email.is_empty() => user.email.clone(),
        (None, _) => email_from_backend_api(clerk, &session.user_id).await?,
    };
    let name = |claim: &str| {
        session
            .claims
            .get(claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let seen = SeenUser {
        clerk_id: &session.user_id,
        email: &email,
        first_name: name("first_name"),
        last_name: name("last_name"),
        issued_at: session.issued_at.unwrap_or_default(),
        now: now(),
    };
    match existing {
        Some(user) if is_current(&user, &seen) => Ok(user),
        // Deleted or banned meanwhile: `record_seen` leaves a tombstone as it is.
        _ => {
            let user = users::record_seen(pool, &seen).await?;
            admissible(&user)?;
            Ok(user)
        }
    }
}

/// Whether `seen` would change nothing worth a write: `last_seen_at` is fresh, and the token
/// either may not fill the profile or says what it already holds.
fn is_current(user: &User, seen: &SeenUser<'_>) -> bool {
    let same = |stored: &Option<String>, seen: Option<&str>| {
        seen.is_none_or(|v| stored.as_deref() == Some(v))
    };
    let profile_current = !user.accepts_claims_from(seen.issued_at)
        || (user.email == seen.email
            && same(&user.first_name, seen.first_name)
            && same(&user.last_name, seen.last_name));
    profile_current
        && user
            .last_seen_at
            .is_some_and(|at| seen.now - at < LAST_SEEN_RESOLUTION_SECS)
}

/// Refuses a user that Clerk deleted (401) or banned (403), even while their token is valid.
fn admissible(user: &User) -> Result<(), ApiError> {
    if user.deleted_at.is_some() {
        return Err(AuthError::new(Reason::UserDeleted, "this user was deleted in Clerk").into());
    }
    if user.banned {
        return Err(ApiError::Forbidden(AuthError::new(
            Reason::UserBanned,
            "this user is banned in Clerk",
        )));
    }
    Ok(())
}

async fn email_from_backend_api(clerk: &Clerk, user_id: &str) -> Result<String, ApiError> {
    let Some(api) = &clerk.backend_api else {
        return Err(AuthError::new(Reason::EmailClaimMissing, ADD_EMAIL_CLAIM).into());
    };
    match api.user(user_id).await {
        Ok(user) => user.primary_email().map(str::to_owned).ok_or_else(|| {
            AuthError::new(
                Reason::EmailClaimMissing,
                "this Clerk user has no email address",
            )
            .into()
        }),
        Err(BackendApiError::UserNotFound(_)) => {
            Err(AuthError::new(Reason::UserNotFound, "Clerk has no such user (deleted?)").into())
        }
        Err(e) => {
            rocket::error!("looking up {user_id} in the Backend API: {e}");
            Err(ApiError::Unavailable {
                code: "backend-api-unavailable",
                message: "the user's email could not be looked up at Clerk; try again shortly"
                    .into(),
                retry_after: 5,
            })
        }
    }
}
