//! A session's active organization checked against the memberships this app keeps, so that a
//! membership ended in Clerk takes the organization's role, permissions and features from the
//! user's next request, even while their token still claims them.
//!
//! What the database knows of (user, organization) is kept at most [`CACHE_SECS`] (the bound
//! DESIGN.md promises for a change received by another instance); a webhook received here
//! forgets it at once. Where nothing is known (webhooks for organizations not set up, or not yet
//! delivered), the token is trusted as Clerk's SDK trusts it.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

use crate::clerk::token::org::Scoped;
use crate::clerk::token::SessionClaims;
use crate::db::memberships;
use crate::db::organizations::Organization;
use crate::generation::Generation;

pub use super::known_users::CACHE_SECS;

/// (user, organization) pairs kept at most.
const MAX_ENTRIES: u64 = 50_000;

/// One user's place in one organization, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Nothing stored: the token's claims stand.
    Unknown,
    /// A live membership; `clerk_updated_at` in milliseconds.
    Member {
        role: String,
        permissions: Vec<String>,
        clerk_updated_at: Option<i64>,
    },
    /// The membership ended, or the organization was deleted.
    Ended,
}

/// What is stored about a session's active organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgStanding {
    /// The organization's name, when it is stored and live.
    pub name: Option<String>,
    pub standing: Standing,
}

impl OrgStanding {
    fn of(org: Option<Organization>, membership: Option<memberships::Membership>) -> Self {
        let org_deleted = org.as_ref().is_some_and(|o| o.deleted_at.is_some());
        let standing = match membership {
            _ if org_deleted => Standing::Ended,
            None => Standing::Unknown,
            Some(m) if m.deleted_at.is_some() => Standing::Ended,
            Some(m) => Standing::Member {
                role: m.role,
                permissions: m.permissions,
                clerk_updated_at: m.clerk_updated_at,
            },
        };
        OrgStanding {
            name: org.filter(|o| o.deleted_at.is_none()).map(|o| o.name),
            standing,
        }
    }

    /// The claims this request is served with: `session`'s, unless what is stored is newer.
    /// An ended membership takes the organization away (with its org-scoped features and
    /// plans); a membership whose role changed after the token was issued gives the stored
    /// role and its permissions instead of the token's.
    #[must_use]
    pub fn apply(&self, session: &Arc<SessionClaims>) -> Arc<SessionClaims> {
        let Some(org) = &session.authorization.org else {
            return Arc::clone(session);
        };
        match &self.standing {
            Standing::Unknown => Arc::clone(session),
            Standing::Ended => {
                let mut claims = (**session).clone();
                claims.authorization = claims.authorization.without_org();
                Arc::new(claims)
            }
            Standing::Member {
                role,
                permissions,
                clerk_updated_at,
            } => {
                let issued_ms = session.issued_at.unwrap_or(0).saturating_mul(1000);
                let newer_here = clerk_updated_at.is_some_and(|at| at > issued_ms);
                if !newer_here || org.role.as_deref() == Some(role.as_str()) {
                    return Arc::clone(session);
                }
                // A v2 token grants only permissions of the features its `fea` lists for the
                // organization (its plan's): the stored ones are held to the same.
                let v2_features = match &session.authorization.features {
                    _ if session.claims.get("v").and_then(Value::as_i64) != Some(2) => None,
                    Scoped::Listed { org, .. } => Some(org.as_slice()),
                    _ => Some(&[][..]),
                };
                let granted = |permission: &&String| {
                    // Session tokens never carry system permissions; neither does this.
                    !permission.starts_with("org:sys_")
                        && v2_features.is_none_or(|features| {
                            permission
                                .split(':')
                                .nth(1)
                                .is_some_and(|feature| features.iter().any(|f| f == feature))
                        })
                };
                let mut claims = (**session).clone();
                if let Some(active) = &mut claims.authorization.org {
                    active.role = Some(role.clone());
                    active.permissions = permissions.iter().filter(granted).cloned().collect();
                }
                Arc::new(claims)
            }
        }
    }
}

/// Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct OrgStandings {
    cache: Cache<String, Arc<OrgStanding>, foldhash::fast::RandomState>,
    /// Moves on every forget: a standing read before one is not kept.
    generation: Arc<Generation>,
}

impl Default for OrgStandings {
    fn default() -> Self {
        OrgStandings {
            cache: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(Duration::from_secs(CACHE_SECS))
                .build_with_hasher(foldhash::fast::RandomState::default()),
            generation: Arc::default(),
        }
    }
}

fn key(user_id: &str, org_id: &str) -> String {
    // Clerk ids hold no space.
    format!("{user_id} {org_id}")
}

impl OrgStandings {
    /// What is stored about `user_id` in `org_id`, as of at most [`CACHE_SECS`] ago.
    pub async fn lookup(
        &self,
        pool: &sqlx::AnyPool,
        user_id: &str,
        org_id: &str,
    ) -> Result<Arc<OrgStanding>, sqlx::Error> {
        let key = key(user_id, org_id);
        if let Some(known) = self.cache.get(&key) {
            return Ok(known);
        }
        let read_at = self.generation.read();
        let (org, membership) = memberships::standing(pool, user_id, org_id).await?;
        let standing = Arc::new(OrgStanding::of(org, membership));
        self.cache.insert(key.clone(), Arc::clone(&standing));
        if self.generation.moved_since(read_at) {
            self.cache.invalidate(&key);
        }
        Ok(standing)
    }

    /// Forgets one membership whose row just changed.
    pub fn forget(&self, user_id: &str, org_id: &str) {
        self.generation.advance();
        self.cache.invalidate(&key(user_id, org_id));
    }

    /// Forgets everything (an organization changed: its name, or every membership of it).
    pub fn forget_all(&self) {
        self.generation.advance();
        self.cache.invalidate_all();
    }
}
