//! The user rows this instance served lately, so that a warm request reads no database.
//!
//! A row (and with it its deny state: deleted, banned) is kept at most [`CACHE_SECS`], the bound
//! DESIGN.md promises for a change made through another instance; a webhook received here forgets
//! it at once, and a row read before that forget is not kept (`crate::generation`).
//! `last_seen_at` is noted in memory and written in batches by [`KnownUsers::flush`], at most
//! once per user per [`LAST_SEEN_RESOLUTION_SECS`]. The same batches record each user's
//! first sighting of a UTC day for the dashboard's counters (`db::activity`): a sighting is
//! marked as a day's first when the last one this instance knows of (the row's `last_seen_at`, or
//! its own last note) fell on another day, so the counters are read and moved about once per user
//! per day, off the request path.
//!
//! Machine credentials acting for a user ([`KnownUsers::lookup`]) also remember, for as long, that
//! a user has no row here: such a credential never creates one, so without that memory every
//! request of an unknown user would read the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

use crate::db::activity::{self, day_of, Sighting};
use crate::db::users::{self, User};
use crate::generation::{Mark, Striped};

/// How long a row may be served from memory.
pub const CACHE_SECS: u64 = 5;

/// How stale `last_seen_at` may get before it is written again.
pub const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

/// How often noted sightings are written.
pub const FLUSH_SECS: u64 = 10;

/// Rows kept at most (each about 600 bytes with the cache's own bookkeeping). More users than
/// this seen within [`CACHE_SECS`] cost extra reads, not memory (`bench/run --memory`: a million
/// distinct tokens of 100,000 users kept about 45,000 rows alive at 50,000).
const MAX_ROWS: u64 = 20_000;

/// Sightings waiting for a flush at most; beyond, new ones wait for the next minute.
const MAX_PENDING: usize = 100_000;

/// A row as served, when it was read, and when this instance last noted its user as seen.
pub struct Known {
    pub user: Arc<User>,
    /// When the row was read or written (noted before): it is served at most [`CACHE_SECS`]
    /// from then, and what is derived from it holds only while no forget came since.
    pub read: Mark,
    noted: AtomicI64,
}

/// Cheap to clone: clones share the rows and the pending sightings.
#[derive(Clone)]
pub struct KnownUsers {
    rows: Cache<String, Arc<Known>, foldhash::fast::RandomState>,
    /// Moves on every forget of a user (by stripe): a row read or written before one is not
    /// kept, and what was derived from it no longer holds.
    generations: Arc<Striped>,
    /// Users found to have no row.
    absent: Cache<String, (), foldhash::fast::RandomState>,
    pending: Arc<Mutex<HashMap<String, Pending>>>,
}

/// A noted sighting waiting for the flush.
#[derive(Debug, Clone, Copy)]
struct Pending {
    at: i64,
    first_of_day: bool,
}

impl Default for KnownUsers {
    fn default() -> Self {
        KnownUsers {
            rows: Cache::builder()
                .max_capacity(MAX_ROWS)
                .time_to_live(Duration::from_secs(CACHE_SECS))
                .build_with_hasher(foldhash::fast::RandomState::default()),
            absent: Cache::builder()
                .max_capacity(MAX_ROWS)
                .time_to_live(Duration::from_secs(CACHE_SECS))
                .build_with_hasher(foldhash::fast::RandomState::default()),
            pending: Arc::new(Mutex::new(HashMap::new())),
            generations: Arc::default(),
        }
    }
}

impl KnownUsers {
    pub fn get(&self, clerk_id: &str) -> Option<Arc<Known>> {
        self.rows.get(clerk_id)
    }

    /// Where the forgets of `clerk_id` are now.
    pub fn generation(&self, clerk_id: &str) -> u64 {
        self.generations.of(clerk_id).read()
    }

    /// Note it before reading or writing the row of `clerk_id`, and give it to [`Self::keep`].
    pub fn mark(&self, clerk_id: &str) -> Mark {
        self.generations.of(clerk_id).mark()
    }

    /// Keeps `user` as read or written after `read`; a forget since then (before or after this
    /// insert) leaves it out of memory.
    pub fn keep(&self, user: Arc<User>, read: Mark) -> Arc<Known> {
        let known = Arc::new(Known {
            noted: AtomicI64::new(user.last_seen_at.unwrap_or(0)),
            read,
            user,
        });
        let clerk_id = &known.user.clerk_id;
        self.absent.invalidate(clerk_id);
        self.rows.insert(clerk_id.clone(), Arc::clone(&known));
        if self.generations.of(clerk_id).moved_since(read.generation) {
            self.rows.invalidate(clerk_id);
        }
        known
    }

    /// Keeps a row this request just wrote (first sight, or a newer token's profile): like
    /// [`Self::keep`], and what was derived from the row as it was before (the memos of the
    /// user's other tokens, `auth::user`) no longer holds, since the generation moves on. The
    /// row itself is marked with the new generation, unless a forget came first (then it is not
    /// kept).
    pub fn keep_written(&self, user: Arc<User>, read: Mark) -> Arc<Known> {
        match self
            .generations
            .of(&user.clerk_id)
            .advance_from(read.generation)
        {
            Some(generation) => self.keep(
                user,
                Mark {
                    generation,
                    at: read.at,
                },
            ),
            None => self.keep(user, read),
        }
    }

