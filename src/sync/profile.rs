//! Clerk's word on a user, merged into the stored row: the policy that webhooks and
//! `clerk-rocket sync` share. Clerk is the source of truth for a profile; an event older than the
//! stored one, or about a deleted user, changes nothing.

use sqlx::AnyConnection;

use crate::clerk::backend_api::BackendUser;
use crate::db::users::{self, StoredProfile, User};

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

/// The columns an upsert writes: `profile` merged into the stored row.
fn merge(existing: Option<&User>, profile: &ClerkProfile) -> StoredProfile {
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
    StoredProfile {
        email,
        username,
        first_name: profile.first_name.clone(),
        last_name: profile.last_name.clone(),
        image_url: profile.image_url.clone(),
        role: profile.role.clone(),
        banned: profile.banned,
    }
}

/// What [`upsert_from_clerk`] would do to `existing` (the stored row, if any): pure, for dry runs.
#[must_use]
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
        Some(user) if StoredProfile::from(user) == merge(Some(user), profile) => Applied::Unchanged,
        Some(_) => Applied::Updated,
    }
}

/// Stores what Clerk says about a user, unless the stored row is newer (by Clerk's `updated_at`)
/// or a tombstone. Safe under concurrency: the ordering check is part of the write itself.
pub async fn upsert_from_clerk(
    conn: &mut AnyConnection,
    profile: &ClerkProfile,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    let existing = users::find_by_clerk_id_in(&mut *conn, &profile.clerk_id).await?;
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
    let merged = merge(existing.as_ref(), profile);
    let updated_at = match (&existing, planned) {
        (Some(user), Applied::Unchanged) => user.updated_at,
        _ => now,
    };
    let written = users::upsert_profile(
        conn,
        &profile.clerk_id,
        &merged,
        profile.clerk_updated_at,
        now,
        updated_at,
    )
    .await?;
    if written {
        return Ok(planned);
    }
    // Another writer got there first (a newer event, or a deletion).
    let current = users::find_by_clerk_id_in(&mut *conn, &profile.clerk_id).await?;
    Ok(match current {
        Some(user) if user.deleted_at.is_some() => Applied::Deleted,
        _ => Applied::Stale,
    })
}
