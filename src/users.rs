//! The user model, and every SQL statement that touches the `users` table.
//!
//! Statements use `$N` placeholders, which both SQLite and PostgreSQL accept, so that one string
//! serves both backends through sqlx's Any driver.
//!
//! Clerk is the source of truth for a user's profile: [`upsert_from_clerk`] (used by webhooks and
//! by `clerk-rocket sync` alike) applies what Clerk says, in Clerk's order. `clerk_updated_at`
//! holds Clerk's own `updated_at` **in milliseconds** (every other time here is unix seconds): an
//! event older than the stored one is ignored, so retries and reordered deliveries cannot roll a
//! user back. A deleted user keeps its row with `deleted_at` set (a tombstone), and nothing
//! written afterwards — a late `user.updated`, a sync, a still-valid token — clears it.

use serde::Serialize;
use sqlx::{Any, AnyConnection, AnyPool, Executor};

use crate::clerk::backend_api::BackendUser;

use crate::db::is_sqlite;

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
    /// Set when Clerk deleted the user: the row is a tombstone and stays one.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<i64>,
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
    deleted_at: Option<i64>,
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
            deleted_at: row.deleted_at,
        }
    }
}

const COLUMNS: &str = "id, clerk_id, email, username, first_name, last_name, image_url, role, \
                       banned, created_at, updated_at, last_seen_at, clerk_updated_at, deleted_at";

/// The row of `clerk_id`, tombstones included; on a pool or inside a transaction.
pub async fn find_by_clerk_id<'c, E>(
    executor: E,
    clerk_id: &str,
) -> Result<Option<User>, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM users WHERE clerk_id = $1");
    let row = sqlx::query_as::<_, UserRow>(&sql)
        .bind(clerk_id)
        .fetch_optional(executor)
        .await?;
    Ok(row.map(User::from))
}

/// What a verified session says about its user.
#[derive(Debug, Clone)]
pub struct SeenUser<'a> {
    pub clerk_id: &'a str,
    pub email: &'a str,
    /// `Some` when the token carries a role claim; `None` keeps the stored role.
    pub role: Option<&'a str>,
    /// `Some` when the token carries the claim (session token customisation); `None` keeps.
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub now: i64,
}

/// Creates the user on first sight or brings email, role and last-seen up to date, in one
/// statement: concurrent first requests of one user make exactly one row. A tombstone is never
/// written: it is returned as stored (with `deleted_at` set), for the caller to refuse.
pub async fn record_seen(pool: &AnyPool, seen: &SeenUser<'_>) -> Result<User, sqlx::Error> {
    let sql = format!(
        "INSERT INTO users (clerk_id, email, username, role, first_name, last_name, \
                            created_at, updated_at, last_seen_at) \
         VALUES ($1, $2, $2, $3, $5, $6, $4, $4, $4) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
             updated_at = CASE WHEN users.email <> excluded.email \
                               OR COALESCE(excluded.role, users.role, '') <> COALESCE(users.role, '') \
                               OR COALESCE(excluded.first_name, users.first_name, '') <> COALESCE(users.first_name, '') \
                               OR COALESCE(excluded.last_name, users.last_name, '') <> COALESCE(users.last_name, '') \
                          THEN excluded.updated_at ELSE users.updated_at END, \
             email = excluded.email, \
             username = CASE WHEN users.username = '' THEN excluded.username ELSE users.username END, \
             role = COALESCE(excluded.role, users.role), \
             first_name = COALESCE(excluded.first_name, users.first_name), \
             last_name = COALESCE(excluded.last_name, users.last_name), \
             last_seen_at = excluded.last_seen_at \
         WHERE users.deleted_at IS NULL \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<_, UserRow>(&sql)
        .bind(seen.clerk_id)
        .bind(seen.email)
        .bind(seen.role)
        .bind(seen.now)
        .bind(seen.first_name)
        .bind(seen.last_name)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => Ok(row.into()),
        // The row is a tombstone (the update's WHERE held it back).
        None => find_by_clerk_id(pool, seen.clerk_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound),
    }
}

/// A user as Clerk describes it (a webhook's user object or the Backend API's), ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkProfile {
    pub clerk_id: String,
    /// The primary email address; empty when Clerk has none (the stored one is then kept).
    pub email: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    /// `public_metadata.role`; `None` clears the stored role.
    pub role: Option<String>,
    pub banned: bool,
    /// Clerk's `updated_at`, in milliseconds (0 when Clerk sent none).
    pub clerk_updated_at: i64,
}

