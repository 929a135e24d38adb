//! Administrators' actions on a user (ban, unban, end every session, set the role): the rules,
//! the call to Clerk's Backend API, the local write, and one audit row per attempt. The JSON API
//! and the admin pages act through [`perform`]; they forget the caches it names.
//!
//! Order matters: the rules first (nothing is sent to Clerk for a refused attempt), then Clerk
//! (which owns the user), then the local row, the revocation list and the audit row in one
//! transaction, so that the user is refused on this instance's very next request without waiting
//! for the webhook that follows. When Clerk fails nothing is written here but the audit row. In
//! local mode there is no Clerk: the local data alone changes.

pub mod audit;

use serde_json::{json, Value};
use sqlx::AnyPool;

use crate::clerk::backend_api::{BackendApiError, BackendUser};
use crate::clerk::token::now;
use crate::clerk::Clerk;
use crate::db::audit_events::{self, NewAuditEvent};
use crate::db::revoked_sessions;
use crate::db::users::{self, Moderation, User};
use crate::db::{unit, write_transaction};
use crate::directory::find;
use crate::error::ApiError;

/// What an administrator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Ban,
    Unban,
    RevokeSessions,
    /// `public_metadata.role`; `None` removes it.
    SetRole(Option<String>),
}

impl Action {
    /// The name the audit trail and the page routes use.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Ban => "ban",
            Action::Unban => "unban",
            Action::RevokeSessions => "revoke-sessions",
            Action::SetRole(_) => "set-role",
        }
    }

    /// Every action name, for the audit filter.
    pub const NAMES: [&'static str; 4] = ["ban", "unban", "revoke-sessions", "set-role"];

    fn parameters(&self) -> Value {
        match self {
            Action::SetRole(role) => json!({ "role": role }),
            _ => json!({}),
        }
    }

    /// Whether it takes something away from the user (refused on oneself).
    fn takes_away(&self) -> bool {
        match self {
            Action::Ban | Action::RevokeSessions => true,
            Action::SetRole(role) => role.as_deref() != Some(ADMIN),
            Action::Unban => false,
        }
    }
}

const ADMIN: &str = "admin";

/// A role name as `public_metadata.role` may hold it: short, lower-case, plain.
pub fn valid_role(role: &str) -> bool {
    (1..=32).contains(&role.len())
        && role.starts_with(|c: char| c.is_ascii_lowercase())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

/// Who asks, and the request that carries it (for the audit row).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The administrator's Clerk user id.
    pub clerk_id: &'a str,
    pub request_id: &'a str,
}

/// What an action did: the user as now stored, and the sessions ended (for the caller to forget
/// from its caches, along with the user's row).
#[derive(Debug, Clone)]
pub struct Done {
    pub user: User,
    pub ended_sessions: Vec<String>,
}

/// Why an action was not done.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no such user")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("administrators cannot ban, end the sessions of or demote themselves")]
    OnSelf,
    #[error("this is the last administrator: make another one first")]
    LastAdmin,
    #[error("this user was deleted in Clerk")]
    TargetDeleted,
    #[error("Clerk's Backend API is not configured here (set CLERK_SECRET_KEY)")]
    NotConfigured,
    #[error("Clerk has no such user")]
    ClerkUserNotFound,
    #[error("Clerk's Backend API failed: {0}")]
    Clerk(BackendApiError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The look-up of the user failed (the database is unavailable, say).
    #[error("{}", .0.message())]
    Lookup(ApiError),
}

impl ActionError {
    /// The code answered and written to the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            ActionError::NotFound => "not-found",
            ActionError::BadRequest(_) => "bad-request",
            ActionError::OnSelf => "cannot-act-on-self",
            ActionError::LastAdmin => "last-admin",
            ActionError::TargetDeleted => "target-deleted",
            ActionError::NotConfigured => "backend-api-not-configured",
            ActionError::ClerkUserNotFound => "clerk-user-not-found",
            ActionError::Clerk(_) => "clerk-backend-api-error",
            ActionError::Database(_) => "database-error",
            ActionError::Lookup(e) => e.code(),
        }
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        let code = e.code();
        let message = e.to_string();
        match e {
            ActionError::NotFound => ApiError::NotFound,
            ActionError::BadRequest(message) => ApiError::BadRequest(message),
            ActionError::OnSelf | ActionError::LastAdmin | ActionError::TargetDeleted => {
                ApiError::Conflict { code, message }
            }
            ActionError::NotConfigured => ApiError::Unavailable {
                code,
                message,
                retry_after: 60,
            },
            ActionError::ClerkUserNotFound | ActionError::Clerk(_) => {
                log::warn!("an administrator's action failed at Clerk: {message}");
                ApiError::BadGateway {
                    code,
                    message: "Clerk's Backend API did not make the change (it failed, timed out, \
                              or this server's budget of calls is spent); nothing was changed \
                              here: try again shortly"
                        .into(),
                }
            }
            ActionError::Database(e) => ApiError::from(e),
            ActionError::Lookup(e) => e,
        }
    }
}

/// Does `action` to the user `target` (local id or Clerk id) for `actor`, and records the attempt
/// whatever its outcome, except a malformed id (no user was named).
pub async fn perform(
    pool: &AnyPool,
    clerk: &Clerk,
    actor: Actor<'_>,
    target: &str,
    action: &Action,
) -> Result<Done, ActionError> {
    let user = match find(pool, target).await {
        Ok(user) => user,
        Err(ApiError::NotFound) => {
            let error = ActionError::NotFound;
            audit(pool, actor, target, action, &action.parameters(), &error).await;
            return Err(error);
        }
        Err(ApiError::BadRequest(message)) => return Err(ActionError::BadRequest(message)),
        Err(other) => return Err(ActionError::Lookup(other)),
    };
    let result = attempt(pool, clerk, actor, &user, action).await;
    if let Err(error) = &result {
        audit(
            pool,
            actor,
            &user.clerk_id,
            action,
            &action.parameters(),
            error,
        )
        .await;
    }
    result
}

