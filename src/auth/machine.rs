//! [`Auth<A>`]: a request guard that says in the route's signature which token types the route
//! accepts, and [`Authorized<R, A>`]: one that also says what the caller must hold.
//!
//! ```ignore
//! #[get("/whoami")]
//! fn whoami(auth: Auth<Any>) -> … // session, M2M, OAuth or API key
//! #[get("/reports")]
//! fn reports(auth: Authorized<CanReadReports>) -> … // a session with org:reports:read
//! ```
//!
//! Fail-closed: a token of a type the route does not accept is refused with
//! `token-type-mismatch` (401), and machine tokens are read from the `Authorization` header only,
//! never from a cookie. Sessions go through [`super::CurrentUser`], so revoked sessions and deleted or
//! banned users are refused here as everywhere, and a session's warm path stays what it was. An
//! API key or OAuth access token acting for a user is refused as that user's session would be.
//! A session's active organization is checked against the stored memberships: one that ended
//! in Clerk grants nothing here, whatever the token claims (`org_standing.rs`). A pending
//! session is refused (`session-pending`) unless the second parameter is
//! [`AcceptPending`] (`pending.rs`).

use std::marker::PhantomData;
use std::sync::Arc;

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket_db_pools::Database as _;

use super::guards::current_user;
use super::known_users::KnownUsers;
use super::org_standing::OrgStandings;
use super::pending::{Pending, PendingIsSignedOut};
use super::requirement::{missing, Requirement};
use super::source::TokenSource;
use crate::clerk::auth_object::AuthObject;
use crate::clerk::machine::{classify, opaque_type, MachineToken, TokenType};
use crate::clerk::token::{AuthError, Check, Missing, Reason, SessionClaims};
use crate::clerk::Clerk;
use crate::db::users::User;
use crate::db::{api_keys, Db};
use crate::error::ApiError;
use crate::observability::{record_auth, AuthOutcome};

/// The token types a route accepts: a marker type for [`Auth`].
pub trait Accepts: Send + Sync + 'static {
    const TYPES: &'static [TokenType];
}

/// Session tokens only: what every route without a marker accepts.
pub struct SessionOnly;
/// M2M tokens only (machines).
pub struct MachineOnly;
/// OAuth access tokens only.
pub struct OAuthOnly;
/// API keys only.
pub struct ApiKeyOnly;
/// Every type: sessions, M2M tokens, OAuth access tokens and API keys.
pub struct Any;

impl Accepts for SessionOnly {
    const TYPES: &'static [TokenType] = &[TokenType::SessionToken];
}
impl Accepts for MachineOnly {
    const TYPES: &'static [TokenType] = &[TokenType::M2mToken];
}
impl Accepts for OAuthOnly {
    const TYPES: &'static [TokenType] = &[TokenType::OAuthToken];
}
impl Accepts for ApiKeyOnly {
    const TYPES: &'static [TokenType] = &[TokenType::ApiKey];
}
impl Accepts for Any {
    const TYPES: &'static [TokenType] = &[
        TokenType::SessionToken,
        TokenType::M2mToken,
        TokenType::OAuthToken,
        TokenType::ApiKey,
    ];
}

/// An authenticated request, by a token of a type `A` accepts; a pending session only when `P`
/// is [`super::AcceptPending`].
pub struct Auth<A: Accepts = SessionOnly, P: Pending = PendingIsSignedOut> {
    pub object: AuthObject,
    /// The local user row, for sessions.
    pub user: Option<Arc<User>>,
    /// The name of the session's active organization, when it is stored here.
    pub org_name: Option<String>,
    /// The stored membership's system permissions (`org_access.rs`).
    system_permissions: Vec<String>,
    accepts: PhantomData<(A, P)>,
}

impl<A: Accepts, P: Pending> Auth<A, P> {
    fn new(object: AuthObject, user: Option<Arc<User>>) -> Self {
        Auth {
            object,
            user,
            org_name: None,
            system_permissions: Vec::new(),
            accepts: PhantomData,
        }
    }

