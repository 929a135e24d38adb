//! `has()`: whether a signed-in session holds a role, permission, feature, plan or a recent
//! enough factor verification, fail-closed as Clerk's SDK since its authorization-bypass fix
//! (`clerk-machines-orgs.md` §1.3).
//!
//! Each dimension (organization: role and permission; billing: feature and plan;
//! reverification) passes, fails or is not asked. The answer is yes only when at least one
//! dimension passes and none fails: asking for nothing is a no, and anything that cannot be
//! evaluated (no active organization, a malformed claim, an unknown scope) is a failure.

use super::org::{prefix_with_org, Authorization, Scoped};
use super::reverification::Reverification;

/// What a route or a handler asks of a session. Empty fields are not asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Check<'a> {
    /// An organization role, `admin` or `org:admin`.
    pub role: Option<&'a str>,
    /// An organization permission, `org:invoices:read` (the `org:` prefix is optional).
    pub permission: Option<&'a str>,
    /// A feature, `o:seats`, `org:seats`, `u:beta`, `user:beta` or a bare `seats` (either scope).
    pub feature: Option<&'a str>,
    /// A plan, written as a feature is.
    pub plan: Option<&'a str>,
    /// A recent enough factor verification: one of Clerk's presets
    /// (`Reverification::STRICT`, …) or a custom `{ level, afterMinutes }`.
    pub reverification: Option<Reverification>,
}

/// Which dimension of a [`Check`] failed first, for the refusal's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Role,
    Permission,
    Feature,
    Plan,
    Reverification,
    /// Nothing was asked, or the session has no user.
    Nothing,
}

/// `Ok(())` when `auth` (of a session of `user_id`) satisfies `check`, else which part did not.
pub fn evaluate(
    auth: &Authorization,
    user_id: Option<&str>,
    check: &Check<'_>,
) -> Result<(), Missing> {
    if user_id.is_none_or(str::is_empty) {
        return Err(Missing::Nothing);
    }
    let mut passed = false;
    let mut dimension = |outcome: Option<bool>, missing: Missing| match outcome {
        None => Ok(()),
        Some(true) => {
            passed = true;
            Ok(())
        }
        Some(false) => Err(missing),
    };
    dimension(check.role.map(|r| role(auth, r)), Missing::Role)?;
    dimension(
        check.permission.map(|p| permission(auth, p)),
        Missing::Permission,
    )?;
    dimension(
        check.feature.map(|f| scoped(&auth.features, f)),
        Missing::Feature,
    )?;
    dimension(check.plan.map(|p| scoped(&auth.plans, p)), Missing::Plan)?;
    dimension(
        check.reverification.map(|wanted| reverified(auth, wanted)),
        Missing::Reverification,
    )?;
    if passed {
        Ok(())
    } else {
        Err(Missing::Nothing)
    }
}

/// [`evaluate`] as a yes or no.
pub fn has(auth: &Authorization, user_id: Option<&str>, check: &Check<'_>) -> bool {
    evaluate(auth, user_id, check).is_ok()
}

fn role(auth: &Authorization, wanted: &str) -> bool {
    let Some(org) = &auth.org else { return false };
    !wanted.is_empty()
        && org
            .role
            .as_deref()
            .is_some_and(|held| prefix_with_org(held) == prefix_with_org(wanted))
}

fn permission(auth: &Authorization, wanted: &str) -> bool {
    let Some(org) = &auth.org else { return false };
    let wanted = prefix_with_org(wanted);
    !wanted.ends_with(':') && org.permissions.contains(&wanted)
}

/// Clerk's `checkForFeatureOrPlan`: `scope:id` looks in that scope's list, a bare id in both.
fn scoped(claim: &Scoped, wanted: &str) -> bool {
    let Scoped::Listed { org, user, .. } = claim else {
        return false;
    };
    let (scope, id) = match wanted.split_once(':') {
        Some((scope, id)) => (Some(scope), id),
        None => (None, wanted),
    };
    if id.is_empty() {
        return false;
    }
    let listed = |list: &[String]| list.iter().any(|entry| entry == id);
    match scope {
        None => listed(org) || listed(user),
        Some("o" | "org" | "organization") => listed(org),
        Some("u" | "user") => listed(user),
        Some(_) => false,
    }
}

