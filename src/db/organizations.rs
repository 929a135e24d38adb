//! The organization model, and every SQL statement that touches the `organizations` table.
//!
//! As for users (`users.rs`): only Clerk's webhooks and `sync` write a row, ordered by
//! `clerk_updated_at` (Clerk's `updated_at`, in milliseconds) inside the write itself, and a
//! deleted organization keeps its row as a tombstone that nothing written afterwards clears.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};

use super::pagination::{Keyed, PageStart, Window};
use super::users::rfc3339;
use super::{query, query_as, query_scalar, substring_pattern, unit, Tombstone};

/// An organization as stored locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Organization {
    pub id: i64,
    pub clerk_id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
    /// Clerk's `updated_at` of the stored organization, in **milliseconds**.
    #[serde(skip)]
    pub clerk_updated_at: Option<i64>,
    /// Set when Clerk deleted the organization: the row is a tombstone and stays one.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<i64>,
}

impl Keyed for Organization {
    fn key(&self) -> i64 {
        self.id
    }
}

pub(super) const COLUMNS: &str =
    "id, clerk_id, name, slug, image_url, created_at, updated_at, clerk_updated_at, deleted_at";

/// What Clerk says about an organization, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrganization {
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
}

impl From<&Organization> for StoredOrganization {
    fn from(org: &Organization) -> Self {
        StoredOrganization {
            name: org.name.clone(),
            slug: org.slug.clone(),
            image_url: org.image_url.clone(),
        }
    }
}

/// The row of `clerk_id`, tombstones included.
pub async fn find_by_clerk_id_in(
    conn: &mut AnyConnection,
    clerk_id: &str,
) -> Result<Option<Organization>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM organizations WHERE clerk_id = $1");
    query_as::<Organization>(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await
}

/// [`find_by_clerk_id_in`] on its own.
pub async fn find_by_clerk_id(
    pool: &AnyPool,
    clerk_id: &str,
) -> Result<Option<Organization>, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let org = find_by_clerk_id_in(&mut unit, clerk_id).await?;
    unit.finish().await?;
    Ok(org)
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> Result<Option<Organization>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM organizations WHERE id = $1");
    let mut unit = unit(pool).await?;
    let org = query_as::<Organization>(&sql)
        .bind(id)
        .fetch_optional(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok(org)
}

/// Holds the organization `clerk_id` for this transaction's writes (PostgreSQL's advisory
/// transaction lock; SQLite's write transactions are serial already), so that a membership
/// written while its organization is deleted sees the deletion, whichever commits first.
pub async fn lock_for_write(conn: &mut AnyConnection, clerk_id: &str) -> Result<(), sqlx::Error> {
    if conn.backend_name() == "SQLite" {
        return Ok(());
    }
    query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(clerk_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes Clerk's organization `clerk_id` as of `clerk_updated_at` (milliseconds), unless the
/// stored row is newer or a tombstone; `false` when it was held back.
pub async fn upsert(
    conn: &mut AnyConnection,
    clerk_id: &str,
    org: &StoredOrganization,
    clerk_updated_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let written = query_scalar::<i64>(
        "INSERT INTO organizations (clerk_id, name, slug, image_url, created_at, updated_at, \
                                    clerk_updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             name = excluded.name, \
             slug = excluded.slug, \
             image_url = excluded.image_url, \
             updated_at = excluded.updated_at, \
             clerk_updated_at = excluded.clerk_updated_at \
         WHERE organizations.deleted_at IS NULL \
           AND (organizations.clerk_updated_at IS NULL \
                OR organizations.clerk_updated_at <= excluded.clerk_updated_at) \
         RETURNING id",
    )
    .bind(clerk_id)
    .bind(&org.name)
    .bind(&org.slug)
    .bind(&org.image_url)
    .bind(now)
    .bind(clerk_updated_at)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(written.is_some())
}

/// Marks the organization deleted at `now` (a tombstone row when it was unknown here). Never
/// undone.
pub async fn mark_deleted(
    conn: &mut AnyConnection,
    clerk_id: &str,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    let existing = find_by_clerk_id_in(&mut *conn, clerk_id).await?;
    if existing.as_ref().is_some_and(|o| o.deleted_at.is_some()) {
        return Ok(Tombstone::Already);
    }
    let result = query(
        "INSERT INTO organizations (clerk_id, name, created_at, updated_at, deleted_at) \
         VALUES ($1, '', $2, $2, $2) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             deleted_at = excluded.deleted_at, \
             updated_at = excluded.updated_at \
         WHERE organizations.deleted_at IS NULL",
    )
    .bind(clerk_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Tombstone::written(
        existing.is_some(),
        result.rows_affected(),
    ))
}

/// Whether any organization is stored and not deleted (the instance has organizations).
pub async fn any_live(pool: &AnyPool) -> Result<bool, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let found: Option<i64> =
        query_scalar("SELECT id FROM organizations WHERE deleted_at IS NULL LIMIT 1")
            .fetch_optional(&mut *unit)
            .await?;
    unit.finish().await?;
    Ok(found.is_some())
}

/// The Clerk ids of every organization not marked deleted (for `clerk-rocket sync`).
pub async fn live_clerk_ids(pool: &AnyPool) -> Result<Vec<String>, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let ids =
        query_scalar("SELECT clerk_id FROM organizations WHERE deleted_at IS NULL ORDER BY id")
            .fetch_all(&mut *unit)
            .await?;
    unit.finish().await?;
    Ok(ids)
}

/// A page of organizations whose name, slug or Clerk id contain `query` (case-insensitive),
/// newest first, by keyset on `id`. (Organizations are few next to users: a filtered walk of
/// the primary key serves SQLite; PostgreSQL has a trigram index on the same expression.)
pub async fn search(
    pool: &AnyPool,
    query: &str,
    start: PageStart,
    limit: u32,
) -> Result<Window<Organization>, sqlx::Error> {
    let query = query.trim();
    let (bound, order, anchor) = start.keyset();
    let filter = if query.is_empty() {
        ""
    } else {
        "AND lower(name || ' ' || coalesce(slug, '') || ' ' || clerk_id) LIKE $3 ESCAPE '\\'"
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM organizations WHERE id {bound} $1 {filter} \
         ORDER BY id {order} LIMIT $2"
    );
    let mut statement = query_as::<Organization>(&sql)
        .bind(anchor)
        .bind(i64::from(limit) + 1);
    if !query.is_empty() {
        statement = statement.bind(substring_pattern(query));
    }
    let mut unit = unit(pool).await?;
    let rows = statement.fetch_all(&mut *unit).await?;
    unit.finish().await?;
    Ok(start.window(rows, limit))
}
