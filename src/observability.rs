//! What happens to each request, for people and for machines: an `x-request-id`, Clerk's
//! `x-clerk-auth-status`/`x-clerk-auth-reason` headers, one log line per request (never a token),
//! and Prometheus metrics at `/metrics`.

use std::sync::Mutex;
use std::time::Instant;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{Data, Request, Response, Route, State};

use crate::clerk::Clerk;
use crate::db::Db;

/// Request ids longer than this, or with other than visible ASCII, are replaced.
const MAX_REQUEST_ID: usize = 128;

/// How a request was authenticated, as Clerk's SDK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthOutcome {
    /// `signed-in`, `signed-out` or `handshake`.
    pub status: &'static str,
    /// A reason code when not signed in (`token-expired`, …) or when refreshing.
    pub reason: Option<&'static str>,
}

struct RequestState {
    id: String,
    started: Instant,
    outcome: Mutex<Option<AuthOutcome>>,
}

/// Records how the request was authenticated; the last word wins (a user guard after the token).
pub fn record_auth(request: &Request<'_>, outcome: AuthOutcome) {
    let state = request.local_cache(|| RequestState {
        id: String::new(),
        started: Instant::now(),
        outcome: Mutex::new(None),
    });
    *state
        .outcome
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
}

/// The metrics of one app instance (a registry of its own, so that tests do not share counters).
pub struct Metrics {
    registry: Registry,
    auth_outcomes: IntCounterVec,
    jwks_fetches: IntCounterVec,
    key_age: Gauge,
    pub webhook_events: IntCounterVec,
    pool_connections: IntGaugeVec,
    request_seconds: HistogramVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let auth_outcomes = IntCounterVec::new(
            Opts::new(
                "clerk_auth_outcomes_total",
                "Authenticated requests by outcome and reason",
            ),
            &["status", "reason"],
        )
        .expect("valid metric");
        let jwks_fetches = IntCounterVec::new(
            Opts::new("clerk_jwks_fetches_total", "JWKS fetch attempts by result"),
            &["result"],
        )
        .expect("valid metric");
        let key_age = Gauge::new(
            "clerk_jwks_key_age_seconds",
            "Age of the cached signing keys (-1: none)",
        )
        .expect("valid metric");
        let webhook_events = IntCounterVec::new(
            Opts::new(
                "clerk_webhook_events_total",
                "Webhook deliveries by event type and result",
            ),
            &["type", "result"],
        )
        .expect("valid metric");
        let pool_connections = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("valid metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Request latency by route and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(auth_outcomes.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(jwks_fetches.clone()),
            Box::new(key_age.clone()),
            Box::new(webhook_events.clone()),
            Box::new(pool_connections.clone()),
            Box::new(request_seconds.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            auth_outcomes,
            jwks_fetches,
            key_age,
            webhook_events,
            pool_connections,
            request_seconds,
        }
    }

    /// The text exposition, with the values read at scrape time brought up to date first.
    fn render(&self, clerk: Option<&Clerk>, pool: Option<&sqlx::AnyPool>) -> String {
        if let Some(clerk) = clerk {
            let status = clerk.verifier.keys().status();
            let ok = status.fetches - status.failures;
            for (result, total) in [("ok", ok), ("error", status.failures)] {
                let counter = self.jwks_fetches.with_label_values(&[result]);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
            self.key_age
                .set(status.age.map_or(-1.0, |age| age.as_secs_f64()));
        }
        if let Some(pool) = pool {
            let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
            self.pool_connections.with_label_values(&["idle"]).set(idle);
            self.pool_connections
                .with_label_values(&["in_use"])
                .set(i64::from(pool.size()) - idle);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[rocket::get("/metrics")]
fn metrics(
    metrics: &State<Metrics>,
    clerk: &State<Clerk>,
    db: Option<&Db>,
) -> (ContentType, String) {
    let text = metrics.render(Some(clerk), db.map(|db| &***db));
    (
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        text,
    )
}

pub fn routes() -> Vec<Route> {
    rocket::routes![metrics]
}

/// Writes one line to standard output, unless logging is off (`log_level = "off"`, as in tests).
/// Rocket's own per-request logging is several lines long and shows query strings, so
/// Rocket.toml sets `log_level = "critical"` (warnings and errors only) and this line replaces it.
pub fn log_line(config: &rocket::Config, line: &str) {
    if config.log_level != rocket::config::LogLevel::Off {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The request id, the auth headers, the log line and the latency histogram.
pub struct RequestLog;

/// The metrics registry and the one-line request log.
#[must_use]
pub fn stage() -> rocket::fairing::AdHoc {
    rocket::fairing::AdHoc::on_ignite("Observability", |rocket| async {
        rocket.manage(Metrics::new()).attach(RequestLog)
    })
}

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
        request.local_cache(|| RequestState {
            id: id.unwrap_or_else(new_request_id),
            started: Instant::now(),
            outcome: Mutex::new(None),
        });
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let state = request.local_cache(|| RequestState {
            id: new_request_id(),
            started: Instant::now(),
            outcome: Mutex::new(None),
        });
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
        let route = request
            .route()
            .map_or_else(|| "unmatched".into(), |r| r.uri.as_str().to_owned());
        if let Some(metrics) = request.rocket().state::<Metrics>() {
            let status_label = status.to_string();
            metrics
                .request_seconds
                .with_label_values(&[
                    request.method().as_str(),
                    route.as_str(),
                    status_label.as_str(),
                ])
                .observe(elapsed.as_secs_f64());
            if let Some(outcome) = outcome {
                metrics
                    .auth_outcomes
                    .with_label_values(&[outcome.status, outcome.reason.unwrap_or("")])
                    .inc();
            }
        }
        // The path only: queries may carry handshake nonces or tokens.
        let (auth, reason) = outcome.map_or(("-", "-"), |o| (o.status, o.reason.unwrap_or("-")));
        log_line(
            request.rocket().config(),
            &format!(
                "{} {} {} {:.1}ms auth={auth} reason={reason} request_id={}",
                request.method(),
                request.uri().path(),
                status,
                elapsed.as_secs_f64() * 1000.0,
                state.id
            ),
        );
    }
}
