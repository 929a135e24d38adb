//! The one error type of the HTTP layer, and the one place where it becomes a JSON response.
//!
//! Guards and handlers return [`ApiError`]; it answers `{"error":{"code":…,"message":…}}` with
//! its status, `WWW-Authenticate` on 401 and `Retry-After` on 503. A guard that fails records its
//! error with [`ApiError::record`], and the catchers answer with that record, so a refused
//! request gets the precise reason whichever way Rocket reaches the catcher. Internal causes are
//! logged, never sent. The OpenAPI descriptions of these answers live here too, beside the body
//! they describe. Pages turn an `ApiError` into their own HTML answer (`pages::PageError`).

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::Catcher;

use crate::clerk::handshake;
use crate::clerk::token::{AuthError, Reason};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// Not signed in, or the token was refused (401; 503 when the keys are unavailable).
    Auth(AuthError),
    /// Signed in, but refused (403): a banned user.
    Forbidden(AuthError),
    /// A request the client can fix.
    BadRequest(String),
    /// A webhook delivery that is not verifiably from Clerk, or not a Clerk event (400).
    InvalidWebhook {
        code: &'static str,
        message: String,
    },
    /// A body over a route's own limit (413).
    PayloadTooLarge(String),
    NotFound,
    /// A named thing that does not exist, with its own code (404): a JWT template, say.
    NoSuch {
        code: &'static str,
        message: String,
    },
    /// A dependency (database, Backend API) is down: retry later.
    Unavailable {
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    /// A fault of ours; the detail goes to the log only.
    Internal(String),
    /// An administrator's action refused by a rule of this app (409): acting on oneself, the
    /// last admin, a deleted user.
    Conflict {
        code: &'static str,
        message: String,
    },
    /// A browser's document request that must go through Clerk's handshake first (307).
    Handshake {
        location: String,
        redirect_count: u32,
    },
    /// Clerk's Backend API failed or refused a change (502): nothing was changed here.
    BadGateway {
        code: &'static str,
        message: String,
    },
    /// Signed in, but the session has no active organization (404).
    NoActiveOrganization,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e.reason {
            // The session may be fine; the request's origin is not (403, not a sign-in).
            Reason::OriginNotAllowed => ApiError::Forbidden(e),
            _ => ApiError::Auth(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            rocket::warn!("database unavailable: {e}");
            ApiError::Unavailable {
                code: "database-unavailable",
                message: "the database is not answering; try again shortly".into(),
                retry_after: 1,
            }
        } else {
            ApiError::Internal(format!("database: {e}"))
        }
    }
}

/// Faults that pass by themselves: the database is down, restarting, overloaded or locked by
/// another writer. Retrying later can succeed, so they are 503s, never 500s.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // SQLite: SQLITE_BUSY (5), SQLITE_LOCKED (6) and their extended codes.
            // PostgreSQL: connection exceptions (08), insufficient resources (53), operator
            // intervention such as a shutdown (57), serialization failures and deadlocks (40).
            let code = code.as_ref();
            // SQLite's codes are numbers of up to four digits; PostgreSQL's, five characters.
            let sqlite =
                code.len() < 5 && code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6));
            let postgres = code.len() == 5
                && ["08", "53", "57", "40"]
                    .iter()
                    .any(|class| code.starts_with(class));
            sqlite || postgres
        }),
        _ => false,
    }
}

/// The body of every JSON error: `{"error":{"code":…,"message":…}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    #[schema(inline)]
    pub error: ErrorDetail<'a>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// A reason code (`token-expired`, `forbidden`, …); see the README's troubleshooting table.
    pub code: &'a str,
    /// What went wrong, for people; never a secret.
    pub message: &'a str,
}

/// What a failed guard left for the catcher.
struct Recorded(Option<ApiError>);

