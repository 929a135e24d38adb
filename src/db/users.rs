//! The user model, and every SQL statement that touches the `users` table.
//!
//! Statements use `$N` placeholders, which both SQLite and PostgreSQL accept, so that one string
//! serves both backends through sqlx's Any driver.
//!
//! Only authoritative, ordered sources change a stored profile: Clerk's webhooks and `sync`
//! ([`upsert_profile`], ordered by `clerk_updated_at`, Clerk's own `updated_at` **in
//! milliseconds**; every other time here is unix seconds), and the first sight of a user. A
//! session token ([`record_seen`]) may fill email and names only when it is newer than both
//! Clerk's last change and the last token that did; its role claim is never stored. A deleted
//! user keeps its row with `deleted_at` set (a tombstone), and nothing written afterwards — a late
//! `user.updated`, a sync, a still-valid token — clears it.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};

use super::pagination::{Keyed, PageStart, Window};
use super::{is_sqlite, query, query_as, query_scalar, substring_pattern, unit, Tombstone};

/// A user as stored locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub clerk_id: String,
    pub email: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub role: Option<String>,
    pub banned: bool,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen_at: Option<i64>,
    /// Clerk's `updated_at` of the stored profile, in **milliseconds** (orders webhook events).
    #[serde(skip)]
    pub clerk_updated_at: Option<i64>,
    /// The `iat` of the newest session token whose claims filled the profile.
    #[serde(skip)]
    pub claims_iat: Option<i64>,
    /// Set when Clerk deleted the user: the row is a tombstone and stays one.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<i64>,
    /// When an administrator revoked every session of the user: tokens issued at or before it
    /// are refused.
    #[serde(skip)]
    pub sessions_revoked_at: Option<i64>,
    /// When the stored role was last set by an authoritative source (a webhook, `sync`, or this
    /// app's own action as Clerk confirmed it), in **milliseconds** of Clerk's clock; `None`:
    /// never. A token's role claim counts only when the token is newer ([`User::role_claim_counts`]).
    #[serde(skip)]
    pub role_changed_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    clerk_id: String,
    email: String,
    username: String,
    first_name: Option<String>,
    last_name: Option<String>,
    image_url: Option<String>,
    role: Option<String>,
    banned: i64,
    created_at: i64,
    updated_at: i64,
    last_seen_at: Option<i64>,
    clerk_updated_at: Option<i64>,
    claims_iat: Option<i64>,
    deleted_at: Option<i64>,
    sessions_revoked_at: Option<i64>,
    role_changed_at: Option<i64>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            clerk_id: row.clerk_id,
            email: row.email,
            username: row.username,
            first_name: row.first_name,
            last_name: row.last_name,
            image_url: row.image_url,
            role: row.role,
            banned: row.banned != 0,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_seen_at: row.last_seen_at,
            clerk_updated_at: row.clerk_updated_at,
            claims_iat: row.claims_iat,
            deleted_at: row.deleted_at,
            sessions_revoked_at: row.sessions_revoked_at,
            role_changed_at: row.role_changed_at,
        }
    }
}

const COLUMNS: &str = "id, clerk_id, email, username, first_name, last_name, image_url, role, \
                       banned, created_at, updated_at, last_seen_at, clerk_updated_at, claims_iat, \
                       deleted_at, sessions_revoked_at, role_changed_at";

impl User {
    /// One word for people: `deleted`, `banned` or `active`.
    pub fn state(&self) -> &'static str {
        if self.deleted_at.is_some() {
            "deleted"
        } else if self.banned {
            "banned"
        } else {
            "active"
        }
    }
}

impl Keyed for User {
    fn key(&self) -> i64 {
        self.id
    }
}

/// The row of `clerk_id`, tombstones included.
pub async fn find_by_clerk_id(pool: &AnyPool, clerk_id: &str) -> Result<Option<User>, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let user = find_by_clerk_id_in(&mut unit, clerk_id).await?;
    unit.finish().await?;
    Ok(user)
}

