//! Rocket request guards: who is making this request.
//!
//! [`Session`] yields the verified claims of the request's session token; [`CurrentUser`] builds
//! on it and yields the local user row, refusing revoked sessions and users that Clerk deleted or
//! banned ([`user::resolve`]). A failed guard records its [`ApiError`] for the catcher.

mod source;
mod user;

use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};
use rocket::State;
use rocket_db_pools::Database as _;

use crate::clerk::token::SessionClaims;
use crate::clerk::Clerk;
use crate::db::Db;
use crate::error::ApiError;
use crate::sessions::Revocations;
use crate::users::User;

pub use source::{session_token, Carrier};

/// A request whose session token verified.
#[derive(Debug, Clone)]
pub struct Session(pub SessionClaims);

/// The signed-in user, created locally on first sight.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session: SessionClaims,
}

fn refuse<T>(request: &Request<'_>, error: ApiError) -> request::Outcome<T, ()> {
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
            Ok(claims) => Outcome::Success(Session(claims.clone())),
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
