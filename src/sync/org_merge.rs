//! Clerk's word on organizations and memberships, merged into the stored rows: the policy that
//! webhooks and `clerk-rocket sync` share, as `profile.rs` is for users. An object older than
//! the stored one changes nothing; a deleted organization or membership stays deleted; a
//! membership of an organization deleted here is not brought back either.

use sqlx::AnyConnection;

use super::profile::Applied;
use crate::clerk::organizations::{BackendMembership, BackendOrganization};
use crate::db::memberships::{self, Membership, StoredMembership};
use crate::db::organizations::{self, Organization, StoredOrganization};
use crate::db::Tombstone;

fn stored_organization(org: &BackendOrganization) -> StoredOrganization {
    let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    StoredOrganization {
        name: org.name.clone(),
        slug: text(&org.slug),
        image_url: text(&org.image_url),
    }
}

fn stored_membership(membership: &BackendMembership) -> StoredMembership {
    StoredMembership {
        organization_id: membership.organization.id.clone(),
        user_id: membership.public_user_data.user_id.clone(),
        identifier: membership.public_user_data.identifier.clone(),
        role: membership.role.clone(),
        permissions: membership.permissions.clone(),
    }
}

/// A stored row as [`plan`] compares it: its tombstone, Clerk's mark, and what it holds.
struct Held<S> {
    deleted_at: Option<i64>,
    clerk_updated_at: Option<i64>,
    stored: S,
}

/// What writing a Clerk object of `clerk_updated_at` over `existing` would do.
fn plan<S: PartialEq>(existing: Option<&Held<S>>, incoming: &S, clerk_updated_at: i64) -> Applied {
    match existing {
        None => Applied::Created,
        Some(row) if row.deleted_at.is_some() => Applied::Deleted,
        Some(row) if row.clerk_updated_at.is_some_and(|at| at > clerk_updated_at) => Applied::Stale,
        // Nothing visible changes (Clerk's mark may move on: see `held_back`).
        Some(row) if row.stored == *incoming => Applied::Unchanged,
        Some(_) => Applied::Updated,
    }
}

/// Whether `planned` writes nothing: stale, deleted, or an exact replay.
fn held_back<S>(planned: Applied, existing: Option<&Held<S>>, clerk_updated_at: i64) -> bool {
    match planned {
        Applied::Stale | Applied::Deleted => true,
        Applied::Unchanged => {
            existing.is_some_and(|row| row.clerk_updated_at == Some(clerk_updated_at))
        }
        Applied::Created | Applied::Updated => false,
    }
}

/// Stores an organization as Clerk describes it (`organization.created`/`.updated`, `sync`).
pub async fn upsert_organization(
    conn: &mut AnyConnection,
    org: &BackendOrganization,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    let incoming = stored_organization(org);
    let clerk_updated_at = org.updated_at.unwrap_or(0);
    let existing = organizations::find_by_clerk_id_in(&mut *conn, &org.id)
        .await?
        .map(|o: Organization| Held {
            deleted_at: o.deleted_at,
            clerk_updated_at: o.clerk_updated_at,
            stored: StoredOrganization::from(&o),
        });
    let planned = plan(existing.as_ref(), &incoming, clerk_updated_at);
    if held_back(planned, existing.as_ref(), clerk_updated_at) {
        return Ok(planned);
    }
    if organizations::upsert(conn, &org.id, &incoming, clerk_updated_at, now).await? {
        return Ok(planned);
    }
    // Another writer got there first (a newer event, or a deletion).
    let current = organizations::find_by_clerk_id_in(&mut *conn, &org.id).await?;
    Ok(if current.is_some_and(|o| o.deleted_at.is_some()) {
        Applied::Deleted
    } else {
        Applied::Stale
    })
}

/// Marks an organization deleted (`organization.deleted`, or gone from Clerk at `sync`), and
/// ends its memberships.
pub async fn delete_organization(
    conn: &mut AnyConnection,
    clerk_id: &str,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    organizations::lock_for_write(&mut *conn, clerk_id).await?;
    let marked = organizations::mark_deleted(&mut *conn, clerk_id, now).await?;
    memberships::end_all_of_organization(conn, clerk_id, now).await?;
    Ok(marked)
}

/// Stores a membership as Clerk describes it (`organizationMembership.created`/`.updated`,
/// `sync`). A membership of an organization deleted here is [`Applied::Deleted`].
pub async fn upsert_membership(
    conn: &mut AnyConnection,
    membership: &BackendMembership,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    organizations::lock_for_write(&mut *conn, &membership.organization.id).await?;
    let org = organizations::find_by_clerk_id_in(&mut *conn, &membership.organization.id).await?;
    if org.is_some_and(|o| o.deleted_at.is_some()) {
        return Ok(Applied::Deleted);
    }
    let incoming = stored_membership(membership);
    let clerk_updated_at = membership.updated_at.unwrap_or(0);
    let existing = memberships::find_by_clerk_id_in(&mut *conn, &membership.id)
        .await?
        .map(|m: Membership| Held {
            deleted_at: m.deleted_at,
            clerk_updated_at: m.clerk_updated_at,
            stored: StoredMembership::from(&m),
        });
    let planned = plan(existing.as_ref(), &incoming, clerk_updated_at);
    if held_back(planned, existing.as_ref(), clerk_updated_at) {
        return Ok(planned);
    }
    if memberships::upsert(conn, &membership.id, &incoming, clerk_updated_at, now).await? {
        return Ok(planned);
    }
    let current = memberships::find_by_clerk_id_in(&mut *conn, &membership.id).await?;
    Ok(if current.is_some_and(|m| m.deleted_at.is_some()) {
        Applied::Deleted
    } else {
        Applied::Stale
    })
}

/// Ends a membership (`organizationMembership.deleted`): whatever its order, a deletion wins.
pub async fn delete_membership(
    conn: &mut AnyConnection,
    membership: &BackendMembership,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    memberships::mark_deleted(conn, &membership.id, &stored_membership(membership), now).await
}

/// Ends a membership that `sync` found gone from its organization's complete listing.
pub async fn end_membership(
    conn: &mut AnyConnection,
    clerk_id: &str,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    let Some(existing) = memberships::find_by_clerk_id_in(&mut *conn, clerk_id).await? else {
        return Ok(Tombstone::Already);
    };
    memberships::mark_deleted(conn, clerk_id, &StoredMembership::from(&existing), now).await
}