/// [`find_by_clerk_id`] inside a transaction (or a [`Unit`](super::Unit)).
pub async fn find_by_clerk_id_in(
    conn: &mut AnyConnection,
    clerk_id: &str,
) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE clerk_id = $1");
    let row = query_as::<UserRow>(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(User::from))
}

/// What a verified session says about its user.
#[derive(Debug, Clone)]
pub struct SeenUser<'a> {
    pub clerk_id: &'a str,
    pub email: &'a str,
    /// `Some` when the token carries the claim (session token customisation); `None` keeps.
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    /// The token's `iat`: its claims are written only when it is newer than the row's sources.
    pub issued_at: i64,
    pub now: i64,
}

impl User {
    /// Whether a token issued at `iat` is newer than Clerk's last change of this profile and no
    /// older than the last token that filled it, so that its claims may fill it. (Tokens carry
    /// whole seconds: two of the same second are equals.)
    #[must_use]
    pub fn accepts_claims_from(&self, iat: i64) -> bool {
        self.claims_iat.is_none_or(|at| iat >= at)
            && self
                .clerk_updated_at
                .is_none_or(|at| iat.saturating_mul(1000) > at)
    }

    /// Whether a role claim of a token issued at `iat` may stand for this user: only when the
    /// token is newer than the row's last authoritative word on the role (whole seconds against
    /// milliseconds: a token of the same second is not newer). A token without `iat` is older
    /// than any such word. A stored "no role" written after a token was minted thus means no
    /// role, whatever the token says.
    #[must_use]
    pub fn role_claim_counts(&self, iat: Option<i64>) -> bool {
        self.role_changed_at
            .is_none_or(|at| iat.is_some_and(|iat| iat.saturating_mul(1000) > at))
    }
}

/// Creates the user on first sight, or records that they were seen (and, from a token newer
/// than every source of the stored profile, its email and names), in one statement: concurrent
/// first requests of one user make exactly one row. A tombstone is never written: it is returned
/// as stored (with `deleted_at` set), for the caller to refuse. `last_seen_at` moves only within
/// its UTC day here: into a later day, the batched writer moves it with the dashboard's day
/// counters (`activity::record`).
pub async fn record_seen(pool: &AnyPool, seen: &SeenUser<'_>) -> Result<User, sqlx::Error> {
    // The same test as `User::accepts_claims_from`, inside the write, so that of two racing
    // tokens the older never wins.
    let fresh = "(excluded.claims_iat >= COALESCE(users.claims_iat, -1) \
                  AND excluded.claims_iat * 1000 > COALESCE(users.clerk_updated_at, -1))";
    let sql = format!(
        "INSERT INTO users (clerk_id, email, username, first_name, last_name, \
                            created_at, updated_at, last_seen_at, claims_iat) \
         VALUES ($1, $2, $2, $4, $5, $3, $3, $3, $6) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             updated_at = CASE WHEN {fresh} AND (users.email <> excluded.email \
                               OR COALESCE(excluded.first_name, users.first_name, '') <> COALESCE(users.first_name, '') \
                               OR COALESCE(excluded.last_name, users.last_name, '') <> COALESCE(users.last_name, '')) \
                          THEN excluded.updated_at ELSE users.updated_at END, \
             email = CASE WHEN {fresh} AND excluded.email <> '' THEN excluded.email ELSE users.email END, \
             username = CASE WHEN users.username = '' THEN excluded.username ELSE users.username END, \
             first_name = CASE WHEN {fresh} THEN COALESCE(excluded.first_name, users.first_name) \
                               ELSE users.first_name END, \
             last_name = CASE WHEN {fresh} THEN COALESCE(excluded.last_name, users.last_name) \
                              ELSE users.last_name END, \
             claims_iat = CASE WHEN {fresh} THEN excluded.claims_iat ELSE users.claims_iat END, \
             last_seen_at = CASE WHEN users.last_seen_at / 86400 = excluded.last_seen_at / 86400 \
                                 THEN excluded.last_seen_at ELSE users.last_seen_at END \
         WHERE users.deleted_at IS NULL \
         RETURNING {COLUMNS}"
    );
    let mut unit = unit(pool).await?;
    let row = query_as::<UserRow>(&sql)
        .bind(seen.clerk_id)
        .bind(seen.email)
        .bind(seen.now)
        .bind(seen.first_name)
        .bind(seen.last_name)
        .bind(seen.issued_at)
        .fetch_optional(&mut *unit)
        .await?;
    let user = match row {
        Some(row) => row.into(),
        // The row is a tombstone (the update's WHERE held it back).
        None => find_by_clerk_id_in(&mut unit, seen.clerk_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?,
    };
    unit.finish().await?;
    Ok(user)
}

/// The profile columns that Clerk owns, as [`upsert_profile`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProfile {
    pub email: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub role: Option<String>,
    pub banned: bool,
}

