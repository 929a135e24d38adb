//! The user model, and every SQL statement that touches the `users` table.
//!
//! Statements use `$N` placeholders, which both SQLite and PostgreSQL accept, so that one string
//! serves both backends through sqlx's Any driver.

use serde::Serialize;
use sqlx::AnyPool;

use crate::db::is_sqlite;

/// A user as stored locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    pub updated_at: i64,
    #[serde(with = "rfc3339::option")]
    pub last_seen_at: Option<i64>,
    #[serde(skip)]
    pub clerk_updated_at: Option<i64>,
    #[serde(with = "rfc3339::option")]
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

pub async fn find_by_clerk_id(pool: &AnyPool, clerk_id: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE clerk_id = $1");
    let row = sqlx::query_as::<_, UserRow>(&sql)
        .bind(clerk_id)
        .fetch_optional(pool)
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
/// statement: concurrent first requests of one user make exactly one row.
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
             role = COALESCE(excluded.role, users.role), \
             first_name = COALESCE(excluded.first_name, users.first_name), \
             last_name = COALESCE(excluded.last_name, users.last_name), \
             last_seen_at = excluded.last_seen_at \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<_, UserRow>(&sql)
        .bind(seen.clerk_id)
        .bind(seen.email)
        .bind(seen.role)
        .bind(seen.now)
        .bind(seen.first_name)
        .bind(seen.last_name)
        .fetch_one(pool)
        .await?;
    Ok(row.into())
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
