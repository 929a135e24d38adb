//! One rate budget for every Backend API call this server makes with the secret key.
//!
//! Clerk allows 100 requests per 10 s to a development instance and 1000 to a production one,
//! then answers 429 to every caller of that key for a while. Whatever the traffic (a flood of
//! forged handshake nonces, first sign-ins, a sync), this server spends at most its budget, and
//! a spent budget is answered like an unavailable Clerk.
//!
//! A token bucket, written out (about 40 lines) rather than taken from a crate: it needs a
//! non-blocking take that says how long to wait, an awaiting take for `sync`, and one warning
//! per spent period; `governor` would add a clock abstraction and several dependencies for that.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `capacity` requests, refilled evenly over `period`.
#[derive(Debug)]
pub struct RateBudget {
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
        let capacity = f64::from(requests.max(1));
        RateBudget {
            capacity,
            period,
            state: Mutex::new(State {
                tokens: capacity,
                updated: Instant::now(),
                warned: false,
            }),
        }
    }

    /// Takes one request's worth, or says how long until one is there.
    pub fn try_take(&self) -> Result<(), Duration> {
        let rate = self.capacity / self.period.as_secs_f64(); // tokens per second
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(self.capacity);
        state.updated = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            state.warned = false;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - state.tokens) / rate);
        if !state.warned {
            state.warned = true;
            log::warn!(
                "the Backend API budget is spent ({} requests per {} s): Backend API calls are \
                 refused (user lookups answer 503, handshake nonces are not resolved) until it \
                 refills; a flood of requests, or a budget set below the traffic",
                self.capacity,
                self.period.as_secs()
            );
        }
        Err(wait)
    }

    /// Waits for one request's worth (batch work such as `sync`, which may take its time).
    pub async fn take(&self) {
        while let Err(wait) = self.try_take() {
            tokio::time::sleep(wait).await;
        }
    }
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
}
