//! What happens to each request: an `x-request-id`, Clerk's `x-clerk-auth-status` and
//! `x-clerk-auth-reason` headers, the latency histogram, and one access line (never a token, never
//! a query string: it may carry a handshake nonce).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};
use serde_json::json;

use super::logger::{self, Format};
use super::{AuthOutcome, Metrics};

/// Request ids longer than this, or with other characters than [`valid_request_id`] allows, are
/// replaced.
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

/// Whether a client's `x-request-id` is kept (else a new one is made): 1 to 128 letters, digits
/// and `-_.:+/=@`, the characters of UUIDs, trace ids and base64. Nothing a header, a log line,
/// a page or the audit trail could take for markup, quoting or a separator; the audit trail
/// checks it again before storing one.
pub fn valid_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(&b))
}

/// Where new request ids come from: a random key drawn once per process, and a counter.
struct IdSource {
    prefix: u32,
    key: u64,
    counter: AtomicU64,
}

static IDS: OnceLock<IdSource> = OnceLock::new();

/// A new request id: 24 hex digits, the process's random prefix and the next count mixed with
/// its key through SplitMix64's finalizer (a bijection, so no id repeats within a process, and
/// two processes differ by their random keys). Ids must be unique, not secret: drawing 12
/// random bytes per request (RDRAND and a DRBG) cost more than all the rest of the request log
/// (`perf`, bench/README.md).
fn new_request_id() -> String {
    let ids = IDS.get_or_init(|| {
        let mut seed = [0u8; 12];
        let _ = aws_lc_rs::rand::fill(&mut seed);
        let (prefix, key) = seed.split_at(4);
        IdSource {
            prefix: u32::from_le_bytes(prefix.try_into().unwrap_or_default()),
            key: u64::from_le_bytes(key.try_into().unwrap_or_default()),
            counter: AtomicU64::new(0),
        }
    });
    let count = ids.counter.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&ids.prefix.to_be_bytes());
    bytes[4..].copy_from_slice(&mix(count ^ ids.key).to_be_bytes());
    crate::clerk::local::hex(&bytes)
}

/// SplitMix64's finalizer: a bijection of `u64` that spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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
            .filter(|id| valid_request_id(id))
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
            response.set_header(Header::new("x-clerk-auth-status", outcome.status.as_str()));
            if let Some(reason) = outcome.reason {
                response.set_header(Header::new("x-clerk-auth-reason", reason));
            }
        }
        let elapsed = state.started.elapsed();
        let status = response.status().code;
        if let Some(metrics) = request.rocket().state::<Metrics>() {
            metrics.observe(request.method(), request.route(), status, elapsed, outcome);
        }
        let config = request.rocket().config();
        if config.log_level == rocket::config::LogLevel::Off {
            return;
        }
        let (auth, reason) =
            outcome.map_or(("-", "-"), |o| (o.status.as_str(), o.reason.unwrap_or("-")));
        // Tenths of a millisecond, rounded, in integers (float formatting showed in `perf`).
        let tenths = (elapsed.as_micros() + 50) / 100;
        match logger::format() {
            Format::Text => logger::write_fmt_line(format_args!(
                "{} {} {status} {}.{}ms auth={auth} reason={reason} request_id={}",
                request.method(),
                crate::echo::header_safe(request.uri().path().as_str()),
                tenths / 10,
                tenths % 10,
                state.id
            )),
            Format::Json => logger::write_line(
                &json!({
                    "ts": logger::rfc3339_now(),
                    "method": request.method().as_str(),
                    "path": crate::echo::header_safe(request.uri().path().as_str()),
                    "status": status,
                    "ms": f64::from(u32::try_from(tenths).unwrap_or(u32::MAX)) / 10.0,
                    "auth": outcome.map(|o| o.status.as_str()),
                    "reason": outcome.and_then(|o| o.reason),
                    "request_id": state.id,
                })
                .to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn request_ids_are_24_hex_digits_and_never_repeat() {
        let ids: HashSet<String> = (0..50_000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 50_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.len(), 24, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        // One process's ids share its prefix; the rest looks nothing like a counter.
        let (a, b) = (new_request_id(), new_request_id());
        assert_eq!(a[..8], b[..8]);
        assert_ne!(a[8..16], b[8..16]);
        assert_eq!(
            crate::clerk::local::hex(&[0x00, 0x0f, 0xa5, 0xff]),
            "000fa5ff"
        );
    }
}
