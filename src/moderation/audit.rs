//! The audit trail as administrators read it: checked filters and cursors, and page links. The
//! JSON API and the `/admin/audit` page answer from the same functions.

use crate::db::audit_events::AuditFilter;
use crate::db::pagination::{self, PageStart};
use crate::directory::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::ApiError;

use super::Action;

/// How many events a user's admin page shows.
pub const ON_USER_PAGE: u32 = 10;

/// The parameters of an audit list request, checked.
#[derive(Debug, Clone, Copy)]
pub struct AuditParams<'a> {
    pub filter: AuditFilter<'a>,
    pub start: PageStart,
    pub limit: u32,
}

impl<'a> AuditParams<'a> {
    pub fn parse(
        actor: Option<&'a str>,
        target: Option<&'a str>,
        action: Option<&'a str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let filter = AuditFilter {
            actor: clerk_id("actor", actor)?,
            target: clerk_id("target", target)?,
            action: match blank_as_none(action) {
                None => None,
                Some(name) => Some(Action::NAMES.into_iter().find(|n| *n == name).ok_or_else(
                    || {
                        ApiError::BadRequest(format!(
                            "action must be one of {}",
                            Action::NAMES.join(", ")
                        ))
                    },
                )?),
            },
        };
        let limit = match blank_as_none(limit) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}"
                    )))
                }
            },
        };
        let start = match blank_as_none(cursor) {
            None => PageStart::First,
            Some(c) => pagination::decode(c).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        };
        Ok(AuditParams {
            filter,
            start,
            limit,
        })
    }
}

fn blank_as_none(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A filter on a Clerk user id: plain characters only, as Clerk makes them.
fn clerk_id<'a>(name: &str, value: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match blank_as_none(value) {
        None => Ok(None),
        Some(id)
            if id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(Some(id))
        }
        Some(_) => Err(ApiError::BadRequest(format!(
            "{name} must be a Clerk user id (user_…)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        let ok = AuditParams::parse(Some("user_2a"), Some(" "), Some("ban"), None, None).unwrap();
        assert_eq!(ok.filter.actor, Some("user_2a"));
        assert_eq!(ok.filter.target, None);
        assert_eq!(ok.filter.action, Some("ban"));
        assert_eq!(ok.limit, DEFAULT_LIMIT);
        for (actor, action, limit) in [
            (Some("user_'; DROP"), None, None),
            (None, Some("delete"), None),
            (None, None, Some("0")),
            (None, None, Some("101")),
        ] {
            assert!(AuditParams::parse(actor, None, action, limit, None).is_err());
        }
        assert!(AuditParams::parse(None, None, None, None, Some("garbage!")).is_err());
    }
}