impl From<&BackendUser> for ClerkProfile {
    fn from(user: &BackendUser) -> Self {
        let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        ClerkProfile {
            clerk_id: user.id.clone(),
            email: user.primary_email().unwrap_or_default().to_owned(),
            username: text(&user.username),
            first_name: text(&user.first_name),
            last_name: text(&user.last_name),
            image_url: text(&user.image_url),
            role: user.role().map(str::to_owned),
            banned: user.banned,
            clerk_updated_at: user.updated_at.unwrap_or(0),
        }
    }
}

/// What applying a [`ClerkProfile`] did (or, for a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new row.
    Created,
    /// The stored profile changed.
    Updated,
    /// Nothing visible changed (Clerk's `updated_at` may have moved on).
    Unchanged,
    /// The stored row is newer than this profile: ignored.
    Stale,
    /// The stored row is a tombstone: ignored, it stays deleted.
    Deleted,
}

/// The columns an upsert writes, after merging the profile into the stored row.
#[derive(Debug, PartialEq, Eq)]
struct Merged {
    email: String,
    username: String,
    first_name: Option<String>,
    last_name: Option<String>,
    image_url: Option<String>,
    role: Option<String>,
    banned: bool,
}

fn merge(existing: Option<&User>, profile: &ClerkProfile) -> Merged {
    let email = match existing {
        Some(user) if profile.email.is_empty() => user.email.clone(),
        _ => profile.email.clone(),
    };
    // Clerk's username when it has one (many instances have none), else the stored one, else the
    // email: the seed's convention, as on first sight.
    let username = profile
        .username
        .clone()
        .or_else(|| {
            existing
                .map(|u| u.username.clone())
                .filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| email.clone());
    Merged {
        email,
        username,
        first_name: profile.first_name.clone(),
        last_name: profile.last_name.clone(),
        image_url: profile.image_url.clone(),
        role: profile.role.clone(),
        banned: profile.banned,
    }
}

fn stored(user: &User) -> Merged {
    Merged {
        email: user.email.clone(),
        username: user.username.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        image_url: user.image_url.clone(),
        role: user.role.clone(),
        banned: user.banned,
    }
}

/// What [`upsert_from_clerk`] would do to `existing` (the stored row, if any): pure, for dry runs.
pub fn plan(existing: Option<&User>, profile: &ClerkProfile) -> Applied {
    match existing {
        None => Applied::Created,
        Some(user) if user.deleted_at.is_some() => Applied::Deleted,
        Some(user)
            if user
                .clerk_updated_at
                .is_some_and(|at| at > profile.clerk_updated_at) =>
        {
            Applied::Stale
        }
        Some(user) if stored(user) == merge(Some(user), profile) => Applied::Unchanged,
        Some(_) => Applied::Updated,
    }
}

/// Stores what Clerk says about a user, unless the stored row is newer (by Clerk's `updated_at`)
/// or a tombstone. Safe under concurrency: the ordering check is part of the write itself, so
/// of two racing events the older can never overwrite the newer.
pub async fn upsert_from_clerk(
    conn: &mut AnyConnection,
    profile: &ClerkProfile,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    let existing = find_by_clerk_id(&mut *conn, &profile.clerk_id).await?;
    let planned = plan(existing.as_ref(), profile);
    match (planned, &existing) {
        (Applied::Stale | Applied::Deleted, _) => return Ok(planned),
        // An exact replay: nothing to write.
        (Applied::Unchanged, Some(user))
            if user.clerk_updated_at == Some(profile.clerk_updated_at) =>
        {
            return Ok(planned)
        }
        _ => {}
    }
    // Merged with the row read above; the statement still keeps a stored email over an empty one,
    // for a row that a concurrent first request inserted meanwhile.
    let merged = merge(existing.as_ref(), profile);
    let updated_at = match (&existing, planned) {
        (Some(user), Applied::Unchanged) => user.updated_at,
        _ => now,
    };
    let sql = format!(
        "INSERT INTO users (clerk_id, email, username, first_name, last_name, image_url, role, \
                            banned, created_at, updated_at, clerk_updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
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
             clerk_updated_at = excluded.clerk_updated_at \
         WHERE users.deleted_at IS NULL \
           AND (users.clerk_updated_at IS NULL OR users.clerk_updated_at <= excluded.clerk_updated_at) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<_, UserRow>(&sql)
        .bind(&profile.clerk_id)
        .bind(&merged.email)
        .bind(&merged.username)
        .bind(&merged.first_name)
        .bind(&merged.last_name)
        .bind(&merged.image_url)
        .bind(&merged.role)
        .bind(i16::from(merged.banned))
        .bind(now)
        .bind(updated_at)
        .bind(profile.clerk_updated_at)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(_) => Ok(planned),
        // Another writer got there first (a newer event, or a deletion).
        None => {
            let current = find_by_clerk_id(&mut *conn, &profile.clerk_id).await?;
            Ok(match current {
                Some(user) if user.deleted_at.is_some() => Applied::Deleted,
                _ => Applied::Stale,
            })
        }
    }
}

/// What [`mark_deleted`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstone {
    /// The user was unknown here: a tombstone row now stands in its place, so that a late
    /// `user.created` or `user.updated` cannot bring it to life.
    New,
    /// The row is now marked deleted.
    Marked,
    /// It already was.
    Already,
}

