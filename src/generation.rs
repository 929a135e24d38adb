//! A count of a cache's forgets, so that it keeps nothing read before one.
//!
//! A request reads the database, then puts what it read in memory; a webhook received meanwhile
//! commits its change and forgets the entry in between, and the request would put the old value
//! back for the cache's whole lifetime. So a reader notes the generation first, inserts what it
//! read, and takes the entry out again when the generation moved since: a forget that lands
//! before or after the insert undoes it either way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Generation(AtomicU64);

impl Generation {
    /// Now: note it before reading what will be kept.
    pub fn read(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Moves it on: call on every forget.
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a forget happened since `read_at` (what was read then may be stale).
    pub fn moved_since(&self, read_at: u64) -> bool {
        self.read() != read_at
    }

    /// The generation and the instant, noted together before a read.
    pub fn mark(&self) -> Mark {
        Mark {
            generation: self.read(),
            at: Instant::now(),
        }
    }

    /// Moves it on from `from` only: the new generation, or `None` when a forget came first.
    pub fn advance_from(&self, from: u64) -> Option<u64> {
        self.0
            .compare_exchange(from, from + 1, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| from + 1)
    }
}

/// When a value was read, as the generation before the read and the instant: what is derived
/// from it holds while the generation stays, and for a bounded time from the instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub generation: u64,
    pub at: Instant,
}
