//! From verified claims to the local user row.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rocket::Request;
use rocket_db_pools::Database as _;

use super::known_users::{Known, KnownUsers, CACHE_SECS};
use crate::clerk::backend_api::{BackendApiError, BackendUser};
use crate::clerk::json::without_nul;
use crate::clerk::token::{now, AuthError, Reason, SessionClaims};
use crate::clerk::Clerk;
use crate::db::revoked_sessions::Revocations;
use crate::db::users::{self, SeenUser, User};
use crate::db::{write_transaction, AnyPool, Db};
use crate::error::ApiError;
use crate::sync::profile::{upsert_from_clerk, ClerkProfile};

const ADD_EMAIL_CLAIM: &str = "the session token has no email claim. In the Clerk dashboard, open \
    Sessions > Customize session token and add {\"email\": \"{{user.primary_email_address}}\"}, \
    or set CLERK_SECRET_KEY on this server so that it can look the email up";

/// [`resolve`] with the state of the request's app.
pub async fn resolve_request(
    request: &Request<'_>,
    session: &SessionClaims,
) -> Result<Arc<User>, ApiError> {
    let rocket = request.rocket();
    let (Some(clerk), Some(db), Some(known), Some(revocations)) = (
        rocket.state::<Clerk>(),
        Db::fetch(rocket),
        rocket.state::<KnownUsers>(),
        rocket.state::<Revocations>(),
    ) else {
        return Err(ApiError::Internal(
            "Clerk, database or user state is not managed".into(),
        ));
    };
    resolve(db, clerk, known, revocations, session).await
}

/// The user row for `session`, from memory when this instance served it in the last few
/// seconds, else from the database; written only on first sight or when the token is newer than
/// every source of the stored profile and says something else (see `db::users`). A session that
/// Clerk ended, and a user that Clerk deleted (a tombstone) or banned, are refused even while the
/// token is valid; their rows are never written. Every way to a signed-in user goes through here.
pub async fn resolve(
    pool: &AnyPool,
    clerk: &Clerk,
    known: &KnownUsers,
    revocations: &Revocations,
    session: &SessionClaims,
) -> Result<Arc<User>, ApiError> {
    let now = now();
    if let Some(memo) = session.memo.get::<Resolved>() {
        if let Some(entry) = memo.holds(known, revocations, session) {
            known.note_seen(&entry, now);
            return Ok(Arc::clone(&entry.user));
        }
    }
    // Before any read: what this request reads is kept only if no change was received since.
    let read_at = known.mark(&session.user_id);
    let revocation = revocations.check(pool, &session.session_id, now).await?;
    if revocation.revoked {
        return Err(AuthError::new(
            Reason::SessionRevoked,
            "Clerk ended this session (signed out, removed or revoked); sign in again",
        )
        .into());
    }
    let cached = known.get(&session.user_id);
    let existing = match &cached {
        Some(entry) => Some(Arc::clone(&entry.user)),
        None => users::find_by_clerk_id(pool, &session.user_id)
            .await?
            .map(Arc::new),
    };
    if let Some(user) = &existing {
        admissible(user, session)?;
    }
    // Clerk's own word on the user, when the token has no email and none is stored.
    let mut from_clerk = None;
    let email = match (&session.email, &existing) {
        (Some(email), _) => without_nul(email).into_owned(),
        (None, Some(user)) if !user.email.is_empty() => user.email.clone(),
        (None, _) => {
            let clerk_user = user_from_backend_api(clerk, &session.user_id).await?;
            let email = primary_email(&clerk_user)?;
            from_clerk = Some(clerk_user);
            email
        }
    };
    // Clerk's text, as the token carries it: without NUL, which PostgreSQL cannot store.
    let name = |claim: &str| {
        session
            .claims
            .get(claim)
            .and_then(|v| v.as_str())
            .map(without_nul)
            .filter(|s| !s.is_empty())
    };
    let (first_name, last_name) = (name("first_name"), name("last_name"));
    let seen = SeenUser {
        clerk_id: &session.user_id,
        email: &email,
        first_name: first_name.as_deref(),
        last_name: last_name.as_deref(),
        issued_at: session.issued_at.unwrap_or_default(),
        now,
    };
    if let Some(user) = existing.filter(|user| profile_current(user, &seen)) {
        let entry = match cached {
            Some(entry) => entry,
            None => known.keep(user, read_at),
        };
        known.note_seen(&entry, now);
        // This token, this row and this revocation answer give this user until either changes.
        // Each answer's own mark (not this request's): a row or answer read before a forget,
        // and served after it, gives a memo that never holds.
        session.memo.set(Arc::new(Resolved {
            fresh_until: entry.read.at.min(revocation.read.at) + Duration::from_secs(CACHE_SECS),
            users_generation: entry.read.generation,
            revocations_generation: revocation.read.generation,
            known: Arc::downgrade(&entry),
        }));
        return Ok(entry.user.clone());
    }
    // First sight, or a newer token with another profile. Deleted or banned meanwhile:
    // `record_seen` leaves a tombstone as it is.
    let mut user = users::record_seen(pool, &seen).await?;
    if let Some(clerk_user) = &from_clerk {
        // The Backend API's answer is authoritative, as a webhook is: its role (and when Clerk
        // set it), ban and names are stored, in Clerk's order.
        user = record_from_clerk(pool, clerk_user).await?.unwrap_or(user);
    }
    let entry = known.keep_written(Arc::new(user), read_at);
    admissible(&entry.user, session)?;
    known.note_written(&entry, now);
    Ok(Arc::clone(&entry.user))
}