async fn attempt(
    pool: &AnyPool,
    clerk: &Clerk,
    actor: Actor<'_>,
    user: &User,
    action: &Action,
) -> Result<Done, ActionError> {
    if let Action::SetRole(Some(role)) = action {
        if !valid_role(role) {
            return Err(ActionError::BadRequest(
                "role must be null or a short lower-case name such as \"admin\"".into(),
            ));
        }
    }
    if user.deleted_at.is_some() {
        return Err(ActionError::TargetDeleted);
    }
    if action.takes_away() && actor.clerk_id == user.clerk_id {
        return Err(ActionError::OnSelf);
    }
    if matches!(action, Action::SetRole(_))
        && action.takes_away()
        && is_last_admin(pool, clerk, user).await?
    {
        return Err(ActionError::LastAdmin);
    }
    let (change, clerk_updated_at, ended_sessions) = at_clerk(clerk, user, action).await?;
    let now = now();
    let mut tx = write_transaction(pool).await?;
    let Some(written) = users::moderate(&mut tx, user.id, &change, clerk_updated_at, now).await?
    else {
        // Deleted between the look-up and the write (a webhook).
        drop(tx);
        return Err(ActionError::TargetDeleted);
    };
    for session in &ended_sessions {
        revoked_sessions::revoke(
            &mut tx,
            session,
            Some(&user.clerk_id),
            now,
            now + revoked_sessions::RETENTION_SECS,
        )
        .await?;
    }
    let mut parameters = action.parameters();
    if let Action::RevokeSessions = action {
        parameters = json!({ "sessions": ended_sessions.len() });
    }
    audit_events::record(
        &mut tx,
        &NewAuditEvent {
            actor: actor.clerk_id,
            action: action.name(),
            target: &user.clerk_id,
            parameters: &parameters,
            result: "ok",
            created_at: now,
            request_id: actor.request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Done {
        user: written,
        ended_sessions,
    })
}

/// Whether demoting `user` would leave no administrator: neither another stored admin nor one
/// named in `CLERK_ADMIN_USER_IDS`. (An admin only by a token's claim is not counted: the claim
/// mirrors the very `public_metadata.role` being removed.)
async fn is_last_admin(pool: &AnyPool, clerk: &Clerk, user: &User) -> Result<bool, ActionError> {
    if user.role.as_deref() != Some(ADMIN) {
        return Ok(false);
    }
    let configured = clerk
        .config
        .admin_user_ids
        .iter()
        .any(|id| *id != user.clerk_id);
    if configured {
        return Ok(false);
    }
    let mut unit = unit(pool).await?;
    let others = users::count_other_admins(&mut unit, &user.clerk_id).await?;
    unit.finish().await?;
    Ok(others == 0)
}

/// Makes the change at Clerk (nothing in local mode) and says what to write here: the change,
/// Clerk's `updated_at` of the user, and the sessions Clerk ended.
async fn at_clerk(
    clerk: &Clerk,
    user: &User,
    action: &Action,
) -> Result<(Moderation, Option<i64>, Vec<String>), ActionError> {
    let change = match action {
        Action::Ban => Moderation::Banned(true),
        Action::Unban => Moderation::Banned(false),
        Action::RevokeSessions => Moderation::SessionsRevoked,
        Action::SetRole(role) => Moderation::Role(role.clone()),
    };
    if clerk.config.local_mode() {
        return Ok((change, None, Vec::new()));
    }
    let Some(api) = &clerk.backend_api else {
        return Err(ActionError::NotConfigured);
    };
    let id = user.clerk_id.as_str();
    let answer: Result<BackendUser, BackendApiError> = match action {
        Action::Ban => api.ban_user(id).await,
        Action::Unban => api.unban_user(id).await,
        Action::SetRole(role) => api.set_user_role(id, role.as_deref()).await,
        Action::RevokeSessions => {
            let sessions = api.active_sessions(id).await.map_err(clerk_error)?;
            let mut ended = Vec::with_capacity(sessions.len());
            for session in sessions {
                api.revoke_session(&session.id).await.map_err(clerk_error)?;
                ended.push(session.id);
            }
            return Ok((change, None, ended));
        }
    };
    let clerk_user = answer.map_err(clerk_error)?;
    Ok((change, clerk_user.updated_at, Vec::new()))
}

fn clerk_error(e: BackendApiError) -> ActionError {
    match e {
        BackendApiError::UserNotFound(_) => ActionError::ClerkUserNotFound,
        other => ActionError::Clerk(other),
    }
}

/// Records a refused attempt; a failure to record is logged, and the refusal still answered.
async fn audit(
    pool: &AnyPool,
    actor: Actor<'_>,
    target: &str,
    action: &Action,
    parameters: &Value,
    error: &ActionError,
) {
    let target: String = target.chars().take(64).collect();
    let event = NewAuditEvent {
        actor: actor.clerk_id,
        action: action.name(),
        target: &target,
        parameters,
        result: error.code(),
        created_at: now(),
        request_id: actor.request_id,
    };
    if let Err(e) = record_alone(pool, &event).await {
        log::error!("recording a refused admin action failed: {e}");
    }
}

/// Records `event` on its own (a refusal changes nothing else to share a transaction with).
async fn record_alone(pool: &AnyPool, event: &NewAuditEvent<'_>) -> Result<(), sqlx::Error> {
    let mut unit = unit(pool).await?;
    audit_events::record(&mut unit, event).await?;
    unit.finish().await
}