/// Marks the user deleted at `now`, keeping its row (id, profile, history). Never undone.
pub async fn mark_deleted(
    conn: &mut AnyConnection,
    clerk_id: &str,
    now: i64,
) -> Result<Tombstone, sqlx::Error> {
    let existing = find_by_clerk_id(&mut *conn, clerk_id).await?;
    if existing.as_ref().is_some_and(|u| u.deleted_at.is_some()) {
        return Ok(Tombstone::Already);
    }
    let result = sqlx::query(
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
    Ok(match (existing, result.rows_affected()) {
        (_, 0) => Tombstone::Already,
        (None, _) => Tombstone::New,
        (Some(_), _) => Tombstone::Marked,
    })
}

/// The Clerk ids of every user not marked deleted (for `clerk-rocket sync`).
pub async fn live_clerk_ids(pool: &AnyPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT clerk_id FROM users WHERE deleted_at IS NULL ORDER BY id")
        .fetch_all(pool)
        .await
}

/// How stale `last_seen_at` may get before a request writes it again; keeps the hot path a read.
pub const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

impl User {
    /// Whether `seen` would change nothing worth a write.
    pub fn is_current(&self, seen: &SeenUser<'_>) -> bool {
        let same = |stored: &Option<String>, seen: Option<&str>| {
            seen.is_none_or(|v| stored.as_deref() == Some(v))
        };
        self.email == seen.email
            && same(&self.first_name, seen.first_name)
            && same(&self.last_name, seen.last_name)
            && seen
                .role
                .is_none_or(|role| self.role.as_deref() == Some(role))
            && self
                .last_seen_at
                .is_some_and(|at| seen.now - at < LAST_SEEN_RESOLUTION_SECS)
    }
}

/// Unix seconds as text for people: `26 Nov 2026, 06:29 UTC`.
pub fn format_time(secs: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Serialises unix seconds as RFC 3339 text (`2026-11-26T05:56:48Z`).
mod rfc3339 {
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

/// Where a page of the user list starts, in the list's order (newest first, by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    First,
    /// The users older than this id (the next page).
    After(i64),
    /// The users newer than this id (the previous page).
    Before(i64),
}

/// One page of users, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<User>,
    /// Whether older users follow the last one of this page.
    pub has_older: bool,
    /// Whether newer users precede the first one.
    pub has_newer: bool,
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
) -> Result<UserPage, sqlx::Error> {
    let query = query.trim();
    let (bound, order) = match start {
        PageStart::First | PageStart::After(_) => ("<", "DESC"),
        PageStart::Before(_) => (">", "ASC"),
    };
    let anchor = match start {
        PageStart::First => i64::MAX,
        PageStart::After(id) | PageStart::Before(id) => id,
    };
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
    let mut statement = sqlx::query_as::<_, UserRow>(&sql)
        .bind(anchor)
        .bind(i64::from(limit) + 1);
    if !query.is_empty() {
        let pattern = if is_sqlite(pool) && query.chars().count() >= MIN_INDEXED_QUERY {
            format!("\"{}\"", query.replace('"', "\"\""))
        } else {
            format!("%{}%", like_escape(&query.to_lowercase()))
        };
        statement = statement.bind(pattern);
    }
    let mut users: Vec<User> = statement
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(User::from)
        .collect();
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    Ok(match start {
        PageStart::Before(_) => {
            users.reverse();
            UserPage {
                users,
                has_older: true,
                has_newer: more,
            }
        }
        PageStart::After(_) => UserPage {
            users,
            has_older: more,
            has_newer: true,
        },
        PageStart::First => UserPage {
            users,
            has_older: more,
            has_newer: false,
        },
    })
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query_as::<_, UserRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(User::from))
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