/// A session's user as [`resolve`] found it, kept with the token's claims so that the next
/// request with the same token needs no look-up: admitted, its profile current for this token.
/// It holds while nothing of its user or session was forgotten since (a webhook, an admin
/// action or a newer token's profile on this instance moves their generations, by stripe), and
/// for no longer than the older of the row and the revocation answer may be served
/// ([`CACHE_SECS`]), the bound for a change made through another instance. The row is held
/// weakly: the user cache alone keeps rows in memory, so that a flood of distinct tokens (each
/// kept until its `exp`) cannot keep old rows alive.
struct Resolved {
    known: Weak<Known>,
    fresh_until: Instant,
    users_generation: u64,
    revocations_generation: u64,
}

impl Resolved {
    /// The row, while the memo holds.
    fn holds(
        &self,
        known: &KnownUsers,
        revocations: &Revocations,
        session: &SessionClaims,
    ) -> Option<Arc<Known>> {
        let holds = known.generation(&session.user_id) == self.users_generation
            && revocations.generation(&session.session_id) == self.revocations_generation
            && Instant::now() < self.fresh_until;
        holds.then(|| self.known.upgrade()).flatten()
    }
}

/// Refuses a machine credential (an API key, an OAuth access token) acting for `user_id` when
/// this instance would refuse that user's session: deleted (401) or banned (403), as known within
/// `known_users::CACHE_SECS`. Stricter than Clerk, which keeps such credentials valid. A user
/// without a row is not denied, and gets none: only a session creates one.
pub async fn admit_acting_user(
    pool: &AnyPool,
    known: &KnownUsers,
    user_id: &str,
) -> Result<(), ApiError> {
    match known.lookup(pool, user_id).await? {
        Some(user) => admissible_user(&user),
        None => Ok(()),
    }
}

/// Whether `seen` would change nothing in the stored profile: the token may not fill it, or says
/// what it already holds.
fn profile_current(user: &User, seen: &SeenUser<'_>) -> bool {
    let same = |stored: &Option<String>, seen: Option<&str>| {
        seen.is_none_or(|v| stored.as_deref() == Some(v))
    };
    !user.accepts_claims_from(seen.issued_at)
        || (user.email == seen.email
            && same(&user.first_name, seen.first_name)
            && same(&user.last_name, seen.last_name))
}

/// Refuses a user that Clerk deleted (401) or banned (403), and a token issued before an
/// administrator ended every session of its user (401), even while the token is valid.
fn admissible(user: &User, session: &SessionClaims) -> Result<(), ApiError> {
    admissible_user(user)?;
    if user
        .sessions_revoked_at
        .is_some_and(|at| session.issued_at.is_none_or(|iat| iat <= at))
    {
        return Err(AuthError::new(
            Reason::SessionRevoked,
            "an administrator ended every session of this user; sign in again",
        )
        .into());
    }
    Ok(())
}

/// Refuses a user that Clerk deleted (401) or banned (403), whatever the credential. (Ending
/// every session leaves a user's API keys and OAuth tokens alone, as at Clerk.)
fn admissible_user(user: &User) -> Result<(), ApiError> {
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

/// `user`'s primary email, which a session needs.
fn primary_email(user: &BackendUser) -> Result<String, ApiError> {
    user.primary_email().map(str::to_owned).ok_or_else(|| {
        AuthError::new(
            Reason::EmailClaimMissing,
            "this Clerk user has no email address",
        )
        .into()
    })
}

/// Stores what the Backend API said of a user, as a webhook would (`sync::profile`); the row as
/// now stored.
async fn record_from_clerk(
    pool: &AnyPool,
    clerk_user: &BackendUser,
) -> Result<Option<User>, ApiError> {
    let mut tx = write_transaction(pool).await?;
    upsert_from_clerk(&mut tx, &ClerkProfile::from(clerk_user), now()).await?;
    let user = users::find_by_clerk_id_in(&mut tx, &clerk_user.id).await?;
    tx.commit().await?;
    Ok(user)
}

async fn user_from_backend_api(clerk: &Clerk, user_id: &str) -> Result<BackendUser, ApiError> {
    let Some(api) = &clerk.backend_api else {
        return Err(AuthError::new(Reason::EmailClaimMissing, ADD_EMAIL_CLAIM).into());
    };
    match api.user(user_id).await {
        Ok(user) => Ok(user),
        Err(BackendApiError::UserNotFound(_)) => {
            Err(AuthError::new(Reason::UserNotFound, "Clerk has no such user (deleted?)").into())
        }
        Err(e) if e.rate_limited().is_some() => {
            rocket::warn!("looking up {user_id} in the Backend API: {e}");
            Err(ApiError::Unavailable {
                code: "rate-limited",
                message: "the user's email could not be looked up at Clerk now: a rate limit of \
                          the Backend API (Clerk's, or this server's budget of calls); try again \
                          after Retry-After"
                    .into(),
                retry_after: e.rate_limited().unwrap_or(5),
            })
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