impl From<&User> for StoredProfile {
    fn from(user: &User) -> Self {
        StoredProfile {
            email: user.email.clone(),
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            image_url: user.image_url.clone(),
            role: user.role.clone(),
            banned: user.banned,
        }
    }
}

/// When a role written from Clerk's word as of `clerk_updated_at` (ms) was set: then, or now
/// when Clerk sent no time.
fn role_as_of(clerk_updated_at: i64, now: i64) -> i64 {
    if clerk_updated_at > 0 {
        clerk_updated_at
    } else {
        now.saturating_mul(1000)
    }
}

/// Writes Clerk's profile of `clerk_id` as of Clerk's `clerk_updated_at` (milliseconds), unless
/// the stored row is newer or a tombstone; `false` when it was held back. The ordering test is
/// part of the write, so of two racing events the older can never overwrite the newer. A stored
/// email or username is kept over an empty one (a row a concurrent first request inserted).
/// Clerk's word on the role is authoritative: it moves `role_changed_at`, and from then on only
/// tokens issued later may claim a role.
pub async fn upsert_profile(
    conn: &mut AnyConnection,
    clerk_id: &str,
    profile: &StoredProfile,
    clerk_updated_at: i64,
    now: i64,
    updated_at: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO users (clerk_id, email, username, first_name, last_name, image_url, role, \
                            banned, created_at, updated_at, clerk_updated_at, role_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             email = CASE WHEN excluded.email = '' THEN users.email ELSE excluded.email END, \
             username = CASE WHEN excluded.username = '' THEN users.username \
                             ELSE excluded.username END, \
             first_name = excluded.first_name, \
             last_name = excluded.last_name, \
             image_url = excluded.image_url, \
             role = excluded.role, \
             banned = excluded.banned, \
             updated_at = excluded.updated_at, \
             clerk_updated_at = excluded.clerk_updated_at, \
             role_changed_at = excluded.role_changed_at \
         WHERE users.deleted_at IS NULL \
           AND (users.clerk_updated_at IS NULL OR users.clerk_updated_at <= excluded.clerk_updated_at) \
         RETURNING {COLUMNS}"
    );
    let row = query_as::<UserRow>(&sql)
        .bind(clerk_id)
        .bind(&profile.email)
        .bind(&profile.username)
        .bind(&profile.first_name)
        .bind(&profile.last_name)
        .bind(&profile.image_url)
        .bind(&profile.role)
        .bind(i16::from(profile.banned))
        .bind(now)
        .bind(updated_at)
        .bind(clerk_updated_at)
        .bind(role_as_of(clerk_updated_at, now))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Marks the user deleted at `now`, keeping its row (id, profile, history). Never undone.
pub async fn mark_deleted(
    conn: &mut AnyConnection,
    clerk_id: &str,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    let existing = find_by_clerk_id_in(&mut *conn, clerk_id).await?;
    if existing.as_ref().is_some_and(|u| u.deleted_at.is_some()) {
        return Ok(Tombstone::Already);
    }
    let result = query(
        "INSERT INTO users (clerk_id, email, username, created_at, updated_at, deleted_at) \
         VALUES ($1, '', '', $2, $2, $2) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             deleted_at = excluded.deleted_at, \
             updated_at = excluded.updated_at \
         WHERE users.deleted_at IS NULL",
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

/// The Clerk ids of every user not marked deleted (for `clerk-rocket sync`).
pub async fn live_clerk_ids(pool: &AnyPool) -> Result<Vec<String>, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let ids = query_scalar("SELECT clerk_id FROM users WHERE deleted_at IS NULL ORDER BY id")
        .fetch_all(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok(ids)
}

/// An administrator's change to one user, written once Clerk accepted it (at once in local mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    Banned(bool),
    /// `public_metadata.role`; `None` removes it.
    Role(Option<String>),
    /// Every session ended: tokens issued up to now are refused.
    SessionsRevoked,
}

/// What [`moderate`] did to a live row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderated {
    /// The change is stored; the row as written.
    Written(User),
    /// The row already held a newer word from Clerk (a webhook of a later change, such as a
    /// demotion in Clerk's dashboard, arrived first): it is kept, and returned as stored.
    Superseded(User),
}

/// Writes `change` to the live row `id` at `now` (`None`: no live row has that id).
/// `clerk_updated_at` is the `updated_at` (ms) of Clerk's answer to the change (`None` in local
/// mode, where nothing orders it). A ban or a role is Clerk's word as of then, so it is written
/// only when no newer word is stored, by the same test as webhooks (`upsert_profile`), inside
/// the write: the later change wins by Clerk's time, whichever arrives first. The answer's time
/// moves the row's ordering mark forward, so that a webhook sent before the change and delivered
/// after it cannot undo it. A role moves `role_changed_at` to that time (now in local mode).
/// Ending every session is this app's own fact and is always written.
pub async fn moderate(
    conn: &mut AnyConnection,
    id: i64,
    change: &Moderation,
    clerk_updated_at: Option<i64>,
    now: i64,
) -> Result<Option<Moderated>, sqlx::Error> {
    let (column, ordered) = match change {
        Moderation::Banned(_) => ("banned", true),
        Moderation::Role(_) => ("role", true),
        Moderation::SessionsRevoked => ("sessions_revoked_at", false),
    };
    let role_changed_at = match change {
        Moderation::Role(_) => ", role_changed_at = $5",
        _ => "",
    };
    let newest = if ordered {
        "AND ($4 < 0 OR $4 >= COALESCE(clerk_updated_at, -1))"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE users SET {column} = $3, updated_at = $2{role_changed_at}, \
             clerk_updated_at = CASE WHEN $4 > COALESCE(clerk_updated_at, -1) \
                                     THEN $4 ELSE clerk_updated_at END \
         WHERE id = $1 AND deleted_at IS NULL {newest} \
         RETURNING {COLUMNS}"
    );
    let statement = query_as::<UserRow>(&sql).bind(id).bind(now);
    let statement = match change {
        Moderation::Banned(banned) => statement.bind(i16::from(*banned)),
        Moderation::Role(role) => statement.bind(role.clone()),
        Moderation::SessionsRevoked => statement.bind(now),
    };
    let statement = statement.bind(clerk_updated_at.unwrap_or(-1));
    let statement = match change {
        Moderation::Role(_) => {
            statement.bind(clerk_updated_at.unwrap_or_else(|| now.saturating_mul(1000)))
        }
        _ => statement,
    };
    if let Some(row) = statement.fetch_optional(&mut *conn).await? {
        return Ok(Some(Moderated::Written(row.into())));
    }
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
    let kept = query_as::<UserRow>(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(kept.map(|row| Moderated::Superseded(row.into())))
}

/// Serialises, until the end of `conn`'s transaction, the writes that may take admin power
/// away (an administrator's demotion or ban), so that the last-admin rule, checked inside each,
/// sees the others' outcome: PostgreSQL takes a transaction-scoped advisory lock; a SQLite write
/// transaction (`BEGIN IMMEDIATE`) holds the database's one write lock already.
pub async fn lock_admin_changes(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    if conn.backend_name() == "SQLite" {
        return Ok(());
    }
    // Any constant of this app's own: the key names "changes of the set of administrators".
    // Counted so that the answer has a type the Any driver reads (the function returns void).
    let _: i64 =
        query_scalar("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(7146389201)) AS locked")
            .fetch_one(&mut *conn)
            .await?;
    Ok(())
}

/// How many live, unbanned users hold the stored role `admin`.
pub async fn count_admins(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL AND banned = 0",
    )
    .fetch_one(&mut *conn)
    .await
}

/// How many live, unbanned users other than `clerk_id` hold the stored role `admin`.
pub async fn count_other_admins(
    conn: &mut AnyConnection,
    clerk_id: &str,
) -> Result<i64, sqlx::Error> {
    query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL AND banned = 0 \
         AND clerk_id <> $1",
    )
    .bind(clerk_id)
    .fetch_one(&mut *conn)
    .await
}