/// Clerk's `checkReverificationAuthorization` over `fva`, counted as of now.
fn reverified(auth: &Authorization, wanted: Reverification) -> bool {
    let Some(ages) = auth.factor_ages else {
        return false;
    };
    let elapsed = auth
        .issued_at
        .map_or(0, |iat| super::now().saturating_sub(iat) / 60);
    wanted.met_by(ages, elapsed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clerk::token::reverification::Level;

    fn auth(claims: &serde_json::Value) -> Authorization {
        Authorization::decode(claims.as_object().unwrap())
    }

    fn member() -> Authorization {
        auth(&json!({
            "v": 2, "fea": "o:invoices,u:beta", "pla": "o:pro",
            "o": {"id": "org_1", "slg": "acme", "rol": "member", "per": "read,write", "fpm": "1"},
            "fva": [2, 30],
        }))
    }

    const USER: Option<&str> = Some("user_1");

    #[test]
    fn each_dimension_passes_when_held() {
        let a = member();
        for check in [
            Check {
                role: Some("member"),
                ..Check::default()
            },
            Check {
                role: Some("org:member"),
                ..Check::default()
            },
            Check {
                permission: Some("org:invoices:read"),
                ..Check::default()
            },
            Check {
                permission: Some("invoices:read"),
                ..Check::default()
            },
            Check {
                feature: Some("invoices"),
                ..Check::default()
            },
            Check {
                feature: Some("o:invoices"),
                ..Check::default()
            },
            Check {
                feature: Some("organization:invoices"),
                ..Check::default()
            },
            Check {
                feature: Some("user:beta"),
                ..Check::default()
            },
            Check {
                plan: Some("pro"),
                ..Check::default()
            },
            Check {
                reverification: Some(Reverification::LAX),
                ..Check::default()
            },
        ] {
            assert!(has(&a, USER, &check), "{check:?}");
        }
    }

    #[test]
    fn fail_closed() {
        let a = member();
        // Nothing asked, or no user.
        assert_eq!(evaluate(&a, USER, &Check::default()), Err(Missing::Nothing));
        let role = Check {
            role: Some("member"),
            ..Check::default()
        };
        assert!(!has(&a, None, &role));
        assert!(!has(&a, Some(""), &role));
        // One pass does not outweigh a failure.
        let mixed = Check {
            role: Some("member"),
            permission: Some("org:invoices:write"),
            ..Check::default()
        };
        assert_eq!(evaluate(&a, USER, &mixed), Err(Missing::Permission));
        // Wrong scope, unknown scope, empty names.
        for check in [
            Check {
                feature: Some("u:invoices"),
                ..Check::default()
            },
            Check {
                feature: Some("team:invoices"),
                ..Check::default()
            },
            Check {
                feature: Some("o:"),
                ..Check::default()
            },
            Check {
                role: Some(""),
                ..Check::default()
            },
            Check {
                permission: Some("org:"),
                ..Check::default()
            },
            Check {
                plan: Some("u:pro"),
                ..Check::default()
            },
            Check {
                reverification: Some(Reverification::STRICT),
                ..Check::default()
            },
            Check {
                reverification: Some(Reverification::new(Level::FirstFactor, 0)),
                ..Check::default()
            },
        ] {
            assert!(!has(&a, USER, &check), "{check:?}");
        }
        // No active org: role and permission checks fail, they are not skipped.
        let personal = auth(&json!({"v": 2, "fea": "u:beta", "pla": "u:free"}));
        assert_eq!(evaluate(&personal, USER, &role), Err(Missing::Role));
        // A malformed or absent fea fails every feature check.
        for claims in [json!({"fea": "invoices"}), json!({})] {
            let check = Check {
                feature: Some("invoices"),
                ..Check::default()
            };
            assert!(!has(&auth(&claims), USER, &check));
        }
        // A malformed fva fails reverification.
        let check = Check {
            reverification: Some(Reverification::LAX),
            ..Check::default()
        };
        assert!(!has(&auth(&json!({"fva": "2,3"})), USER, &check));
    }

    #[test]
    fn reverification_presets() {
        let ages = |first: i64, second: i64| auth(&json!({ "fva": [first, second] }));
        let level = |l| Check {
            reverification: Reverification::preset(l),
            ..Check::default()
        };
        assert!(has(&ages(5, 5), USER, &level("strict_mfa")));
        assert!(!has(&ages(5, 20), USER, &level("strict_mfa")));
        assert!(
            has(&ages(5, -1), USER, &level("strict_mfa")),
            "no second factor enrolled"
        );
        assert!(has(&ages(100, 5), USER, &level("strict")));
        assert!(!has(&ages(5, 100), USER, &level("moderate")));
        assert!(has(&ages(30, -1), USER, &level("moderate")));
        assert!(!has(&ages(-1, -1), USER, &level("lax")));
    }
}
