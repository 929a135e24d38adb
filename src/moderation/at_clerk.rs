//! The Backend API side of an action: the change made at Clerk and what Clerk answered, the
//! sessions it ended (some, when it failed midway), and the undoing of a change that the
//! last-admin rule refused here.

use super::outcome::{AtClerk, Failure, Here};
use super::{Action, ActionError, ADMIN};
use crate::clerk::backend_api::{BackendApi, BackendApiError, BackendUser};
use crate::clerk::Clerk;
use crate::db::users::{Moderation, User};

/// What Clerk answered (nothing in local mode).
pub(super) struct Answer {
    pub(super) change: Moderation,
    /// Clerk's `updated_at` of the user in its answer (ms).
    pub(super) clerk_updated_at: Option<i64>,
    pub(super) ended_sessions: Vec<String>,
    local_mode: bool,
}

impl Answer {
    pub(super) fn asked(&self) -> AtClerk {
        if self.local_mode {
            AtClerk::NotAsked
        } else {
            AtClerk::Done
        }
    }
}

/// Makes the change at Clerk (nothing in local mode) and says what to write here: the change
/// as Clerk answered it, Clerk's `updated_at` of the user, and the sessions Clerk ended.
pub(super) async fn at_clerk(
    clerk: &Clerk,
    user: &User,
    action: &Action,
) -> Result<Answer, Failure> {
    if clerk.config.local_mode() {
        return Ok(Answer {
            change: action.change(),
            clerk_updated_at: None,
            ended_sessions: Vec::new(),
            local_mode: true,
        });
    }
    let Some(api) = &clerk.backend_api else {
        return Err(ActionError::NotConfigured.into());
    };
    let id = user.clerk_id.as_str();
    let answer: Result<BackendUser, BackendApiError> = match action {
        Action::Ban => api.ban_user(id).await,
        Action::Unban => api.unban_user(id).await,
        Action::SetRole(role) => api.set_user_role(id, role.as_deref()).await,
        Action::RevokeSessions => return end_sessions(api, user).await,
    };
    let clerk_user = answer.map_err(|e| Failure {
        error: clerk_error(e),
        clerk: AtClerk::Failed,
        here: Here::NotWritten,
    })?;
    let change = match action {
        // Clerk's word on the role, not the request's: what Clerk stored is what holds.
        Action::SetRole(_) => Moderation::Role(clerk_user.role().map(str::to_owned)),
        other => other.change(),
    };
    Ok(Answer {
        change,
        clerk_updated_at: clerk_user.updated_at,
        ended_sessions: Vec::new(),
        local_mode: false,
    })
}

/// Ends every active session of `user` at Clerk. When Clerk fails after ending some, those are
/// ended here at once (their tokens are refused from the next request), and the failure says so.
async fn end_sessions(api: &BackendApi, user: &User) -> Result<Answer, Failure> {
    let failed = |e| Failure {
        error: clerk_error(e),
        clerk: AtClerk::Failed,
        here: Here::NotWritten,
    };
    let sessions = api.active_sessions(&user.clerk_id).await.map_err(failed)?;
    let mut ended = Vec::with_capacity(sessions.len());
    for session in &sessions {
        if let Err(e) = api.revoke_session(&session.id).await {
            if ended.is_empty() {
                return Err(failed(e));
            }
            return Err(Failure {
                error: ActionError::SessionsPartlyEnded {
                    target: user.clerk_id.clone(),
                    ended,
                    listed: sessions.len(),
                    cause: e,
                },
                clerk: AtClerk::Partial,
                here: Here::NotWritten,
            });
        }
        ended.push(session.id.clone());
    }
    Ok(Answer {
        change: Moderation::SessionsRevoked,
        clerk_updated_at: None,
        ended_sessions: ended,
        local_mode: false,
    })
}

/// Undoes at Clerk a change that the last-admin rule refused here (another administrator was
/// demoted or banned meanwhile). Its webhook, if it came first, is overtaken by this one's.
pub(super) async fn revert(clerk: &Clerk, user: &User, action: &Action) -> AtClerk {
    let Some(api) = clerk
        .backend_api
        .as_ref()
        .filter(|_| !clerk.config.local_mode())
    else {
        return AtClerk::NotAsked;
    };
    let undone = match action {
        Action::Ban => api.unban_user(&user.clerk_id).await,
        // Refused because the target was the last administrator: it was one.
        Action::SetRole(_) => api.set_user_role(&user.clerk_id, Some(ADMIN)).await,
        Action::Unban | Action::RevokeSessions => return AtClerk::Done,
    };
    match undone {
        Ok(_) => AtClerk::Reverted,
        Err(e) => {
            log::error!(
                "the last-admin rule refused {} of {} here, and undoing it at Clerk failed: {e}; \
                 Clerk keeps the change",
                action.name(),
                user.clerk_id
            );
            AtClerk::RevertFailed
        }
    }
}

fn clerk_error(e: BackendApiError) -> ActionError {
    match e {
        BackendApiError::UserNotFound(_) => ActionError::ClerkUserNotFound,
        other => ActionError::Clerk(other),
    }
}
