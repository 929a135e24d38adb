//! A session's organization as this app serves it, for routes that declare what they need
//! ([`super::Authorized`]) and for pages: the token's claims checked against the stored
//! membership (`org_standing.rs`), and the organization's system permissions (`org:sys_*`).
//!
//! Clerk never puts system permissions in session tokens, so Clerk's own `has()` cannot grant
//! one on a server. Clerk's membership webhooks and `sync` do carry them (the role's full list),
//! and a requirement of a system permission is met from the stored live membership of the
//! session's active organization, and from nothing else: with no stored membership it fails.

use std::sync::Arc;

use sqlx::AnyPool;

use super::guards::CurrentUser;
use super::org_standing::{OrgStandings, Standing};
use super::requirement::{missing, Requirement};
use crate::clerk::token::org::prefix_with_org;
use crate::clerk::token::{evaluate, Check, Missing, SessionClaims};
use crate::error::ApiError;

/// `org:sys_memberships:read`: who may see the members of their active organization (Clerk's
/// default roles `org:admin` and `org:member` both hold it).
pub struct ReadMemberships;

impl Requirement for ReadMemberships {
    fn check() -> Check<'static> {
        Check {
            permission: Some("org:sys_memberships:read"),
            ..Check::default()
        }
    }
}

/// A session's claims as this request is served with them, and what is stored of its active
/// organization.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    /// The token's claims, its active organization checked against the stored membership.
    pub claims: Arc<SessionClaims>,
    /// The active organization's name, when it is stored here.
    pub org_name: Option<String>,
    /// The system permissions of the stored live membership in the active organization.
    pub system_permissions: Vec<String>,
}

impl OrgAccess {
    /// Clerk's `has()` over [`Self::claims`], where a system permission is also held when the
    /// stored membership lists it.
    pub fn evaluate(&self, check: &Check<'_>) -> Result<(), Missing> {
        evaluate_with_system(&self.claims, &self.system_permissions, check)
    }
}

/// [`OrgAccess`] of `session`.
pub async fn org_access(
    pool: &AnyPool,
    standings: &OrgStandings,
    session: &Arc<SessionClaims>,
) -> Result<OrgAccess, sqlx::Error> {
    let Some(org) = &session.authorization.org else {
        return Ok(OrgAccess {
            claims: Arc::clone(session),
            org_name: None,
            system_permissions: Vec::new(),
        });
    };
    let standing = standings.lookup(pool, &session.user_id, &org.id).await?;
    let system_permissions = match &standing.standing {
        Standing::Member { permissions, .. } => permissions
            .iter()
            .filter(|p| p.starts_with("org:sys_"))
            .cloned()
            .collect(),
        Standing::Unknown | Standing::Ended => Vec::new(),
    };
    Ok(OrgAccess {
        claims: standing.apply(session),
        org_name: standing.name.clone(),
        system_permissions,
    })
}

/// `has()` over `claims`, with `system` (stored system permissions) added to the active
/// organization's permissions when `check` asks for a system permission.
pub fn evaluate_with_system(
    claims: &SessionClaims,
    system: &[String],
    check: &Check<'_>,
) -> Result<(), Missing> {
    let asks_system = check
        .permission
        .is_some_and(|p| prefix_with_org(p).starts_with("org:sys_"));
    if !asks_system || system.is_empty() || claims.authorization.org.is_none() {
        return evaluate(&claims.authorization, Some(&claims.user_id), check);
    }
    let mut authorization = claims.authorization.clone();
    if let Some(org) = &mut authorization.org {
        org.permissions.extend(system.iter().cloned());
    }
    evaluate(&authorization, Some(&claims.user_id), check)
}

/// `R` for a signed-in page visitor, as [`super::Authorized`] checks it on the API: the access,
/// or the same 403 (`missing-permission`, …).
pub async fn authorize<R: Requirement>(
    pool: &AnyPool,
    standings: &OrgStandings,
    current: &CurrentUser,
) -> Result<OrgAccess, ApiError> {
    let access = org_access(pool, standings, &current.session).await?;
    let check = R::check();
    access.evaluate(&check).map_err(|m| missing(&check, m))?;
    Ok(access)
}