impl ApiError {
    pub fn status(&self) -> Status {
        match self {
            ApiError::Auth(e) if e.retry_after.is_some() => Status::ServiceUnavailable,
            ApiError::Auth(_) | ApiError::Handshake { .. } => Status::Unauthorized,
            ApiError::Forbidden(_) => Status::Forbidden,
            ApiError::BadRequest(_) | ApiError::InvalidWebhook { .. } => Status::BadRequest,
            ApiError::PayloadTooLarge(_) => Status::PayloadTooLarge,
            ApiError::NotFound | ApiError::NoSuch { .. } | ApiError::NoActiveOrganization => {
                Status::NotFound
            }
            ApiError::Unavailable { .. } => Status::ServiceUnavailable,
            ApiError::Internal(_) => Status::InternalServerError,
            ApiError::Conflict { .. } => Status::Conflict,
            ApiError::BadGateway { .. } => Status::BadGateway,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) | ApiError::Forbidden(e) => e.reason.code(),
            ApiError::BadRequest(_) => "bad-request",
            ApiError::InvalidWebhook { code, .. }
            | ApiError::Unavailable { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::NoSuch { code, .. }
            | ApiError::BadGateway { code, .. } => code,
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::NotFound => "not-found",
            ApiError::Internal(_) => "internal-error",
            ApiError::NoActiveOrganization => "no-active-organization",
            ApiError::Handshake { .. } => "handshake",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::Auth(e) | ApiError::Forbidden(e) => &e.message,
            ApiError::BadRequest(m) | ApiError::PayloadTooLarge(m) => m,
            ApiError::InvalidWebhook { message, .. }
            | ApiError::Unavailable { message, .. }
            | ApiError::Conflict { message, .. }
            | ApiError::NoSuch { message, .. }
            | ApiError::BadGateway { message, .. } => message,
            ApiError::NotFound => "no such resource",
            ApiError::Handshake { .. } => "the session is refreshed through Clerk first",
            ApiError::Internal(_) => "the server failed to handle this request",
            ApiError::NoActiveOrganization => {
                "the session has no active organization (choose one with Clerk's organization \
                 switcher)"
            }
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Auth(e) => e.retry_after,
            ApiError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// 403 for a signed-in user without the admin role.
    pub fn forbidden() -> ApiError {
        ApiError::Forbidden(AuthError::new(
            Reason::NotAdmin,
            "this needs an administrator",
        ))
    }

    /// The error a failed guard recorded for this request, if any.
    pub fn recorded(request: &Request<'_>) -> Option<ApiError> {
        request.local_cache(|| Recorded(None)).0.clone()
    }

    /// Whether the token itself was refused (missing, malformed, expired, …), as opposed to a
    /// valid session whose user cannot be served (deleted, banned, revoked, no email).
    pub fn is_token_problem(&self) -> bool {
        matches!(self, ApiError::Auth(e) if !matches!(
            e.reason,
            Reason::UserDeleted | Reason::SessionRevoked | Reason::EmailClaimMissing | Reason::UserNotFound
        ) && e.retry_after.is_none())
    }

    /// Keeps this error for the catcher of the request; the first one recorded wins.
    pub fn record(self, request: &Request<'_>) -> Status {
        let status = self.status();
        request.local_cache(|| Recorded(Some(self)));
        status
    }

    /// The error a guard recorded, else a generic one for `status`.
    pub fn for_catcher(status: Status, request: &Request<'_>) -> ApiError {
        if let Recorded(Some(e)) = request.local_cache(|| Recorded(None)) {
            return e.clone();
        }
        match status.code {
            401 => AuthError::new(
                Reason::SessionTokenMissing,
                "sign in: send Authorization: Bearer <session token>",
            )
            .into(),
            404 => ApiError::NotFound,
            500..=599 => ApiError::Internal(format!("status {status}")),
            _ => ApiError::BadRequest(format!(
                "the request could not be handled ({})",
                status.reason_lossy()
            )),
        }
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        if let ApiError::Internal(detail) = &self {
            rocket::error!("{} {}: {detail}", request.method(), request.uri().path());
        }
        if let ApiError::Handshake {
            location,
            redirect_count,
        } = self
        {
            return Response::build()
                .status(Status::TemporaryRedirect)
                .raw_header("Location", location)
                .raw_header("Cache-Control", "no-store")
                .raw_header(
                    "Set-Cookie",
                    handshake::redirect_count_cookie(redirect_count + 1, 2),
                )
                .ok();
        }
        let status = self.status();
        // Bad requests keep their own status (400, 413, 422…) when they come from a catcher.
        let body = rocket::serde::json::serde_json::to_string(&ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.message(),
            },
        })
        .unwrap_or_default();
        let mut response = Response::build();
        response
            .status(status)
            .header(ContentType::JSON)
            .sized_body(body.len(), std::io::Cursor::new(body));
        if status == Status::Unauthorized {
            response.header(Header::new("WWW-Authenticate", www_authenticate(&self)));
        }
        if let Some(secs) = self.retry_after() {
            response.header(Header::new("Retry-After", secs.to_string()));
        }
        response.ok()
    }
}

