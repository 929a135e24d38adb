//! The directory of users and organizations as administrators browse it: checked list
//! parameters and look-ups by either id (pages and their links: `db::pagination::Window`). The
//! JSON API and the admin pages answer from the same functions.

use sqlx::AnyPool;

use crate::db::organizations::{self, Organization};
use crate::db::pagination::{self, PageStart};
use crate::db::users::{self, User};
use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;
/// Longer searches are refused rather than run.
pub const MAX_QUERY_CHARS: usize = 200;

/// The parameters of a user list request, checked.
pub struct ListParams<'a> {
    pub query: &'a str,
    pub start: PageStart,
    pub limit: u32,
}

impl<'a> ListParams<'a> {
    pub fn parse(
        q: Option<&'a str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let query = q.unwrap_or("").trim();
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(bad(format!(
                "q is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        if query.chars().any(char::is_control) {
            return Err(bad("q contains control characters"));
        }
        let limit = match limit.map(str::trim).filter(|l| !l.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(bad(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}, found {:?}",
                        truncate(text)
                    )))
                }
            },
        };
        let start = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => PageStart::First,
            Some(c) => pagination::decode(c).map_err(|e| bad(e.to_string()))?,
        };
        Ok(ListParams {
            query,
            start,
            limit,
        })
    }
}

/// The client's text as a refusal echoes it: short, printable ASCII only.
fn truncate(text: &str) -> String {
    crate::echo::printable(text, 40)
}

/// One user by local id or Clerk id, as both the JSON API and the admin page accept them.
pub async fn find(pool: &AnyPool, id: &str) -> ApiResult<User> {
    let found = if is_clerk_id(id, "user_") {
        users::find_by_clerk_id(pool, id).await?
    } else {
        match id.parse::<i64>() {
            Ok(n) if n > 0 => users::find_by_id(pool, n).await?,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "id must be a positive whole number or a Clerk user id (user_…), found {:?}",
                    truncate(id)
                )))
            }
        }
    };
    found.ok_or(ApiError::NotFound)
}

/// One organization by local id or Clerk id (`org_…`), tombstones included.
pub async fn find_organization(pool: &AnyPool, id: &str) -> ApiResult<Organization> {
    let found = if is_clerk_id(id, "org_") {
        organizations::find_by_clerk_id(pool, id).await?
    } else {
        match id.parse::<i64>() {
            Ok(n) if n > 0 => organizations::find_by_id(pool, n).await?,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "id must be a positive whole number or a Clerk organization id (org_…), \
                     found {:?}",
                    truncate(id)
                )))
            }
        }
    };
    found.ok_or(ApiError::NotFound)
}

/// Whether `id` is a Clerk id with `prefix` of at most 64 characters (anything else, a NUL byte
/// among them, which PostgreSQL refuses in text, never reaches a query).
fn is_clerk_id(id: &str, prefix: &str) -> bool {
    id.len() <= 64 && crate::clerk::token::is_clerk_id(id, prefix)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}
