//! The user rows this instance served lately, so that a warm request reads no database.
//!
//! A row (and with it its deny state: deleted, banned) is kept at most [`CACHE_SECS`], the bound
//! DESIGN.md promises for a change made through another instance; a webhook received here forgets
//! it at once. `last_seen_at` is noted in memory and written in batches by [`KnownUsers::flush`],
//! at most once per user per [`LAST_SEEN_RESOLUTION_SECS`].
//!
//! Machine credentials acting for a user ([`KnownUsers::lookup`]) also remember, for as long, that
//! a user has no row here: such a credential never creates one, so without that memory every
//! request of an unknown user would read the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

use crate::db::users::{self, User};

/// How long a row may be served from memory.
pub const CACHE_SECS: u64 = 5;

/// How stale `last_seen_at` may get before it is written again.
pub const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

/// How often noted sightings are written.
pub const FLUSH_SECS: u64 = 10;

/// Rows kept at most (each a few hundred bytes).
const MAX_ROWS: u64 = 50_000;

/// Sightings waiting for a flush at most; beyond, new ones wait for the next minute.
const MAX_PENDING: usize = 100_000;

/// A row as served, and when this instance last noted its user as seen.
pub struct Known {
    pub user: Arc<User>,
    noted: AtomicI64,
}

/// Cheap to clone: clones share the rows and the pending sightings.
#[derive(Clone)]
pub struct KnownUsers {
    rows: Cache<String, Arc<Known>>,
    /// Users found to have no row.
    absent: Cache<String, ()>,
    pending: Arc<Mutex<HashMap<String, i64>>>,
}

impl Default for KnownUsers {
    fn default() -> Self {
        KnownUsers {
            rows: Cache::builder()
                .max_capacity(MAX_ROWS)
                .time_to_live(Duration::from_secs(CACHE_SECS))
                .build(),
            absent: Cache::builder()
                .max_capacity(MAX_ROWS)
                .time_to_live(Duration::from_secs(CACHE_SECS))
                .build(),
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl KnownUsers {
    pub fn get(&self, clerk_id: &str) -> Option<Arc<Known>> {
        self.rows.get(clerk_id)
    }

    /// Keeps `user` as just read or written.
    pub fn keep(&self, user: Arc<User>) -> Arc<Known> {
        let known = Arc::new(Known {
            noted: AtomicI64::new(user.last_seen_at.unwrap_or(0)),
            user,
        });
        self.absent.invalidate(&known.user.clerk_id);
        self.rows
            .insert(known.user.clerk_id.clone(), Arc::clone(&known));
        known
    }

    /// Forgets a user whose row just changed (a webhook, an admin action).
    pub fn forget(&self, clerk_id: &str) {
        self.rows.invalidate(clerk_id);
        self.absent.invalidate(clerk_id);
    }

    /// The row of `clerk_id`, or `None` when it has none, as of at most [`CACHE_SECS`] ago:
    /// from memory when this instance looked lately, else from the database. Creates no row.
    pub async fn lookup(
        &self,
        pool: &sqlx::AnyPool,
        clerk_id: &str,
    ) -> Result<Option<Arc<User>>, sqlx::Error> {
        if let Some(known) = self.rows.get(clerk_id) {
            return Ok(Some(Arc::clone(&known.user)));
        }
        if self.absent.contains_key(clerk_id) {
            return Ok(None);
        }
        let Some(user) = users::find_by_clerk_id(pool, clerk_id).await? else {
            self.absent.insert(clerk_id.to_owned(), ());
            return Ok(None);
        };
        Ok(Some(Arc::clone(&self.keep(Arc::new(user)).user)))
    }

    /// Notes that the user of `known` was seen at `now`; written by the next flush when the last
    /// note is older than [`LAST_SEEN_RESOLUTION_SECS`].
    pub fn note_seen(&self, known: &Known, now: i64) {
        let last = known.noted.load(Ordering::Relaxed);
        if now - last < LAST_SEEN_RESOLUTION_SECS
            || known
                .noted
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mut pending = self.lock();
        if pending.len() < MAX_PENDING {
            pending.insert(known.user.clerk_id.clone(), now);
        }
    }

    /// Writes the noted sightings; on failure they are put back for the next flush.
    pub async fn flush(&self, pool: &sqlx::AnyPool) -> Result<usize, sqlx::Error> {
        let batch: Vec<(String, i64)> = std::mem::take(&mut *self.lock()).into_iter().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = users::record_last_seen(pool, &batch).await {
            let mut pending = self.lock();
            for (clerk_id, at) in batch {
                if pending.len() < MAX_PENDING {
                    pending.entry(clerk_id).or_insert(at);
                }
            }
            return Err(e);
        }
        Ok(batch.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
