//! What a route requires of its caller, and how a miss is answered: one place for
//! [`super::Authorized`] (the API) and [`super::authorize`] (pages).

use crate::clerk::token::{AuthError, Check, Missing, Reason};
use crate::error::ApiError;

/// What a route requires of its caller (a role, permission, feature, plan or reverification):
/// a marker type for [`Authorized`].
pub trait Requirement: Send + Sync + 'static {
    fn check() -> Check<'static>;
}

/// The refusal of a caller that does not satisfy `check`.
pub fn missing(check: &Check<'_>, missing: Missing) -> ApiError {
    // Nothing failed by itself (a machine token, or nothing asked): name the first thing asked.
    let missing = match missing {
        Missing::Nothing if check.role.is_some() => Missing::Role,
        Missing::Nothing if check.permission.is_some() => Missing::Permission,
        Missing::Nothing if check.feature.is_some() => Missing::Feature,
        Missing::Nothing if check.plan.is_some() => Missing::Plan,
        Missing::Nothing if check.reverification.is_some() => Missing::Reverification,
        other => other,
    };
    let (reason, message) = match missing {
        Missing::Role => (
            Reason::MissingRole,
            format!(
                "this needs the organization role {}",
                check.role.unwrap_or_default()
            ),
        ),
        Missing::Permission => (
            Reason::MissingPermission,
            format!(
                "this needs the permission {}",
                check.permission.unwrap_or_default()
            ),
        ),
        Missing::Feature => (
            Reason::MissingFeature,
            format!(
                "this needs the feature {}",
                check.feature.unwrap_or_default()
            ),
        ),
        Missing::Plan => (
            Reason::MissingPlan,
            format!("this needs the plan {}", check.plan.unwrap_or_default()),
        ),
        Missing::Reverification | Missing::Nothing => match check.reverification {
            // Clerk's shape, so that ClerkJS asks the user to verify and retries.
            Some(wanted) => return ApiError::Reverification(wanted),
            None => (
                Reason::MissingReverification,
                "this route asks for nothing a session can hold".to_owned(),
            ),
        },
    };
    ApiError::Forbidden(AuthError::new(reason, message))
}
