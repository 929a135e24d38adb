//! `clerk-rocket sync`: reconciles the local users table with the Backend API's list of users.
//!
//! Pages through `GET /v1/users?limit=&offset=`, applies every user with the same upsert as the
//! webhooks ([`profile::upsert_from_clerk`]: order-aware, tombstones stay deleted), then tombstones
//! the local users that Clerk no longer has. A user missing from the listing is tombstoned only
//! when the listing completed and `GET /v1/users/{id}` answers 404: offset pages can skip a user
//! when another one is deleted meanwhile, and an interrupted run must not delete anyone.
//! Organizations and their memberships follow, in [`orgs`].

use std::collections::HashSet;
use std::time::Duration;

use sqlx::AnyPool;

pub mod org_merge;
pub mod orgs;
pub mod profile;

use crate::clerk::backend_api::{BackendApi, BackendApiError, BackendUser};
use crate::clerk::token::now;
use crate::db::users;
use crate::db::{write_transaction, Tombstone};
use profile::{Applied, ClerkProfile};

/// Users per page (Clerk allows 1 to 500).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// How the local table differs from Clerk (before a run), or what a run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftSummary {
    /// Users that Clerk listed.
    pub listed: u64,
    /// In Clerk, not here: created.
    pub created: u64,
    /// Here with another profile: updated.
    pub updated: u64,
    /// Here, gone from Clerk: tombstoned.
    pub tombstoned: u64,
    /// Here and the same.
    pub unchanged: u64,
    /// In Clerk, but deleted here (a tombstone is never undone).
    pub kept_deleted: u64,
    /// Here with a newer `updated_at` than Clerk's list (a webhook was faster): kept.
    pub stale: u64,
}

impl DriftSummary {
    /// Whether anything differs between Clerk and the local table.
    pub fn drift(&self) -> u64 {
        self.created + self.updated + self.tombstoned
    }

    fn count(&mut self, applied: Applied) {
        match applied {
            Applied::Created => self.created += 1,
            Applied::Updated => self.updated += 1,
            Applied::Unchanged => self.unchanged += 1,
            Applied::Stale => self.stale += 1,
            Applied::Deleted => self.kept_deleted += 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Only report: write nothing.
    pub dry_run: bool,
    pub page_size: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            dry_run: false,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// Where a run is, for a progress line.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// `listed` users read so far.
    Listing { listed: u64 },
    /// Checking `done` of `total` local users missing from the listing.
    Checking { done: u64, total: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Clerk(#[from] BackendApiError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Pages whose request failed are retried this many times, with a growing pause.
const ATTEMPTS: u32 = 3;

async fn page(api: &BackendApi, limit: u32, offset: u64) -> Result<Vec<BackendUser>, SyncError> {
    let mut attempt = 1;
    loop {
        match api.list_users(limit, offset).await {
            Ok(users) => return Ok(users),
            Err(BackendApiError::Unavailable(_)) if attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reconciles the users table of `pool` with Clerk; `progress` hears about every page.
pub async fn run(
    api: &BackendApi,
    pool: &AnyPool,
    options: SyncOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<DriftSummary, SyncError> {
    let limit = options.page_size.clamp(1, 500);
    let mut summary = DriftSummary::default();
    let mut seen = HashSet::new();
    let mut offset = 0u64;
    loop {
        let users = page(api, limit, offset).await?;
        let count = users.len() as u64;
        // A user listed twice (pages shifted under a concurrent sign-up) counts once.
        let fresh: Vec<&BackendUser> = users.iter().filter(|u| seen.insert(u.id.clone())).collect();
        summary.listed += fresh.len() as u64;
        for applied in apply_page(pool, &fresh, options.dry_run).await? {
            summary.count(applied);
        }
        progress(Progress::Listing {
            listed: summary.listed,
        });
        if count < u64::from(limit) {
            break;
        }
        offset += count;
    }

    let missing: Vec<String> = users::live_clerk_ids(pool)
        .await?
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    let total = missing.len() as u64;
    for (done, clerk_id) in missing.iter().enumerate() {
        progress(Progress::Checking {
            done: done as u64,
            total,
        });
        match api.user_uncached(clerk_id).await {
            Err(BackendApiError::UserNotFound(_)) => {
                let marked = if options.dry_run {
                    true
                } else {
                    let mut tx = write_transaction(pool).await?;
                    let marked = users::mark_deleted(&mut tx, clerk_id, now()).await?;
                    tx.commit().await?;
                    marked != Tombstone::Already
                };
                summary.tombstoned += u64::from(marked);
            }
            // Listed late (a page shifted): apply it like any other.
            Ok(user) => {
                summary.listed += 1;
                summary.count(apply(pool, &user, options.dry_run).await?);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if total > 0 {
        progress(Progress::Checking { done: total, total });
    }
    Ok(summary)
}

/// Applies one page in one transaction (one commit per page, not per user); a dry run only reads.
async fn apply_page(
    pool: &AnyPool,
    page: &[&BackendUser],
    dry_run: bool,
) -> Result<Vec<Applied>, SyncError> {
    let mut results = Vec::with_capacity(page.len());
    if dry_run {
        for user in page {
            results.push(apply(pool, user, true).await?);
        }
        return Ok(results);
    }
    let mut tx = write_transaction(pool).await?;
    let now = now();
    for user in page {
        results.push(profile::upsert_from_clerk(&mut tx, &ClerkProfile::from(*user), now).await?);
    }
    tx.commit().await?;
    Ok(results)
}

async fn apply(pool: &AnyPool, user: &BackendUser, dry_run: bool) -> Result<Applied, SyncError> {
    let profile = ClerkProfile::from(user);
    if dry_run {
        let existing = users::find_by_clerk_id(pool, &profile.clerk_id).await?;
        return Ok(profile::plan(existing.as_ref(), &profile));
    }
    let mut tx = write_transaction(pool).await?;
    let applied = profile::upsert_from_clerk(&mut tx, &profile, now()).await?;
    tx.commit().await?;
    Ok(applied)
}
