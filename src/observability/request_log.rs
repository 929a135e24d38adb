//! What happens to each request: an `x-request-id`, Clerk's `x-clerk-auth-status` and
//! `x-clerk-auth-reason` headers, the latency histogram, and one access line (never a token, never
//! a query string: it may carry a handshake nonce).

use std::sync::Mutex;
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};
use serde_json::json;

use super::logger::{self, Format};
use super::{AuthOutcome, Metrics};

/// Request ids longer than this, or with other than visible ASCII, are replaced.
const MAX_REQUEST_ID: usize = 128;

struct RequestState {
    id: String,
    started: Instant,
    outcome: Mutex<Option<AuthOutcome>>,
}

impl RequestState {
    fn new(id: String) -> Self {
        RequestState {
            id,
            started: Instant::now(),
            outcome: Mutex::new(None),
        }
    }
}

/// Records how the request was authenticated; the last word wins (a user guard after the token).
pub fn record_auth(request: &Request<'_>, outcome: AuthOutcome) {
    let state = request.local_cache(|| RequestState::new(String::new()));
    *state
        .outcome
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
}

/// The request's id, as its answer's `x-request-id` says it.
pub fn request_id(request: &Request<'_>) -> String {
    request
        .local_cache(|| RequestState::new(new_request_id()))
        .id
        .clone()
}

/// The request's id, as a request guard (never fails).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for RequestId {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(RequestId(request_id(request)))
    }
}

/// Writes one line to standard output, unless logging is off (`log_level = "off"`, as in tests).
/// Rocket's own per-request logging is several lines long and shows query strings, so
/// Rocket.toml sets `log_level = "critical"` (warnings and errors only) and this line replaces it.
pub fn log_line(config: &rocket::Config, line: &str) {
    if config.log_level != rocket::config::LogLevel::Off {
        logger::write_line(&logger::message(log::Level::Info, "clerk_rocket", line));
    }
}

/// The request id, the auth headers, the access line and the latency histogram.
pub struct RequestLog;

fn acceptable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    crate::clerk::local::hex(&bytes)
}

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "Request log",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let id = request
            .headers()
            .get_one("x-request-id")
            .filter(|id| acceptable_id(id))
            .map(str::to_owned);
        request.local_cache(|| RequestState::new(id.unwrap_or_else(new_request_id)));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let state = request.local_cache(|| RequestState::new(new_request_id()));
        let outcome = *state
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        response.set_header(Header::new("x-request-id", state.id.clone()));
        if let Some(outcome) = outcome {
            response.set_header(Header::new("x-clerk-auth-status", outcome.status));
            if let Some(reason) = outcome.reason {
                response.set_header(Header::new("x-clerk-auth-reason", reason));
            }
        }
        let elapsed = state.started.elapsed();
        let status = response.status().code;
        let route = request.route().map_or("unmatched", |r| r.uri.as_str());
        if let Some(metrics) = request.rocket().state::<Metrics>() {
            metrics.observe(request.method().as_str(), route, status, elapsed, outcome);
        }
        let config = request.rocket().config();
        if config.log_level == rocket::config::LogLevel::Off {
            return;
        }
        let (auth, reason) = outcome.map_or(("-", "-"), |o| (o.status, o.reason.unwrap_or("-")));
        let millis = elapsed.as_secs_f64() * 1000.0;
        let line = match logger::format() {
            Format::Text => format!(
                "{} {} {status} {millis:.1}ms auth={auth} reason={reason} request_id={}",
                request.method(),
                request.uri().path(),
                state.id
            ),
            Format::Json => json!({
                "ts": logger::rfc3339_now(),
                "method": request.method().as_str(),
                "path": request.uri().path().as_str(),
                "status": status,
                "ms": (millis * 10.0).round() / 10.0,
                "auth": outcome.map(|o| o.status),
                "reason": outcome.and_then(|o| o.reason),
                "request_id": state.id,
            })
            .to_string(),
        };
        logger::write_line(&line);
    }
}