    /// Clerk's `has()`, where a system permission may come from the stored membership
    /// (`org_access.rs`); machine tokens never have anything.
    pub fn evaluate(&self, check: &Check<'_>) -> Result<(), Missing> {
        match &self.object {
            AuthObject::Session(claims) => {
                super::org_access::evaluate_with_system(claims, &self.system_permissions, check)
            }
            AuthObject::Machine(_) => self.object.evaluate(check),
        }
    }
}

/// A session's claims as this request is served with them: its active organization checked
/// against the stored memberships (see [`super::OrgStanding::apply`]), the organization's name,
/// and the stored system permissions (`org_access.rs`).
async fn with_org_standing(
    request: &Request<'_>,
    session: &Arc<SessionClaims>,
) -> Result<super::OrgAccess, ApiError> {
    let rocket = request.rocket();
    let (Some(db), Some(standings)) = (Db::fetch(rocket), rocket.state::<OrgStandings>()) else {
        return Err(ApiError::Internal(
            "the database or organization state is not managed".into(),
        ));
    };
    Ok(super::org_access(db, standings, session).await?)
}

fn mismatch(found: TokenType, accepted: &[TokenType]) -> ApiError {
    let names: Vec<&str> = accepted.iter().map(|t| t.name()).collect();
    AuthError::new(
        Reason::TokenTypeMismatch,
        format!(
            "this route accepts {}, not a {}",
            names.join(" or "),
            found.name()
        ),
    )
    .into()
}

/// How the request is authenticated: as a session (through [`super::CurrentUser`]), or as a machine.
enum Path {
    Session,
    Machine(Result<Arc<MachineToken>, ApiError>),
}

async fn choose_path(request: &Request<'_>, accepted: &[TokenType]) -> Path {
    let refuse = |e: ApiError| Path::Machine(Err(e));
    let Some(clerk) = request.rocket().state::<Clerk>() else {
        return refuse(ApiError::Internal("Clerk state is not managed".into()));
    };
    let accepts_session = accepted.contains(&TokenType::SessionToken);
    let token = match TokenSource::of(request, &clerk.config) {
        Err(e) => return refuse(e.into()),
        Ok(TokenSource::Header(token)) => token,
        // A cookie carries a session or nothing: the session path refuses machine tokens there.
        Ok(_) if accepts_session => return Path::Session,
        Ok(TokenSource::Cookie { token: None, .. }) => {
            return refuse(
                AuthError::new(
                    Reason::SessionTokenMissing,
                    "send Authorization: Bearer <machine token>",
                )
                .into(),
            )
        }
        Ok(TokenSource::Cookie { .. }) => return refuse(
            AuthError::new(
                Reason::TokenTypeMismatch,
                "machine tokens are read from the Authorization header only, never from a cookie",
            )
            .into(),
        ),
    };
    let kind = match opaque_type(token) {
        Some(kind) => kind,
        // The session verifier answers from its verdict cache on a warm request; only a token
        // it calls another type's is read again to tell which.
        None if accepts_session => match clerk.verifier.verify(token).await {
            Err(e) if e.reason == Reason::TokenTypeMismatch => classify(token),
            _ => return Path::Session,
        },
        None => classify(token),
    };
    if !accepted.contains(&kind) {
        return refuse(mismatch(kind, accepted));
    }
    let verified = match kind {
        TokenType::SessionToken => return Path::Session,
        TokenType::ApiKey if clerk.local.is_some() => local_api_key(request, token).await,
        _ => clerk
            .machines
            .verify(
                &clerk.verifier,
                token,
                kind,
                super::client::client_ip(request, &clerk.config.trusted_proxies),
            )
            .await
            .map_err(ApiError::from),
    };
    Path::Machine(match verified {
        Ok(token) => admit_acting_user(request, token).await,
        Err(e) => Err(e),
    })
}