/// RFC 6750: no `error` attribute when no token was sent at all.
fn www_authenticate(error: &ApiError) -> String {
    match error {
        ApiError::Auth(e) if e.reason == Reason::SessionTokenMissing => {
            "Bearer realm=\"clerk-rocket\"".into()
        }
        _ => {
            let description: String = error
                .message()
                .chars()
                .filter(|c| *c != '"' && *c != '\\')
                .collect();
            // Printable ASCII only, whatever a message came to hold: a control byte would make
            // the response impossible to build (the client would get an empty reply).
            let description = crate::echo::header_safe(&description);
            format!(
                "Bearer realm=\"clerk-rocket\", error=\"invalid_token\", error_description=\"{} ({description})\"",
                error.code()
            )
        }
    }
}

#[rocket::catch(default)]
fn json_catcher(status: Status, request: &Request<'_>) -> (Status, ApiError) {
    let error = ApiError::for_catcher(status, request);
    let status = match &error {
        ApiError::BadRequest(_) => status,
        ApiError::Handshake { .. } => Status::TemporaryRedirect,
        e => e.status(),
    };
    (status, error)
}

/// The JSON catchers (every status), for `/api`.
pub fn json_catchers() -> Vec<Catcher> {
    rocket::catchers![json_catcher]
}

