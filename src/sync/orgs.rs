//! `clerk-rocket sync`, second part: the organizations and memberships tables reconciled with
//! the Backend API.
//!
//! Pages through `GET /v1/organizations`, applies each page with the webhooks' merge
//! ([`org_merge`]: ordered, tombstones stay), then each organization's
//! `GET /v1/organizations/{id}/memberships`; a membership stored before a listing that completed
//! and missing from it is ended when its user's memberships (`?user_id=`) do not hold it either. An organization missing from the listing is tombstoned only when the listing
//! completed and `GET /v1/organizations/{id}` answers 404. A dry run applies each page in a
//! transaction that it rolls back, so its counts are exactly what a run would do.

use std::collections::HashSet;

use sqlx::AnyPool;

use super::org_merge;
use super::profile::Applied;
use super::{DriftSummary, SyncError};
use crate::clerk::backend_api::BackendApi;
use crate::clerk::organizations::Presence;
use crate::clerk::token::now;
use crate::db::{memberships, organizations, write_transaction, Tombstone};

/// What a run of the organizations part changed (or, dry, would change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgDrift {
    pub organizations: DriftSummary,
    pub memberships: DriftSummary,
}

/// Reconciles organizations and memberships; `limit` is the page size (1 to 500). `Ok(None)`:
/// the instance has Organizations turned off, and nothing was read or written.
pub async fn run(
    api: &BackendApi,
    pool: &AnyPool,
    limit: u32,
    dry_run: bool,
) -> Result<Option<OrgDrift>, SyncError> {
    let limit = limit.clamp(1, 500);
    let mut drift = OrgDrift::default();
    let mut seen = HashSet::new();
    let mut live = Vec::new();
    let mut offset = 0u64;
    loop {
        let Some(page) = api.list_organizations(limit, offset).await? else {
            return Ok(None);
        };
        let count = page.len() as u64;
        let mut tx = write_transaction(pool).await?;
        let now = now();
        for org in page.iter().filter(|o| seen.insert(o.id.clone())) {
            drift.organizations.listed += 1;
            let applied = org_merge::upsert_organization(&mut tx, org, now).await?;
            drift.organizations.count(applied);
            if applied != Applied::Deleted {
                live.push(org.id.clone());
            }
        }
        finish(tx, dry_run).await?;
        if count < u64::from(limit) {
            break;
        }
        offset += count;
    }

    let missing: Vec<String> = organizations::live_clerk_ids(pool)
        .await?
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    for clerk_id in missing {
        match api.organization_presence(&clerk_id).await? {
            Presence::Gone => {
                let tombstoned = tombstone(pool, &clerk_id, dry_run).await?;
                drift.organizations.tombstoned += u64::from(tombstoned);
            }
            // Listed late (a page shifted): its members are reconciled like the others'.
            Presence::Present => live.push(clerk_id),
        }
    }

    for org_id in live {
        if !members(api, pool, &org_id, limit, dry_run, &mut drift.memberships).await? {
            // Gone between the two listings.
            let tombstoned = tombstone(pool, &org_id, dry_run).await?;
            drift.organizations.tombstoned += u64::from(tombstoned);
        }
    }
    Ok(Some(drift))
}

/// Reconciles one organization's memberships; `false` when Clerk no longer has it.
async fn members(
    api: &BackendApi,
    pool: &AnyPool,
    org_id: &str,
    limit: u32,
    dry_run: bool,
    drift: &mut DriftSummary,
) -> Result<bool, SyncError> {
    // Read before the listing: a member who joins meanwhile (a webhook) is not taken for gone.
    let stored = memberships::live_of(pool, org_id).await?;
    let mut seen = HashSet::new();
    let mut offset = 0u64;
    loop {
        let Some(page) = api.list_memberships(org_id, limit, offset).await? else {
            return Ok(false);
        };
        let count = page.len() as u64;
        let mut tx = write_transaction(pool).await?;
        let now = now();
        for membership in page.iter().filter(|m| seen.insert(m.id.clone())) {
            drift.listed += 1;
            drift.count(org_merge::upsert_membership(&mut tx, membership, now).await?);
        }
        finish(tx, dry_run).await?;
        if count < u64::from(limit) {
            break;
        }
        offset += count;
    }
    // The listing completed. A membership stored before it and missing from it is asked about
    // by its user (offset pages skip one when another is deleted meanwhile): ended only when
    // Clerk no longer lists it.
    for (clerk_id, user_id) in stored.into_iter().filter(|(id, _)| !seen.contains(id)) {
        let Some(held) = api.memberships_of_user(org_id, &user_id).await? else {
            return Ok(false);
        };
        let mut tx = write_transaction(pool).await?;
        let now = now();
        if let Some(membership) = held.iter().find(|m| m.id == clerk_id) {
            drift.listed += 1;
            drift.count(org_merge::upsert_membership(&mut tx, membership, now).await?);
        } else {
            let ended = org_merge::end_membership(&mut tx, &clerk_id, now).await?;
            drift.tombstoned += u64::from(ended != Tombstone::Already);
        }
        finish(tx, dry_run).await?;
    }
    Ok(true)
}

async fn tombstone(pool: &AnyPool, clerk_id: &str, dry_run: bool) -> Result<bool, SyncError> {
    let mut tx = write_transaction(pool).await?;
    let marked = org_merge::delete_organization(&mut tx, clerk_id, now()).await?;
    finish(tx, dry_run).await?;
    Ok(marked != Tombstone::Already)
}

/// Commits, or rolls back a dry run.
async fn finish(
    tx: sqlx::Transaction<'static, sqlx::Any>,
    dry_run: bool,
) -> Result<(), sqlx::Error> {
    if dry_run {
        tx.rollback().await
    } else {
        tx.commit().await
    }
}
