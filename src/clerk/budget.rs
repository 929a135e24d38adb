//! One rate budget for every Backend API call this server makes with the secret key, in shares
//! that strangers cannot cross, and Clerk's own rate limit (429) honoured.
//!
//! Clerk allows 100 requests per 10 s to a development instance and 1000 to a production one,
//! for the secret key, then answers 429 to every caller of that key for a while
//! (<https://clerk.com/docs/guides/how-clerk-works/system-limits>). Whatever the traffic, this
//! server spends at most its budget (`CLERK_BACKEND_API_BUDGET`, by default Clerk's limit divided
//! by `CLERK_INSTANCES`), and calls that anyone can trigger without signing in cannot spend it
//! all:
//!
//! - [`Caller::Browser`] (handshake nonces, session refreshes: a browser's cookies, before any
//!   session verified) may spend a fifth of it;
//! - [`Caller::Machine`] (opaque `ak_`/`mt_`/`oat_` tokens, which anyone can make up) two fifths;
//! - the rest is a reserve that only [`Caller::Trusted`] calls reach: user look-ups for sessions
//!   that verified, administrators' actions, `sync`, the `/v1/jwks` fallback. Trusted calls may
//!   spend the whole budget; the shared callers never take the last `reserve` calls of it.
//!
//! A 429 from Clerk pauses every call for its `Retry-After` (or a doubling backoff when it has
//! none) plus a random part, so that instances sharing the key do not all come back at once.
//!
//! Token buckets, written out rather than taken from a crate: they need a non-blocking take that
//! says how long to wait, a take that keeps a floor, an awaiting take for `sync`, and one warning
//! per spent period; `governor` would add a clock abstraction and several dependencies for that.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest pause after a 429, whatever `Retry-After` says.
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// The first pause after a 429 without `Retry-After`; each further one doubles it.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// A token bucket: `capacity` requests, refilled evenly over `period`.
#[derive(Debug)]
pub struct RateBudget {
    /// What the warning of a spent bucket calls it.
    what: &'static str,
    capacity: f64,
    period: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
    /// Whether the spent budget was logged since the last request it allowed.
    warned: bool,
}

impl RateBudget {
    /// `requests` per `period`, all available at once to begin with.
    pub fn new(requests: u32, period: Duration) -> Self {
        RateBudget::named("the Backend API budget", requests, period)
    }

