//! The membership model, and every SQL statement that touches the `memberships` table.
//!
//! A membership is one user's place in one organization (`orgmem_…`), written only from Clerk's
//! webhooks and `sync`, ordered by `clerk_updated_at` (milliseconds) inside the write. A deleted
//! membership keeps its row as a tombstone: a late `organizationMembership.updated` cannot bring
//! it back (a user who rejoins gets a new membership id, hence a new row).

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};

use super::organizations::Organization;
use super::pagination::{Keyed, PageStart, Window};
use super::users::rfc3339;
use super::{query, query_as, query_scalar, unit, Tombstone};

/// A membership as stored locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub id: i64,
    /// `orgmem_…`.
    pub clerk_id: String,
    /// The organization's Clerk id (`org_…`).
    pub organization_id: String,
    /// The member's Clerk id (`user_…`).
    pub user_id: String,
    /// The member's email address or username, as Clerk gave it.
    pub identifier: String,
    /// `org:admin`, `org:member`, or a custom `org:…` role.
    pub role: String,
    /// The role's permissions as Clerk sent them (system ones included).
    pub permissions: Vec<String>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
    /// Clerk's `updated_at` of the stored membership, in **milliseconds**.
    #[serde(skip)]
    pub clerk_updated_at: Option<i64>,
    /// Set when the membership ended (or its organization was deleted): a tombstone.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<i64>,
}

impl Keyed for Membership {
    fn key(&self) -> i64 {
        self.id
    }
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    id: i64,
    clerk_id: String,
    org_clerk_id: String,
    user_clerk_id: String,
    identifier: String,
    role: String,
    permissions: String,
    created_at: i64,
    updated_at: i64,
    clerk_updated_at: Option<i64>,
    deleted_at: Option<i64>,
}

impl From<MembershipRow> for Membership {
    fn from(row: MembershipRow) -> Self {
        Membership {
            id: row.id,
            clerk_id: row.clerk_id,
            organization_id: row.org_clerk_id,
            user_id: row.user_clerk_id,
            identifier: row.identifier,
            role: row.role,
            // Written by this module only, as a JSON array; anything else reads as none.
            permissions: serde_json::from_str(&row.permissions).unwrap_or_default(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            clerk_updated_at: row.clerk_updated_at,
            deleted_at: row.deleted_at,
        }
    }
}

const COLUMNS: &str = "id, clerk_id, org_clerk_id, user_clerk_id, identifier, role, permissions, \
                       created_at, updated_at, clerk_updated_at, deleted_at";

/// What Clerk says about a membership, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMembership {
    pub organization_id: String,
    pub user_id: String,
    pub identifier: String,
    pub role: String,
    pub permissions: Vec<String>,
}

impl From<&Membership> for StoredMembership {
    fn from(m: &Membership) -> Self {
        StoredMembership {
            organization_id: m.organization_id.clone(),
            user_id: m.user_id.clone(),
            identifier: m.identifier.clone(),
            role: m.role.clone(),
            permissions: m.permissions.clone(),
        }
    }
}

/// The row of `clerk_id`, tombstones included.
pub async fn find_by_clerk_id_in(
    conn: &mut AnyConnection,
    clerk_id: &str,
) -> Result<Option<Membership>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM memberships WHERE clerk_id = $1");
    let row = query_as::<MembershipRow>(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Membership::from))
}

fn permissions_json(permissions: &[String]) -> String {
    serde_json::to_string(permissions).unwrap_or_else(|_| "[]".to_owned())
}

/// Writes Clerk's membership `clerk_id` as of `clerk_updated_at` (milliseconds), unless the
/// stored row is newer or a tombstone; `false` when it was held back.
pub async fn upsert(
    conn: &mut AnyConnection,
    clerk_id: &str,
    membership: &StoredMembership,
    clerk_updated_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let written = query_scalar::<i64>(
        "INSERT INTO memberships (clerk_id, org_clerk_id, user_clerk_id, identifier, role, \
                                  permissions, created_at, updated_at, clerk_updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             identifier = excluded.identifier, \
             role = excluded.role, \
             permissions = excluded.permissions, \
             updated_at = excluded.updated_at, \
             clerk_updated_at = excluded.clerk_updated_at \
         WHERE memberships.deleted_at IS NULL \
           AND (memberships.clerk_updated_at IS NULL \
                OR memberships.clerk_updated_at <= excluded.clerk_updated_at) \
         RETURNING id",
    )
    .bind(clerk_id)
    .bind(&membership.organization_id)
    .bind(&membership.user_id)
    .bind(&membership.identifier)
    .bind(&membership.role)
    .bind(permissions_json(&membership.permissions))
    .bind(now)
    .bind(clerk_updated_at)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(written.is_some())
}

