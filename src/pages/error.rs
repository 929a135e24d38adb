//! What a page answers instead of itself: a redirect to sign in (or to the task page, for a
//! pending session), a session refresh (handshake or
//! interstitial), or a themed HTML error page; and the HTML catchers for every path outside
//! `/api`.

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder, Response};
use rocket::Catcher;
use rocket_dyn_templates::{context, Template};

use super::layout::Layout;
use super::redirect::{encode, safe_path};
use crate::auth::{Denied, Refresh};
use crate::clerk::handshake;
use crate::clerk::session_tasks::TASKS_PATH;
use crate::clerk::Clerk;
use crate::error::ApiError;

pub type PageResult<T> = Result<T, PageError>;

/// What a page answers instead of itself.
#[derive(Debug)]
pub enum PageError {
    /// Signed out: 303 to `/sign-in?redirect_url=<the path asked for>`.
    SignIn {
        return_to: String,
    },
    /// The session is pending (a session task is left): 303 to
    /// `/sign-in/tasks?redirect_url=<the path asked for>`, where Clerk's SDKs send such users.
    Tasks {
        return_to: String,
    },
    /// Signed in at Clerk but this request's token needs refreshing first.
    Refresh(Refresh),
    /// Signed in, without the right (403 page).
    Forbidden,
    /// A request refused for where it comes from (403 page naming why): a cross-site post.
    NotAllowed(String),
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
                let target = safe_path(&return_to);
                let location = format!("/sign-in?redirect_url={}", encode(&target));
                Response::build_from(Redirect::to(location).respond_to(request)?)
                    .raw_header("Cache-Control", "no-store")
                    .ok()
            }
            PageError::Tasks { return_to } => {
                let target = safe_path(&return_to);
                let location = format!("{TASKS_PATH}?redirect_url={}", encode(&target));
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
                .raw_header(
                    "Set-Cookie",
                    handshake::redirect_count_cookie(redirect_count + 1, 2),
                )
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
                    .raw_header(
                        "Set-Cookie",
                        handshake::redirect_count_cookie(redirect_count + 1, 30),
                    )
                    .ok()
            }
            PageError::Forbidden => html_page(
                request,
                Status::Forbidden,
                "error",
                "Not allowed",
                "You are signed in, but this page is for administrators.",
            ),
            PageError::NotAllowed(message) => {
                html_page(request, Status::Forbidden, "error", "Not allowed", &message)
            }
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

impl From<Denied> for PageError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::SignIn { return_to } => PageError::SignIn { return_to },
            Denied::Tasks { return_to } => PageError::Tasks { return_to },
            Denied::Refresh(refresh) => PageError::Refresh(refresh),
            Denied::Forbidden => PageError::Forbidden,
            Denied::Refused(error) => PageError::Refused(error),
        }
    }
}

/// A JSON-layer error met while building a page: the same meaning, as a page.
impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::NotFound => PageError::NotFound,
            ApiError::BadRequest(message) => PageError::BadRequest(message),
            other => PageError::Refused(other),
        }
    }
}

impl From<sqlx::Error> for PageError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::from(error).into()
    }
}
