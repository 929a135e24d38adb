//! The user model, and every SQL statement that touches the `users` table.
//!
//! Statements use `$N` placeholders, which both SQLite and PostgreSQL accept, so that one string
//! serves both backends through sqlx's Any driver.

use serde::Serialize;
use sqlx::AnyPool;

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
