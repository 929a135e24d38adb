//! What happens to each request, for people and for machines: an `x-request-id`, Clerk's
//! `x-clerk-auth-status`/`x-clerk-auth-reason` headers, one log line per request (never a token),
//! and Prometheus metrics at `/metrics`.

mod logger;
mod request_log;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use rocket::http::ContentType;
use rocket::{Route, State};

use crate::clerk::backend_api::BackendApiError;
use crate::clerk::request_state::{AuthStatus, Decision};
use crate::clerk::token::{AuthError, Reason};
use crate::clerk::Clerk;
use crate::db::Db;
use crate::error::ApiError;
pub use logger::{flush as flush_logs, init as init_logging};
pub use request_log::{
    log_line, record_actor, record_auth, request_id, valid_request_id, RequestId, RequestLog,
};

/// How a request was authenticated, as Clerk's SDK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthOutcome {
    pub status: AuthStatus,
    /// Clerk's reason when not signed in (`session-token-but-no-client-uat`, …), or ours for a
    /// refusal Clerk's SDK does not make (`user-banned`, …).
    pub reason: Option<&'static str>,
}

impl AuthOutcome {
    pub const SIGNED_IN: AuthOutcome = AuthOutcome {
        status: AuthStatus::SignedIn,
        reason: None,
    };

    /// A request decision as Clerk's headers report it.
    pub fn of(decision: Decision) -> AuthOutcome {
        AuthOutcome {
            status: decision.status,
            reason: decision.reason.map(Reason::code),
        }
    }

    /// Signed out for `code`.
    pub fn signed_out(code: &'static str) -> AuthOutcome {
        AuthOutcome {
            status: AuthStatus::SignedOut,
            reason: Some(code),
        }
    }
}

/// Metric handles this thread resolved, by app instance and label values: resolving one through
/// the vector (hashing the label strings, under a lock both workers take) cost more than the
/// observation itself (`perf`). An app's routes, statuses and reasons are few, so each map stays
/// small.
type HistogramKey = (u64, usize, u8, u16);
type StaticText = (usize, usize);
type CounterKey = (u64, StaticText, Option<StaticText>);

/// Small integer keys: a fast hasher (SipHash's cost showed in `perf`); the keys are ours.
type Handles<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

thread_local! {
    static HISTOGRAMS: RefCell<Handles<HistogramKey, Histogram>> = RefCell::default();
    static COUNTERS: RefCell<Handles<CounterKey, IntCounter>> = RefCell::default();
}

/// The id of the next [`Metrics`]: handles of one app are never taken for another's.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The metrics of one app instance (a registry of its own, so that tests do not share counters).
pub struct Metrics {
    id: u64,
    registry: Registry,
    auth_outcomes: IntCounterVec,
    jwks_fetches: IntCounterVec,
    key_age: Gauge,
    pub webhook_events: IntCounterVec,
    handshake_nonces: IntCounterVec,
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
        let handshake_nonces = IntCounterVec::new(
            Opts::new(
                "clerk_handshake_nonces_total",
                "Handshake nonces looked up at the Backend API, by result (resolved, unresolved: \
                 unknown or Clerk unreachable, budget-spent)",
            ),
            &["result"],
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
            Box::new(handshake_nonces.clone()),
            Box::new(pool_connections.clone()),
            Box::new(request_seconds.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry,
            auth_outcomes,
            jwks_fetches,
            key_age,
            webhook_events,
            handshake_nonces,
            pool_connections,
            request_seconds,
        }
    }

    /// Counts one handshake nonce's look-up: never a log line per nonce (anyone can send one,
    /// and the nonce is a credential), but a counter an alert can watch.
    pub fn count_nonce<T>(&self, result: &Result<T, BackendApiError>) {
        let label = match result {
            Ok(_) => "resolved",
            Err(BackendApiError::BudgetSpent { .. }) => "budget-spent",
            Err(_) => "unresolved",
        };
        self.handshake_nonces.with_label_values(&[label]).inc();
    }

    /// Counts one answered request. `route` is the matched route (`None`: none matched).
    fn observe(
        &self,
        method: rocket::http::Method,
        route: Option<&Route>,
        status: u16,
        elapsed: Duration,
        outcome: Option<AuthOutcome>,
    ) {
        // A route's address is stable while its app runs; with the app's id, it names the route.
        let route_key = route.map_or(0, |r| std::ptr::from_ref(r) as usize);
        let key = (self.id, route_key, method as u8, status);
        let histogram = HISTOGRAMS.with_borrow_mut(|handles| {
            handles
                .entry(key)
                .or_insert_with(|| {
                    let route = route.map_or("unmatched", |r| r.uri.as_str());
                    let code = status_text(status);
                    self.request_seconds
                        .with_label_values(&[method.as_str(), route, code.as_str()])
                })
                .clone()
        });
        histogram.observe(elapsed.as_secs_f64());
        if let Some(AuthOutcome { status, reason }) = outcome {
            let status = status.as_str();
            let text = |s: &str| (s.as_ptr() as usize, s.len());
            let key = (self.id, text(status), reason.map(text));
            COUNTERS.with_borrow_mut(|handles| {
                handles
                    .entry(key)
                    .or_insert_with(|| {
                        self.auth_outcomes
                            .with_label_values(&[status, reason.unwrap_or("")])
                    })
                    .inc();
            });
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

/// Who may read `/metrics` (they tell a stranger the traffic, the outcomes and the keys' age):
/// with `CLERK_METRICS_TOKEN` set, a scraper sending it as a Bearer token; without it, this
/// machine only (the peer address and the forwarding headers, never `Host`).
fn may_scrape(request: &rocket::Request<'_>, clerk: &Clerk) -> Result<(), ApiError> {
    let Some(expected) = &clerk.config.metrics_token else {
        return if crate::forwarded::from_this_machine(request) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(AuthError::new(
                Reason::NotAdmin,
                "metrics are served to this machine only; set CLERK_METRICS_TOKEN to scrape them \
                 from elsewhere",
            )))
        };
    };
    let sent = request
        .headers()
        .get_one("Authorization")
        .and_then(|value| {
            value
                .get(..7)
                .filter(|s| s.eq_ignore_ascii_case("bearer "))
                .and(value.get(7..))
        });
    let matches = sent.is_some_and(|sent| {
        aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), expected.as_bytes())
            .is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::Auth(AuthError::new(
            Reason::TokenInvalid,
            "send Authorization: Bearer <CLERK_METRICS_TOKEN>",
        )))
    }
}

/// The answer of [`may_scrape`] for the request.
struct Scrape(Result<(), ApiError>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Scrape {
    type Error = std::convert::Infallible;

    async fn from_request(
        request: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        let allowed = match request.rocket().state::<Clerk>() {
            Some(clerk) => may_scrape(request, clerk),
            None => Err(ApiError::NotFound),
        };
        rocket::request::Outcome::Success(Scrape(allowed))
    }
}

#[rocket::get("/metrics")]
fn metrics(
    scrape: Scrape,
    metrics: &State<Metrics>,
    clerk: &State<Clerk>,
    db: Option<&Db>,
) -> Result<(ContentType, String), ApiError> {
    scrape.0?;
    let text = metrics.render(Some(clerk), db.map(|db| &***db));
    Ok((
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        text,
    ))
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