/// Marks the membership ended at `now`, inserting it as a tombstone when it was unknown here
/// (so that a late `created` or `updated` cannot bring it to life). Never undone.
pub async fn mark_deleted(
    conn: &mut AnyConnection,
    clerk_id: &str,
    membership: &StoredMembership,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    let existing = find_by_clerk_id_in(&mut *conn, clerk_id).await?;
    if existing.as_ref().is_some_and(|m| m.deleted_at.is_some()) {
        return Ok(Tombstone::Already);
    }
    let result = query(
        "INSERT INTO memberships (clerk_id, org_clerk_id, user_clerk_id, identifier, role, \
                                  permissions, created_at, updated_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             deleted_at = excluded.deleted_at, \
             updated_at = excluded.updated_at \
         WHERE memberships.deleted_at IS NULL",
    )
    .bind(clerk_id)
    .bind(&membership.organization_id)
    .bind(&membership.user_id)
    .bind(&membership.identifier)
    .bind(&membership.role)
    .bind(permissions_json(&membership.permissions))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Tombstone::written(
        existing.is_some(),
        result.rows_affected(),
    ))
}

/// Ends every live membership of an organization (it was deleted).
pub async fn end_all_of_organization(
    conn: &mut AnyConnection,
    org_clerk_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let result = query(
        "UPDATE memberships SET deleted_at = $2, updated_at = $2 \
         WHERE org_clerk_id = $1 AND deleted_at IS NULL",
    )
    .bind(org_clerk_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected())
}

/// The live memberships of an organization, as (membership, user) Clerk ids (for `sync`).
pub async fn live_of(
    pool: &AnyPool,
    org_clerk_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let ids = query_as(
        "SELECT clerk_id, user_clerk_id FROM memberships \
         WHERE org_clerk_id = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(org_clerk_id)
    .fetch_all(&mut *unit)
    .await?;
    unit.finish().await?;
    Ok(ids)
}

/// A page of an organization's live members, newest first, by keyset on `id`.
pub async fn members(
    pool: &AnyPool,
    org_clerk_id: &str,
    start: PageStart,
    limit: u32,
) -> Result<Window<Membership>, sqlx::Error> {
    let (bound, order, anchor) = start.keyset();
    let sql = format!(
        "SELECT {COLUMNS} FROM memberships \
         WHERE org_clerk_id = $3 AND deleted_at IS NULL AND id {bound} $1 \
         ORDER BY id {order} LIMIT $2"
    );
    let mut unit = unit(pool).await?;
    let rows = query_as::<MembershipRow>(&sql)
        .bind(anchor)
        .bind(i64::from(limit) + 1)
        .bind(org_clerk_id)
        .fetch_all(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok(start.window(rows.into_iter().map(Membership::from).collect(), limit))
}

/// How many live members an organization has.
pub async fn count_members(pool: &AnyPool, org_clerk_id: &str) -> Result<i64, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let count = query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE org_clerk_id = $1 AND deleted_at IS NULL",
    )
    .bind(org_clerk_id)
    .fetch_one(&mut *unit)
    .await?;
    unit.finish().await?;
    Ok(count)
}

/// A user's memberships (ended ones too), newest first, at most `limit`, each with its
/// organization when the organization is known here.
pub async fn of_user(
    pool: &AnyPool,
    user_clerk_id: &str,
    limit: u32,
) -> Result<Vec<(Membership, Option<Organization>)>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM memberships WHERE user_clerk_id = $1 ORDER BY id DESC LIMIT $2"
    );
    // Their organizations in one more statement, not one per membership.
    let orgs_sql = format!(
        "SELECT {} FROM organizations WHERE clerk_id IN \
             (SELECT org_clerk_id FROM memberships WHERE user_clerk_id = $1)",
        super::organizations::COLUMNS
    );
    let mut unit = unit(pool).await?;
    let rows = query_as::<MembershipRow>(&sql)
        .bind(user_clerk_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *unit)
        .await?;
    let orgs: HashMap<String, Organization> = query_as::<Organization>(&orgs_sql)
        .bind(user_clerk_id)
        .fetch_all(&mut *unit)
        .await?
        .into_iter()
        .map(|org| (org.clerk_id.clone(), org))
        .collect();
    unit.finish().await?;
    Ok(rows
        .into_iter()
        .map(Membership::from)
        .map(|m| {
            let org = orgs.get(&m.organization_id).cloned();
            (m, org)
        })
        .collect())
}

/// What this database knows of one user's place in one organization: the organization's row,
/// and the user's newest live membership of it, else their newest ended one.
pub async fn standing(
    pool: &AnyPool,
    user_clerk_id: &str,
    org_clerk_id: &str,
) -> Result<(Option<Organization>, Option<Membership>), sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM memberships WHERE user_clerk_id = $1 AND org_clerk_id = $2 \
         ORDER BY CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, id DESC LIMIT 1"
    );
    let mut unit = unit(pool).await?;
    let org = super::organizations::find_by_clerk_id_in(&mut unit, org_clerk_id).await?;
    let membership = query_as::<MembershipRow>(&sql)
        .bind(user_clerk_id)
        .bind(org_clerk_id)
        .fetch_optional(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok((org, membership.map(Membership::from)))
}