/// A credential acting for a user is refused when that user's session would be: deleted or
/// banned here (see [`super::user::admit_acting_user`]). Machines and organizations have no row.
async fn admit_acting_user(
    request: &Request<'_>,
    token: Arc<MachineToken>,
) -> Result<Arc<MachineToken>, ApiError> {
    let Some(user_id) = token.user_id() else {
        return Ok(token);
    };
    let rocket = request.rocket();
    let (Some(db), Some(known)) = (Db::fetch(rocket), rocket.state::<KnownUsers>()) else {
        return Err(ApiError::Internal(
            "the database or user state is not managed".into(),
        ));
    };
    super::user::admit_acting_user(db, known, user_id).await?;
    Ok(token)
}

/// Local mode verifies its own API keys (`clerk-rocket api-key create`) from the database.
async fn local_api_key(request: &Request<'_>, secret: &str) -> Result<Arc<MachineToken>, ApiError> {
    crate::clerk::machine::check_shape(secret, TokenType::ApiKey)?;
    let Some(db) = Db::fetch(request.rocket()) else {
        return Err(ApiError::Internal("the database is not managed".into()));
    };
    let Some(key) = api_keys::find_by_secret(db, secret).await? else {
        return Err(AuthError::new(Reason::TokenInvalid, "API key not found").into());
    };
    let now = crate::clerk::token::now();
    if key.revoked_at.is_some() {
        return Err(AuthError::new(Reason::TokenRevoked, "the api_key was revoked").into());
    }
    if key.expires_at.is_some_and(|exp| exp <= now) {
        return Err(AuthError::new(Reason::TokenExpired, "the api_key has expired").into());
    }
    Ok(Arc::new(MachineToken {
        token_type: TokenType::ApiKey,
        subject: key.subject.clone().unwrap_or_else(|| key.key_id.clone()),
        id: Some(key.key_id),
        scopes: Vec::new(),
        claims: None,
        name: Some(key.name),
        client_id: None,
        expires_at_ms: key.expires_at.map(|exp| exp.saturating_mul(1000)),
    }))
}

#[rocket::async_trait]
impl<'r, A: Accepts, P: Pending> FromRequest<'r> for Auth<A, P> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match choose_path(request, A::TYPES).await {
            Path::Session => match current_user(request, P::ACCEPTS).await {
                Outcome::Success(current) => {
                    match with_org_standing(request, &current.session).await {
                        Ok(access) => {
                            let mut auth =
                                Auth::new(AuthObject::Session(access.claims), Some(current.user));
                            auth.org_name = access.org_name;
                            auth.system_permissions = access.system_permissions;
                            Outcome::Success(auth)
                        }
                        Err(e) => Outcome::Error((e.record(request), ())),
                    }
                }
                Outcome::Error(e) => Outcome::Error(e),
                Outcome::Forward(f) => Outcome::Forward(f),
            },
            Path::Machine(Ok(token)) => {
                record_auth(request, AuthOutcome::SIGNED_IN);
                Outcome::Success(Auth::new(AuthObject::Machine(token), None))
            }
            Path::Machine(Err(e)) => {
                record_auth(request, AuthOutcome::signed_out(e.code()));
                Outcome::Error((e.record(request), ()))
            }
        }
    }
}

/// An [`Auth<A>`] whose caller satisfies `R` (Clerk's `has()`, fail-closed). A miss is 403 with
/// `missing-role`, `missing-permission`, `missing-feature` or `missing-plan`, and a message
/// naming what is missing; a reverification miss is Clerk's own 403 body
/// (`{"clerk_error":{"type":"forbidden","reason":"reverification-error",…}}`).
pub struct Authorized<R: Requirement, A: Accepts = SessionOnly, P: Pending = PendingIsSignedOut> {
    pub auth: Auth<A, P>,
    requirement: PhantomData<R>,
}

#[rocket::async_trait]
impl<'r, R: Requirement, A: Accepts, P: Pending> FromRequest<'r> for Authorized<R, A, P> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let auth = rocket::outcome::try_outcome!(request.guard::<Auth<A, P>>().await);
        let check = R::check();
        match auth.evaluate(&check) {
            Ok(()) => Outcome::Success(Authorized {
                auth,
                requirement: PhantomData,
            }),
            Err(m) => Outcome::Error((missing(&check, m).record(request), ())),
        }
    }
}
