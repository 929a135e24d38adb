//! The organization settings: whether pages offer Clerk's organization components, and which URLs
//! activate an organization (Clerk's `organizationSyncOptions`).

use super::error::{bad, ConfigError};
use super::reader::Reader;
use crate::clerk::org_sync::OrganizationMatcher;

/// `CLERK_ORGANIZATIONS`, `CLERK_ORGANIZATION_PATTERNS`, `CLERK_PERSONAL_ACCOUNT_PATTERNS`.
#[derive(Debug, Clone, Default)]
pub struct OrganizationSettings {
    /// `CLERK_ORGANIZATIONS`: `true` offers the organization switcher to every signed-in visitor,
    /// `false` to none; unset, to those whose session has an active organization, and to all
    /// once this database knows an organization (the instance has them turned on).
    pub enabled: Option<bool>,
    /// The URL patterns that activate an organization or the personal account.
    pub sync: OrganizationMatcher,
}

pub(super) fn organization_settings(r: &Reader<'_>) -> Result<OrganizationSettings, ConfigError> {
    let organization_patterns = r.list("CLERK_ORGANIZATION_PATTERNS")?;
    let personal_account_patterns = r.list("CLERK_PERSONAL_ACCOUNT_PATTERNS")?;
    OrganizationMatcher::new(&organization_patterns, &[])
        .map_err(|e| bad("CLERK_ORGANIZATION_PATTERNS", e.to_string()))?;
    // The organization patterns compiled: an error now is the personal account patterns'.
    let sync = OrganizationMatcher::new(&organization_patterns, &personal_account_patterns)
        .map_err(|e| bad("CLERK_PERSONAL_ACCOUNT_PATTERNS", e.to_string()))?;
    Ok(OrganizationSettings {
        enabled: r.flag("CLERK_ORGANIZATIONS")?,
        sync,
    })
}