/// Serialises unix seconds as RFC 3339 text (`2026-11-26T05:56:48Z`).
// NOTE: serde fixes these signatures (`&i64`, `&Option<i64>`).
#[allow(clippy::trivially_copy_pass_by_ref, clippy::ref_option)]
pub(crate) mod rfc3339 {
    use serde::Serializer;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn format(secs: i64) -> String {
        OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default()
    }

    pub fn serialize<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*secs))
    }

    pub mod option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(secs: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match secs {
                Some(secs) => s.serialize_str(&super::format(*secs)),
                None => s.serialize_none(),
            }
        }
    }
}

/// Queries shorter than this cannot use the trigram indexes and scan the table instead.
pub const MIN_INDEXED_QUERY: usize = 3;

/// A page of users whose email, names or Clerk id contain `query` (case-insensitive), newest
/// first, by keyset on `id` (stable while users are added: no duplicates, no gaps).
pub async fn search(
    pool: &AnyPool,
    query: &str,
    start: PageStart,
    limit: u32,
) -> Result<Window<User>, sqlx::Error> {
    let query = query.trim();
    let (bound, order, anchor) = start.keyset();
    let filter = if query.is_empty() {
        String::new()
    } else if is_sqlite(pool) && query.chars().count() >= MIN_INDEXED_QUERY {
        // FTS5 trigram phrase (a substring of any one column). The keyset bound, order and limit
        // go inside, where FTS5 walks its rowids in order and stops early; outside, only the few
        // rows found are read.
        format!(
            "AND id IN (SELECT rowid FROM users_search WHERE users_search MATCH $3 \
                        AND rowid {bound} $1 ORDER BY rowid {order} LIMIT $2)"
        )
    } else if is_sqlite(pool) {
        "AND (lower(email) LIKE $3 ESCAPE '\\' OR lower(coalesce(first_name, '')) LIKE $3 ESCAPE '\\' \
             OR lower(coalesce(last_name, '')) LIKE $3 ESCAPE '\\' OR lower(clerk_id) LIKE $3 ESCAPE '\\')"
            .to_owned()
    } else {
        // The very expression of the pg_trgm index (migrations/postgres/0003).
        "AND lower(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || clerk_id) \
             LIKE $3 ESCAPE '\\'"
            .to_owned()
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE id {bound} $1 {filter} ORDER BY id {order} LIMIT $2"
    );
    let mut statement = query_as::<UserRow>(&sql)
        .bind(anchor)
        .bind(i64::from(limit) + 1);
    if !query.is_empty() {
        let pattern = if is_sqlite(pool) && query.chars().count() >= MIN_INDEXED_QUERY {
            format!("\"{}\"", query.replace('"', "\"\""))
        } else {
            substring_pattern(query)
        };
        statement = statement.bind(pattern);
    }
    let mut unit = unit(pool).await?;
    let rows = statement.fetch_all(&mut *unit).await?;
    unit.finish().await?;
    Ok(start.window(rows.into_iter().map(User::from).collect(), limit))
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let mut unit = unit(pool).await?;
    let row = query_as::<UserRow>(&sql)
        .bind(id)
        .fetch_optional(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok(row.map(User::from))
}
