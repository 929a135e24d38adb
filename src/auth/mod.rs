//! Rocket request guards: who is making this request.
//!
//! [`Session`] yields the verified claims of the request's session token; [`CurrentUser`] builds
//! on it and yields the local user row, refusing revoked sessions and users that Clerk deleted or
//! banned ([`user::resolve`]); [`Admin`] builds on that. A failed guard records its [`ApiError`]
//! for the catcher. Pages use [`Visitor`] instead, which never fails: it says whether the visitor
//! is signed in, signed out, refused, or needs a session refresh (Clerk's handshake) first.

mod page;
mod source;
mod user;

use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};
use rocket::State;
use rocket_db_pools::Database as _;

use crate::clerk::token::{Reason, SessionClaims};
use crate::clerk::Clerk;
use crate::db::Db;
use crate::error::ApiError;
use crate::observability::{record_auth, AuthOutcome};
use crate::sessions::Revocations;
use crate::users::User;

pub use page::{Refresh, Visitor, VisitorState};
pub use source::{bearer_token, client_uat, session_cookie, session_token, Carrier};

/// A request whose session token verified.
#[derive(Debug, Clone)]
pub struct Session(pub SessionClaims);

/// A signed-in administrator (see [`CurrentUser::is_admin`]).
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

/// The signed-in user, created locally on first sight.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session: SessionClaims,
}

impl CurrentUser {
    /// Admin by any of: `CLERK_ADMIN_USER_IDS`; the session token's `metadata.role` or `role`
    /// claim (public metadata through session token customisation); the stored role (kept from
    /// `public_metadata.role`). Nothing else grants it: `unsafe_metadata` is never read.
    pub fn is_admin(&self, clerk: &Clerk) -> bool {
        clerk.config.admin_user_ids.contains(&self.user.clerk_id)
            || self.session.role.as_deref() == Some("admin")
            || self.user.role.as_deref() == Some("admin")
    }
}

/// Fails a guard: records the error for the catcher and the outcome for the request log.
fn refuse<T>(request: &Request<'_>, error: ApiError) -> request::Outcome<T, ()> {
    // Not an admin is still signed in.
    if !matches!(&error, ApiError::Forbidden(e) if e.reason == Reason::NotAdmin) {
        record_auth(
            request,
            AuthOutcome {
                status: "signed-out",
                reason: Some(error.code()),
            },
        );
    }
    Outcome::Error((error.record(request), ()))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        // Cached: a route with several guards verifies the token once.
        let verified = request
            .local_cache_async(async {
                let clerk = request
                    .guard::<&State<Clerk>>()
                    .await
                    .succeeded()
                    .ok_or_else(|| ApiError::Internal("Clerk state is not managed".into()))?;
                let (token, _carrier) = session_token(request, &clerk.config)?;
                clerk.verifier.verify(token).await.map_err(ApiError::from)
            })
            .await;
        match verified {
            Ok(claims) => {
                record_auth(
                    request,
                    AuthOutcome {
                        status: "signed-in",
                        reason: None,
                    },
                );
                Outcome::Success(Session(claims.clone()))
            }
            Err(e) => refuse(request, e.clone()),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let Session(session) = try_outcome!(request.guard::<Session>().await);
        let (Some(clerk), Some(db), Some(revocations)) = (
            request.rocket().state::<Clerk>(),
            Db::fetch(request.rocket()),
            request.rocket().state::<Revocations>(),
        ) else {
            return refuse(
                request,
                ApiError::Internal("database or Clerk state is not managed".into()),
            );
        };
        match user::resolve(db, clerk, revocations, &session).await {
            Ok(user) => Outcome::Success(CurrentUser { user, session }),
            Err(e) => refuse(request, e),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let current = try_outcome!(request.guard::<CurrentUser>().await);
        match request.rocket().state::<Clerk>() {
            Some(clerk) if current.is_admin(clerk) => Outcome::Success(Admin(current)),
            _ => refuse(request, ApiError::forbidden()),
        }
    }
}