/// The refusals every signed-in route may answer with.
#[derive(utoipa::IntoResponses)]
// NOTE: never built: the variants describe ApiError's answers for the document only.
#[allow(dead_code)]
pub enum AuthErrors {
    /// A browser's document request (`Sec-Fetch-Dest: document`) signed in by cookies that must go
    /// through Clerk's handshake first: `Location` is the frontend API's handshake URL, and
    /// `x-clerk-auth-status: handshake` with `x-clerk-auth-reason` say why (never for a fetch or
    /// an `Authorization` header).
    #[response(status = 307)]
    Handshake,
    /// Not signed in, or the token was refused; `WWW-Authenticate` and the body name the reason
    /// (`session-token-missing`, `token-expired`, `session-token-but-no-client-uat`,
    /// `user-deleted`, `session-revoked`, …); `x-clerk-auth-reason` carries Clerk's request
    /// reason (`session-token-expired-refresh-non-eligible-no-refresh-cookie`, …). A pending
    /// session (`sts: "pending"`, a session task left) is `session-pending`, except on routes
    /// that accept pending sessions (`/api/whoami`); its user finishes the task at
    /// `/sign-in/tasks`.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody<'static>),
    /// Signed in, but refused: a banned user (`user-banned`) or, on admin routes, not an admin
    /// (`forbidden`).
    #[response(status = 403)]
    Forbidden(#[to_schema] ErrorBody<'static>),
    /// The signing keys, the database or Clerk's Backend API are unavailable; see `Retry-After`.
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody<'static>),
}

/// The refusals of an administrator's action on a user.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ActionErrors {
    /// No such user (`not-found`).
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody<'static>),
    /// Refused by a rule: `cannot-act-on-self` (including any change of one's own role),
    /// `last-admin`, `target-deleted`.
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorBody<'static>),
    /// Clerk's Backend API failed, timed out, refused the change or this server's budget of
    /// calls is spent (`clerk-backend-api-error`, `clerk-user-not-found`): nothing changed here;
    /// or Clerk ended some of the user's sessions, then failed (`sessions-partly-ended`): those
    /// are ended here too. (A `503` is `local-write-failed` when Clerk made the change and this
    /// server's database failed to record it, or `backend-api-not-configured`.)
    #[response(status = 502)]
    BadGateway(#[to_schema] ErrorBody<'static>),
}

/// A bad parameter (`bad-request`, with a message naming it).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BadRequest {
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody<'static>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::too_many_lines, reason = "one row per variant")]
    fn every_variant_has_its_status_and_code() {
        let auth = |reason| AuthError::new(reason, "m");
        let unavailable_keys = AuthError {
            retry_after: Some(7),
            ..auth(Reason::JwkRemoteFailedToLoad)
        };
        let cases = [
            (
                ApiError::Auth(auth(Reason::TokenExpired)),
                401,
                "token-expired",
                None,
            ),
            (
                ApiError::Auth(unavailable_keys),
                503,
                "jwk-remote-failed-to-load",
                Some(7),
            ),
            (
                ApiError::Forbidden(auth(Reason::UserBanned)),
                403,
                "user-banned",
                None,
            ),
            (ApiError::forbidden(), 403, "forbidden", None),
            (
                ApiError::from(auth(Reason::OriginNotAllowed)),
                403,
                "origin-not-allowed",
                None,
            ),
            (ApiError::BadRequest("b".into()), 400, "bad-request", None),
            (
                ApiError::InvalidWebhook {
                    code: "webhook-signature-invalid",
                    message: "m".into(),
                },
                400,
                "webhook-signature-invalid",
                None,
            ),
            (
                ApiError::PayloadTooLarge("p".into()),
                413,
                "payload-too-large",
                None,
            ),
            (ApiError::NotFound, 404, "not-found", None),
            (
                ApiError::NoSuch {
                    code: "jwt-template-not-found",
                    message: "m".into(),
                },
                404,
                "jwt-template-not-found",
                None,
            ),
            (
                ApiError::Unavailable {
                    code: "database-unavailable",
                    message: "m".into(),
                    retry_after: 1,
                },
                503,
                "database-unavailable",
                Some(1),
            ),
            (
                ApiError::Internal("secret detail".into()),
                500,
                "internal-error",
                None,
            ),
            (
                ApiError::Conflict {
                    code: "last-admin",
                    message: "m".into(),
                },
                409,
                "last-admin",
                None,
            ),
            (
                ApiError::BadGateway {
                    code: "clerk-backend-api-error",
                    message: "m".into(),
                },
                502,
                "clerk-backend-api-error",
                None,
            ),
            (
                ApiError::NoActiveOrganization,
                404,
                "no-active-organization",
                None,
            ),
            (
                ApiError::Forbidden(auth(Reason::MissingPermission)),
                403,
                "missing-permission",
                None,
            ),
        ];
        for (error, status, code, retry_after) in cases {
            assert_eq!(error.status().code, status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.retry_after(), retry_after, "{error:?}");
        }
        assert!(!ApiError::Internal("secret detail".into())
            .message()
            .contains("secret"));
    }

    #[test]
    fn database_faults_that_pass_are_503_and_others_500() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(
            std::io::ErrorKind::ConnectionRefused.into()
        )));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }

    #[test]
    fn database_faults_are_503_and_others_500() {
        assert_eq!(ApiError::from(sqlx::Error::PoolTimedOut).status().code, 503);
        assert_eq!(ApiError::from(sqlx::Error::PoolClosed).status().code, 503);
        assert_eq!(ApiError::from(sqlx::Error::RowNotFound).status().code, 500);
    }

    #[test]
    fn www_authenticate_names_the_error_only_when_a_token_was_sent() {
        let missing = ApiError::Auth(AuthError::new(Reason::SessionTokenMissing, "m"));
        assert_eq!(www_authenticate(&missing), "Bearer realm=\"clerk-rocket\"");
        let expired = ApiError::Auth(AuthError::new(Reason::TokenExpired, "say \"hi\""));
        let header = www_authenticate(&expired);
        assert!(header.contains("error=\"invalid_token\""), "{header}");
        assert!(header.contains("token-expired (say hi)"), "{header}");
        let forged = ApiError::Auth(AuthError::new(Reason::TokenInvalid, "a\r\nSet-Cookie: x"));
        let header = www_authenticate(&forged);
        assert!(header.contains("(a??Set-Cookie: x)"), "{header}");
    }
}