    /// [`RateBudget::new`], called `what` in its warning.
    pub fn named(what: &'static str, requests: u32, period: Duration) -> Self {
        let capacity = f64::from(requests.max(1));
        RateBudget {
            what,
            capacity,
            period,
            state: Mutex::new(State {
                tokens: capacity,
                updated: Instant::now(),
                warned: false,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tokens per second.
    fn rate(&self) -> f64 {
        self.capacity / self.period.as_secs_f64()
    }

    /// Takes one request's worth, or says how long until one is there.
    pub fn try_take(&self) -> Result<(), Duration> {
        self.try_take_above(0.0)
    }

    /// Takes one request's worth if `floor` tokens are left after it, or says how long until
    /// that is so.
    pub fn try_take_above(&self, floor: f64) -> Result<(), Duration> {
        let rate = self.rate();
        let mut state = self.state();
        let now = Instant::now();
        let elapsed = now.duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(self.capacity);
        state.updated = now;
        if state.tokens >= 1.0 + floor {
            state.tokens -= 1.0;
            state.warned = false;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 + floor - state.tokens) / rate);
        if !state.warned && floor <= 0.0 {
            state.warned = true;
            log::warn!(
                "{} is spent ({} requests per {} s): its Backend API calls are refused until it \
                 refills; a flood of requests, or a budget set below the traffic",
                self.what,
                self.capacity,
                self.period.as_secs()
            );
        }
        Err(wait)
    }

    /// Gives back one request's worth that was taken and not spent.
    fn give_back(&self) {
        let mut state = self.state();
        state.tokens = (state.tokens + 1.0).min(self.capacity);
    }

    /// Waits for one request's worth (batch work such as `sync`, which may take its time).
    pub async fn take(&self) {
        while let Err(wait) = self.try_take() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Who a Backend API call is made for, which decides the part of the budget it may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A verified session's user look-up, an administrator's action, `sync`, the key fallback:
    /// the whole budget, the reserve included.
    Trusted,
    /// A browser coming back from Clerk's handshake or refreshing an expired token: no session
    /// has verified yet. At most a fifth of the budget, never the reserve.
    Browser,
    /// An opaque machine token's verification: anyone can make one up. At most two fifths of
    /// the budget, never the reserve.
    Machine,
}

/// Why no call may be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This server's budget (or the caller's share of it) is spent.
    Spent { wait: Duration },
    /// Clerk answered 429 lately: no call until its `Retry-After` has passed.
    RateLimited { wait: Duration },
}

impl Refused {
    /// How long until a call may be made, in whole seconds (at least 1), for `Retry-After`.
    pub fn retry_after(self) -> u64 {
        let (Refused::Spent { wait } | Refused::RateLimited { wait }) = self;
        whole_secs(wait)
    }
}

/// The budget of one server's Backend API calls: a total, the shares of the callers that
/// strangers can trigger, and the pause after Clerk's 429.
#[derive(Debug)]
pub struct BackendBudget {
    requests: u32,
    total: RateBudget,
    /// What the shared callers leave in `total`.
    reserve: f64,
    browser: RateBudget,
    machines: RateBudget,
    pause: Mutex<Pause>,
}

#[derive(Debug, Default)]
struct Pause {
    until: Option<Instant>,
    /// 429s in a row, for the backoff without `Retry-After`.
    in_a_row: u32,
}

/// The parts of a budget of `requests`: the browser share, the machine share, the reserve.
/// Each is at least one call; a budget under 3 leaves the shared callers nothing of their own.
pub fn shares(requests: u32) -> (u32, u32, u32) {
    let fifths = |n: u64| u32::try_from(u64::from(requests) * n / 5).unwrap_or(u32::MAX);
    let (browser, machines) = (fifths(1).max(1), fifths(2).max(1));
    let reserve = requests.saturating_sub(browser + machines).max(1);
    (browser, machines, reserve)
}

/// `wait` in whole seconds, rounded up, at least 1: a `Retry-After`.
pub fn whole_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl BackendBudget {
    /// `requests` per `period`, in shares (see the module's documentation).
    pub fn new(requests: u32, period: Duration) -> Self {
        let requests = requests.max(1);
        let (browser, machines, reserve) = shares(requests);
        BackendBudget {
            requests,
            total: RateBudget::new(requests, period),
            reserve: f64::from(reserve),
            browser: RateBudget::named(
                "the Backend API share of handshake nonces and session refreshes",
                browser,
                period,
            ),
            machines: RateBudget::named(
                "the Backend API share of opaque machine tokens",
                machines,
                period,
            ),
            pause: Mutex::new(Pause::default()),
        }
    }

    /// The calls allowed per period, all callers together.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    fn pause(&self) -> std::sync::MutexGuard<'_, Pause> {
        self.pause
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one call for `caller`, or says why not and for how long.
    pub fn try_take(&self, caller: Caller) -> Result<(), Refused> {
        if let Some(until) = self.pause().until {
            let now = Instant::now();
            if until > now {
                return Err(Refused::RateLimited { wait: until - now });
            }
        }
        let share = match caller {
            Caller::Trusted => {
                return self
                    .total
                    .try_take()
                    .map_err(|wait| Refused::Spent { wait });
            }
            Caller::Browser => &self.browser,
            Caller::Machine => &self.machines,
        };
        share.try_take().map_err(|wait| Refused::Spent { wait })?;
        self.total.try_take_above(self.reserve).map_err(|wait| {
            share.give_back();
            Refused::Spent { wait }
        })
    }

    /// Waits for one trusted call (batch work such as `sync`): through a spent budget and
    /// Clerk's pauses alike.
    pub async fn take(&self) {
        while let Err(refused) = self.try_take(Caller::Trusted) {
            let wait = match refused {
                Refused::Spent { wait } | Refused::RateLimited { wait } => wait,
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Clerk answered 429 (with `retry_after`, when it said): no call is made by anyone until
    /// then, plus up to a quarter more at random. The pause, as recorded.
    pub fn rate_limited(&self, retry_after: Option<Duration>) -> Duration {
        let mut pause = self.pause();
        pause.in_a_row = pause.in_a_row.saturating_add(1);
        let base = retry_after
            .unwrap_or_else(|| FIRST_BACKOFF.saturating_mul(1 << (pause.in_a_row - 1).min(6)));
        let wait = (base + jitter(base / 4)).min(MAX_PAUSE);
        let until = Instant::now() + wait;
        // Of two answers, the later end wins.
        if pause.until.is_none_or(|current| current < until) {
            pause.until = Some(until);
        }
        log::warn!(
            "Clerk's Backend API answered 429 (rate limited{}): no Backend API call for {:.1} s",
            retry_after.map_or_else(String::new, |r| format!(", Retry-After {} s", r.as_secs())),
            wait.as_secs_f64()
        );
        wait
    }

    /// Clerk answered something other than 429: the backoff starts again from its first step.
    pub fn answered(&self) {
        let mut pause = self.pause();
        if pause.in_a_row != 0 {
            pause.in_a_row = 0;
        }
    }
}

/// A random duration from zero to `at_most`.
fn jitter(at_most: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    at_most.mul_f64(f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
}

/// Clerk's `Retry-After`: whole seconds, or an HTTP date (RFC 9110 §10.2.3). Anything else, or
/// a date in the past, is none.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = time::PrimitiveDateTime::parse(value, &format)
        .ok()?
        .assume_utc();
    let left = date - now;
    left.is_positive()
        .then(|| Duration::try_from(left).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_refuses_until_it_refills() {
        // One back per second: a stall of up to a second between takes still finds it spent.
        let budget = RateBudget::new(3, Duration::from_secs(3));
        for _ in 0..3 {
            assert!(budget.try_take().is_ok());
        }
        let wait = budget.try_take().unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        std::thread::sleep(wait + Duration::from_millis(5));
        assert!(budget.try_take().is_ok(), "refilled");
        assert!(budget.try_take().is_err());
    }

    #[tokio::test]
    async fn take_waits_for_the_refill() {
        let budget = RateBudget::new(1, Duration::from_millis(50));
        budget.take().await;
        let started = Instant::now();
        budget.take().await;
        assert!(started.elapsed() >= Duration::from_millis(40));
    }

    #[test]
    fn shares_add_up_to_the_budget() {
        assert_eq!(shares(1000), (200, 400, 400));
        assert_eq!(shares(100), (20, 40, 40));
        assert_eq!(shares(10), (2, 4, 4));
        assert_eq!(shares(3), (1, 1, 1));
        assert_eq!(shares(1), (1, 1, 1));
    }

    #[test]
    fn strangers_cannot_take_the_reserve_nor_each_others_share() {
        let hour = Duration::from_secs(3600);
        let budget = BackendBudget::new(10, hour);
        // Machine tokens: their 4, then nothing.
        for _ in 0..4 {
            assert!(budget.try_take(Caller::Machine).is_ok());
        }
        assert!(matches!(
            budget.try_take(Caller::Machine),
            Err(Refused::Spent { .. })
        ));
        // Browsers still have their 2.
        for _ in 0..2 {
            assert!(budget.try_take(Caller::Browser).is_ok());
        }
        assert!(budget.try_take(Caller::Browser).is_err());
        // The reserve of 4 is the trusted callers' alone.
        for _ in 0..4 {
            assert!(budget.try_take(Caller::Trusted).is_ok());
        }
        assert!(budget.try_take(Caller::Trusted).is_err());
    }

    #[test]
    fn a_share_refused_by_the_total_is_given_back() {
        let hour = Duration::from_secs(3600);
        let budget = BackendBudget::new(10, hour);
        // Trusted calls spend all but 5: the machines' take would dip into the reserve of 4
        // after one call.
        for _ in 0..5 {
            budget.try_take(Caller::Trusted).unwrap();
        }
        assert!(budget.try_take(Caller::Machine).is_ok());
        assert!(budget.try_take(Caller::Machine).is_err(), "the reserve");
        assert!(
            (budget.machines.state().tokens - 3.0).abs() < 1e-6,
            "the refused take did not cost the share"
        );
        for _ in 0..4 {
            budget.try_take(Caller::Trusted).unwrap();
        }
        assert!(budget.try_take(Caller::Trusted).is_err());
    }

    #[test]
    fn a_429_pauses_every_caller_for_retry_after_and_a_jitter() {
        let budget = BackendBudget::new(100, Duration::from_secs(10));
        let pause = budget.rate_limited(Some(Duration::from_secs(2)));
        assert!(pause >= Duration::from_secs(2) && pause <= Duration::from_millis(2_500));
        for caller in [Caller::Trusted, Caller::Browser, Caller::Machine] {
            let refused = budget.try_take(caller).unwrap_err();
            assert!(matches!(refused, Refused::RateLimited { .. }), "{caller:?}");
            assert!((2..=3).contains(&refused.retry_after()));
        }
        // Without Retry-After: 1 s, 2 s, 4 s… (each plus up to a quarter).
        let budget = BackendBudget::new(100, Duration::from_secs(10));
        let first = budget.rate_limited(None);
        let second = budget.rate_limited(None);
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_millis(1_250));
        assert!(second >= Duration::from_secs(2) && second <= Duration::from_millis(2_500));
        budget.answered();
        assert!(budget.rate_limited(None) <= Duration::from_millis(1_250));
        // A silly Retry-After is capped.
        assert!(budget.rate_limited(Some(Duration::from_secs(86_400))) <= MAX_PAUSE);
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = time::macros::datetime!(2026-12-07 12:00:00 UTC);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 07 Dec 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        for bad in ["", "-1", "1.5", "soon", "Mon, 07 Dec 2026 11:00:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