    /// Forgets a user whose row just changed (a webhook, an admin action).
    pub fn forget(&self, clerk_id: &str) {
        self.generations.of(clerk_id).advance();
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
        let read = self.mark(clerk_id);
        let Some(user) = users::find_by_clerk_id(pool, clerk_id).await? else {
            self.absent.insert(clerk_id.to_owned(), ());
            if self.generations.of(clerk_id).moved_since(read.generation) {
                self.absent.invalidate(clerk_id);
            }
            return Ok(None);
        };
        Ok(Some(Arc::clone(&self.keep(Arc::new(user), read).user)))
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
        self.add_pending(&known.user.clerk_id, now, day_of(last) != day_of(now));
    }

    /// Notes a user whose row was just written on the request path (first sight, or a newer
    /// profile from the token), which keeps `last_seen_at` within its day: the flush moves it,
    /// and the day counters, when the day changed.
    pub fn note_written(&self, known: &Known, now: i64) {
        known.noted.store(now, Ordering::Relaxed);
        self.add_pending(&known.user.clerk_id, now, true);
    }

    fn add_pending(&self, clerk_id: &str, at: i64, first_of_day: bool) {
        let mut pending = self.lock();
        if let Some(waiting) = pending.get_mut(clerk_id) {
            // An earlier note of the same batch may have been the day's first.
            waiting.first_of_day |= first_of_day;
            waiting.at = waiting.at.max(at);
        } else if pending.len() < MAX_PENDING {
            pending.insert(clerk_id.to_owned(), Pending { at, first_of_day });
        }
    }

    /// Writes the noted sightings; on failure they are put back for the next flush.
    pub async fn flush(&self, pool: &sqlx::AnyPool) -> Result<usize, sqlx::Error> {
        let batch: Vec<Sighting> = std::mem::take(&mut *self.lock())
            .into_iter()
            .map(|(clerk_id, p)| Sighting {
                clerk_id,
                at: p.at,
                first_of_day: p.first_of_day,
            })
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = activity::record(pool, &batch).await {
            for sighting in batch {
                self.add_pending(&sighting.clerk_id, sighting.at, sighting.first_of_day);
            }
            return Err(e);
        }
        Ok(batch.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(clerk_id: &str, last_seen_at: Option<i64>) -> Arc<User> {
        Arc::new(User {
            id: 1,
            clerk_id: clerk_id.to_owned(),
            email: String::new(),
            username: String::new(),
            first_name: None,
            last_name: None,
            image_url: None,
            role: None,
            banned: false,
            created_at: 0,
            updated_at: 0,
            last_seen_at,
            clerk_updated_at: None,
            claims_iat: None,
            deleted_at: None,
            sessions_revoked_at: None,
            role_changed_at: None,
        })
    }

    fn pending(known: &KnownUsers, clerk_id: &str) -> Option<(i64, bool)> {
        known.lock().get(clerk_id).map(|p| (p.at, p.first_of_day))
    }

    #[test]
    fn a_written_row_moves_the_generation_unless_a_forget_came_first() {
        let known = KnownUsers::default();
        let before = known.mark("user_w");
        let written = known.keep_written(user("user_w", None), before);
        assert_eq!(known.generation("user_w"), before.generation + 1);
        assert_eq!(
            written.read.generation,
            known.generation("user_w"),
            "marked as of the write"
        );
        assert!(known.get("user_w").is_some());

        let read = known.mark("user_late_write");
        known.forget("user_late_write");
        let late = known.keep_written(user("user_late_write", None), read);
        assert_ne!(late.read.generation, known.generation("user_late_write"));
        assert!(
            known.get("user_late_write").is_none(),
            "written before a forget: not kept"
        );
    }

    #[test]
    fn a_sighting_is_the_days_first_only_after_a_sighting_of_another_day() {
        let midnight = 20_788 * 86_400;
        let known = KnownUsers::default();
        let late = known.keep(
            user("user_late", Some(midnight - 30)),
            known.mark("user_late"),
        );
        known.note_seen(&late, midnight + 60);
        assert_eq!(pending(&known, "user_late"), Some((midnight + 60, true)));
        // A later note of the same batch keeps the mark.
        known.note_seen(&late, midnight + 200);
        assert_eq!(pending(&known, "user_late"), Some((midnight + 200, true)));

        let early = known.keep(
            user("user_early", Some(midnight + 5)),
            known.mark("user_early"),
        );
        known.note_seen(&early, midnight + 100);
        assert_eq!(pending(&known, "user_early"), Some((midnight + 100, false)));

        let never = known.keep(user("user_never", None), known.mark("user_never"));
        known.note_seen(&never, midnight + 100);
        assert_eq!(pending(&known, "user_never"), Some((midnight + 100, true)));

        // Written on the request path: the day is recorded by the flush, and the next note
        // within the resolution is not pending again.
        let fresh = known.keep(
            user("user_fresh", Some(midnight + 100)),
            known.mark("user_fresh"),
        );
        known.note_written(&fresh, midnight + 100);
        assert_eq!(pending(&known, "user_fresh"), Some((midnight + 100, true)));
    }
}
