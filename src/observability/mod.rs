//! What happens to each request, for people and for machines: an `x-request-id`, Clerk's
//! `x-clerk-auth-status`/`x-clerk-auth-reason` headers, one log line per request (never a token),
//! and Prometheus metrics at `/metrics`.

mod logger;
mod request_log;

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use rocket::http::ContentType;
use rocket::{Route, State};

use crate::clerk::Clerk;
use crate::db::Db;
pub use logger::{flush as flush_logs, init as init_logging};
pub use request_log::{log_line, record_auth, request_id, RequestId, RequestLog};

/// How a request was authenticated, as Clerk's SDK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthOutcome {
    /// `signed-in`, `signed-out` or `handshake`.
    pub status: &'static str,
    /// A reason code when not signed in (`token-expired`, …) or when refreshing.
    pub reason: Option<&'static str>,
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

    /// Counts one answered request.
    fn observe(
        &self,
        method: &str,
        route: &str,
        status: u16,
        elapsed: Duration,
        outcome: Option<AuthOutcome>,
    ) {
        let code = status_text(status);
        self.request_seconds
            .with_label_values(&[method, route, code.as_str()])
            .observe(elapsed.as_secs_f64());
        if let Some(outcome) = outcome {
            self.auth_outcomes
                .with_label_values(&[outcome.status, outcome.reason.unwrap_or("")])
                .inc();
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

/// The metrics registry and the one-line request log.
#[must_use]
pub fn stage() -> rocket::fairing::AdHoc {
    rocket::fairing::AdHoc::on_ignite("Observability", |rocket| async {
        rocket.manage(Metrics::new()).attach(RequestLog)
    })
}

/// A status code as label text, without a heap allocation.
fn status_text(status: u16) -> StatusText {
    let mut text = StatusText([0; 3]);
    let digits = [status / 100 % 10, status / 10 % 10, status % 10];
    for (slot, digit) in text.0.iter_mut().zip(digits) {
        *slot = b'0' + u8::try_from(digit).unwrap_or(0);
    }
    text
}

struct StatusText([u8; 3]);

impl StatusText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("000")
    }
}
