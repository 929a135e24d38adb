//! The one error type of the HTTP layer, and the one place where errors become responses.
//!
//! Guards and handlers return [`ApiError`]; it answers `{"error":{"code":…,"message":…}}` with
//! its status, `WWW-Authenticate` on 401 and `Retry-After` on 503. A guard that fails records its
//! error with [`ApiError::record`], and the catchers answer with that record, so a refused
//! request gets the precise reason whichever way Rocket reaches the catcher. Internal causes are
//! logged, never sent. Pages answer [`PageError`] instead: a redirect to sign in, a session
//! refresh (handshake or interstitial), or a themed HTML page; the HTML catchers serve every path
//! outside `/api`.

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::Catcher;

use rocket::response::Redirect;
use rocket_dyn_templates::{context, Template};

use crate::auth::Refresh;
use crate::clerk::handshake;
use crate::clerk::token::{AuthError, Reason};
use crate::clerk::Clerk;
use crate::pages::Layout;

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
    /// A dependency (database, Backend API) is down: retry later.
    Unavailable {
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    /// A fault of ours; the detail goes to the log only.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                ApiError::Unavailable {
                    code: "database-unavailable",
                    message: "the database is not answering; try again shortly".into(),
                    retry_after: 1,
                }
            }
            other => ApiError::Internal(format!("database: {other}")),
        }
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
            ApiError::Auth(_) => Status::Unauthorized,
            ApiError::Forbidden(_) => Status::Forbidden,
            ApiError::BadRequest(_) | ApiError::InvalidWebhook { .. } => Status::BadRequest,
            ApiError::PayloadTooLarge(_) => Status::PayloadTooLarge,
            ApiError::NotFound => Status::NotFound,
            ApiError::Unavailable { .. } => Status::ServiceUnavailable,
            ApiError::Internal(_) => Status::InternalServerError,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) | ApiError::Forbidden(e) => e.reason.code(),
            ApiError::BadRequest(_) => "bad-request",
            ApiError::InvalidWebhook { code, .. } => code,
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::NotFound => "not-found",
            ApiError::Unavailable { code, .. } => code,
            ApiError::Internal(_) => "internal-error",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::Auth(e) | ApiError::Forbidden(e) => &e.message,
            ApiError::BadRequest(m) | ApiError::PayloadTooLarge(m) => m,
            ApiError::InvalidWebhook { message, .. } => message,
            ApiError::NotFound => "no such resource",
            ApiError::Unavailable { message, .. } => message,
            ApiError::Internal(_) => "the server failed to handle this request",
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
        e => e.status(),
    };
    (status, error)
}

/// The JSON catchers (every status), for `/api`.
pub fn json_catchers() -> Vec<Catcher> {
    rocket::catchers![json_catcher]
}

/// What a page answers instead of itself.
#[derive(Debug)]
pub enum PageError {
    /// Signed out: 303 to `/sign-in?redirect_url=<the path asked for>`.
    SignIn {
        return_to: String,
    },
    /// Signed in at Clerk but this request's token needs refreshing first.
    Refresh(Refresh),
    /// Signed in, without the right (403 page).
    Forbidden,
    /// A parameter the visitor can fix (400 page).
    BadRequest(String),
    NotFound,
    /// The session verified but the request cannot be served: an error page with the reason.
    Refused(ApiError),
}

impl<'r> Responder<'r, 'static> for PageError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match self {
            PageError::SignIn { return_to } => {
                let target = crate::pages::redirect::safe_path(&return_to);
                let location = format!("/sign-in?redirect_url={}", crate::pages::encode(&target));
                Response::build_from(Redirect::to(location).respond_to(request)?)
                    .raw_header("Cache-Control", "no-store")
                    .ok()
            }
            PageError::Refresh(Refresh::Handshake {
                location,
                redirect_count,
                ..
            }) => Response::build()
                .status(Status::TemporaryRedirect)
                .raw_header("Location", location)
                .raw_header("Cache-Control", "no-store")
                .raw_header("Set-Cookie", redirect_count_cookie(redirect_count + 1, 2))
                .ok(),
            PageError::Refresh(Refresh::Reload { location }) => Response::build()
                .status(Status::TemporaryRedirect)
                .raw_header("Location", location)
                .raw_header("Cache-Control", "no-store")
                .ok(),
            PageError::Refresh(Refresh::Interstitial { redirect_count, .. }) => {
                let page = html_page(
                    request,
                    Status::Unauthorized,
                    "interstitial",
                    "Refreshing your session",
                    "",
                )?;
                Response::build_from(page)
                    .raw_header("Cache-Control", "no-store")
                    // Long enough for ClerkJS to load and reload the page once.
                    .raw_header("Set-Cookie", redirect_count_cookie(redirect_count + 1, 30))
                    .ok()
            }
            PageError::Forbidden => html_page(
                request,
                Status::Forbidden,
                "error",
                "Not allowed",
                "You are signed in, but this page is for administrators.",
            ),
            PageError::BadRequest(message) => html_page(
                request,
                Status::BadRequest,
                "error",
                "Bad request",
                &message,
            ),
            PageError::NotFound => html_page(
                request,
                Status::NotFound,
                "error",
                "Not found",
                "There is no page here.",
            ),
            PageError::Refused(error) => {
                if let ApiError::Internal(detail) = &error {
                    rocket::error!("{} {}: {detail}", request.method(), request.uri().path());
                }
                let status = if error.status() == Status::Unauthorized {
                    Status::Forbidden
                } else {
                    error.status()
                };
                let message = format!("{} ({})", error.message(), error.code());
                html_page(
                    request,
                    status,
                    "error",
                    "Your session cannot be used here",
                    &message,
                )
            }
        }
    }
}

fn redirect_count_cookie(count: u32, max_age: u32) -> String {
    format!(
        "{}={count}; Path=/; SameSite=Lax; HttpOnly; Max-Age={max_age}",
        handshake::REDIRECT_COUNT_COOKIE
    )
}

/// A themed HTML page for `status`, with the layout (banner, styles) of every page.
fn html_page(
    request: &Request<'_>,
    status: Status,
    template: &'static str,
    title: &str,
    message: &str,
) -> response::Result<'static> {
    let layout = request
        .rocket()
        .state::<Clerk>()
        .map(|clerk| Layout::new(clerk, None));
    let page = Template::render(
        template,
        context! { layout, status: status.code, title, message },
    );
    Response::build_from(page.respond_to(request)?)
        .status(status)
        .raw_header("Cache-Control", "no-store")
        .ok()
}

/// The themed error page of a status, as the HTML catcher answers.
struct StatusPage(Status);

impl<'r> Responder<'r, 'static> for StatusPage {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let (title, message) = match self.0.code {
            404 => ("Not found", "There is no page here."),
            403 => ("Not allowed", "You do not have access to this page."),
            400..=499 => ("Bad request", "The request could not be understood."),
            _ => (
                "Something went wrong",
                "The server failed to handle this request. Please try again.",
            ),
        };
        html_page(request, self.0, "error", title, message)
    }
}

#[rocket::catch(default)]
fn html_catcher(status: Status, _request: &Request<'_>) -> StatusPage {
    StatusPage(status)
}

/// The HTML catchers, for every path outside `/api`.
pub fn html_catchers() -> Vec<Catcher> {
    rocket::catchers![html_catcher]
}
