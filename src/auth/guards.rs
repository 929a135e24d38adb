//! Rocket request guards for `/api`: who is making this request.

use std::sync::Arc;

use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};
use rocket::State;

use super::decision::decide;
use super::known_users::KnownUsers;
use super::org_standing::OrgStandings;
use super::refresh::Refresh;
use super::user;
use crate::clerk::request_state::AuthStatus;
use crate::clerk::token::{Reason, SessionClaims};
use crate::clerk::Clerk;
use crate::db::revoked_sessions::Revocations;
use crate::db::users::User;
use crate::error::ApiError;
use crate::observability::{record_auth, AuthOutcome};

/// A request whose session token verified.
#[derive(Debug, Clone)]
pub struct Session(pub Arc<SessionClaims>);

/// A signed-in administrator (see [`CurrentUser::is_admin`]): may read what administrators read.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

/// A signed-in administrator who may change things (see [`CurrentUser::can_write_as_admin`]):
/// every admin write (`POST`/`PATCH` under `/api/admin`) takes this guard, not [`Admin`].
#[derive(Debug, Clone)]
pub struct AdminWriter(pub CurrentUser);

/// The signed-in user, created locally on first sight.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: Arc<User>,
    pub session: Arc<SessionClaims>,
}

impl CurrentUser {
    /// Admin, for reading, by any of: `CLERK_ADMIN_USER_IDS`; the stored role (kept from
    /// `public_metadata.role`); this request's token's `metadata.role` or `role` claim (public
    /// metadata through session token customisation) when the claim may stand ([`Self::role`]).
    /// Nothing else grants it: `unsafe_metadata` is never read. Writes ask more:
    /// [`Self::can_write_as_admin`].
    pub fn is_admin(&self, clerk: &Clerk) -> bool {
        self.configured_admin(clerk) || self.role() == Some(ADMIN)
    }

    /// Admin, for changing things (every admin action, in the JSON API and the pages' forms):
    /// `CLERK_ADMIN_USER_IDS` or the stored role, never a token's claim alone, so that a token
    /// minted before a demotion, or a claim that Clerk's stored metadata does not back, cannot
    /// act. In local mode this app mints the tokens itself (its sign-in is the only authority
    /// there), and a claim that may stand counts.
    pub fn can_write_as_admin(&self, clerk: &Clerk) -> bool {
        self.configured_admin(clerk)
            || self.user.role.as_deref() == Some(ADMIN)
            || (clerk.config.local_mode() && self.claimed_role() == Some(ADMIN))
    }

    fn configured_admin(&self, clerk: &Clerk) -> bool {
        clerk.config.admin_user_ids.contains(&self.user.clerk_id)
    }

    /// The role this request is served with: the stored one (Clerk's `public_metadata.role`,
    /// from webhooks, sync, a first sight's Backend API look-up or this app's own actions as Clerk
    /// answered them), else the token's
    /// role claim when the token was issued after the row's last authoritative word on the role
    /// (`User::role_claim_counts`): a stored "no role" written after a token was minted means no
    /// role. The claim counts for this request only and is never stored.
    #[must_use]
    pub fn role(&self) -> Option<&str> {
        self.user.role.as_deref().or_else(|| self.claimed_role())
    }

    /// The token's role claim, when it may stand.
    fn claimed_role(&self) -> Option<&str> {
        self.session
            .role
            .as_deref()
            .filter(|_| self.user.role_claim_counts(self.session.issued_at))
    }
}

const ADMIN: &str = "admin";

/// Fails a guard: records the error for the catcher and the outcome for the request log.
fn refuse<T>(request: &Request<'_>, error: ApiError) -> request::Outcome<T, ()> {
    // Not an admin is still signed in.
    if !matches!(&error, ApiError::Forbidden(e) if e.reason == Reason::NotAdmin) {
        record_auth(request, AuthOutcome::signed_out(error.code()));
    }
    Outcome::Error((error.record(request), ()))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = ();

    /// The request's one decision (`decision.rs`): a header token verified, or the browser's
    /// cookies decided by Clerk's rules, so that the JSON API honours `__client_uat` as pages do.
    /// A pending session is refused (`session-pending`): see [`super::AcceptPending`].
    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        session(request, false).await
    }
}

/// The request's session, a pending one too when `accept_pending` (the route said so with
/// [`super::AcceptPending`]); then Clerk's headers say signed in, as Clerk's
/// `authenticateRequest` does for a pending session.
pub(super) async fn session(
    request: &Request<'_>,
    accept_pending: bool,
) -> request::Outcome<Session, ()> {
    let Some(clerk) = request.guard::<&State<Clerk>>().await.succeeded() else {
        return refuse(
            request,
            ApiError::Internal("Clerk state is not managed".into()),
        );
    };
    let decided = decide(request, clerk).await;
    if let (true, Some(pending)) = (accept_pending, &decided.pending) {
        record_auth(request, AuthOutcome::SIGNED_IN);
        return Outcome::Success(Session(pending.clone()));
    }
    record_auth(request, AuthOutcome::of(decided.decision));
    match (decided.decision.status, &decided.session, &decided.refresh) {
        (AuthStatus::SignedIn, Some(session), _) => Outcome::Success(Session(session.clone())),
        (
            AuthStatus::Handshake,
            _,
            Some(Refresh::Handshake {
                location,
                redirect_count,
                ..
            }),
        ) => {
            let error = ApiError::Handshake {
                location: location.clone(),
                redirect_count: *redirect_count,
            };
            Outcome::Error((error.record(request), ()))
        }
        _ => Outcome::Error((ApiError::from(decided.error()).record(request), ())),
    }
}

/// The request's user ([`CurrentUser`]), of a pending session too when `accept_pending`: revoked
/// sessions and deleted or banned users are refused all the same.
pub(super) async fn current_user(
    request: &Request<'_>,
    accept_pending: bool,
) -> request::Outcome<CurrentUser, ()> {
    let Session(session) = try_outcome!(session(request, accept_pending).await);
    match user::resolve_request(request, &session).await {
        Ok(user) => Outcome::Success(CurrentUser { user, session }),
        Err(e) => refuse(request, e),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        current_user(request, false).await
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

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminWriter {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let current = try_outcome!(request.guard::<CurrentUser>().await);
        match request.rocket().state::<Clerk>() {
            Some(clerk) if current.can_write_as_admin(clerk) => {
                Outcome::Success(AdminWriter(current))
            }
            _ => refuse(request, ApiError::forbidden()),
        }
    }
}

/// The in-memory state that a change received by this instance (a webhook, an admin action) must
/// reach at once: known user rows, session revocations and organization memberships.
pub struct Caches<'r> {
    pub users: &'r KnownUsers,
    pub revocations: &'r Revocations,
    pub orgs: &'r OrgStandings,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Caches<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        match (
            rocket.state::<KnownUsers>(),
            rocket.state::<Revocations>(),
            rocket.state::<OrgStandings>(),
        ) {
            (Some(users), Some(revocations), Some(orgs)) => Outcome::Success(Caches {
                users,
                revocations,
                orgs,
            }),
            _ => refuse(
                request,
                ApiError::Internal("the user caches are not managed".into()),
            ),
        }
    }
}
