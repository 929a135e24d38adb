//! A count of a cache's forgets, so that it keeps nothing read before one.
//!
//! A [`Mark`] is the generation and the instant noted before a read: what is derived from the
//! value read (a token's memo, `auth::user`) holds while the generation stays and for a bounded
//! time. [`Striped`] keeps generations per key (in stripes), so that a forget of one user or
//! session leaves what was derived from the others alone.
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

/// How many stripes a [`Striped`] has.
const STRIPES: usize = 256;

/// Generations by key, in stripes: a forget moves only its key's stripe, so that what was derived
/// from other keys (the memo of another user's token) still holds. Keys of one stripe share it:
/// a forget of one ends what was derived from the others too, which is safe.
pub struct Striped {
    stripes: Box<[Generation]>,
    hasher: foldhash::fast::RandomState,
}

impl Default for Striped {
    fn default() -> Self {
        Striped {
            stripes: (0..STRIPES).map(|_| Generation::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl Striped {
    /// The generation of `key`'s stripe: note it before reading what is kept under `key`, and
    /// move it on when `key` is forgotten.
    pub fn of(&self, key: &str) -> &Generation {
        // The modulo keeps the index in range whatever the hash; STRIPES is a power of two.
        #[allow(clippy::cast_possible_truncation)] // only the low bits are used
        let index = (std::hash::BuildHasher::hash_one(&self.hasher, key) as usize) % STRIPES;
        &self.stripes[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forget_moves_its_keys_stripe_only() {
        let striped = Striped::default();
        let a = "user_a";
        let b = (0..10_000)
            .map(|i| format!("user_{i}"))
            .find(|k| !std::ptr::eq(striped.of(k), striped.of(a)))
            .expect("256 stripes");
        let (at_a, at_b) = (striped.of(a).read(), striped.of(&b).read());
        striped.of(a).advance();
        assert!(striped.of(a).moved_since(at_a));
        assert!(
            !striped.of(&b).moved_since(at_b),
            "another key's stripe stays"
        );
        assert!(
            std::ptr::eq(striped.of(a), striped.of(a)),
            "a key keeps its stripe"
        );
        assert_eq!(striped.of(a).advance_from(at_a), None, "moved already");
        assert_eq!(striped.of(a).advance_from(at_a + 1), Some(at_a + 2));
    }
}
