//! Administrators' actions on a user (ban, unban, end every session, set the role): the rules,
//! the call to Clerk's Backend API, the local write, and one audit row per attempt. The JSON API
//! and the admin pages act through [`perform`]; they forget the caches it names.
//!
//! Order matters: the rules first (nothing is sent to Clerk for a refused attempt), then Clerk
//! (which owns the user), then the local row, the revocation list and the audit row in one
//! transaction, so that the user is refused on this instance's very next request without waiting
//! for the webhook that follows. The row takes what Clerk answered (the role Clerk returns), and
//! only when no newer word from Clerk is stored (`users::moderate`). The last-admin rule is
//! checked before Clerk and again inside that transaction, serialised with every other change
//! that may take admin power away: of two administrators demoting each other at once, the second
//! is refused, and its change undone at Clerk. When Clerk fails nothing is written here but the
//! audit row; when Clerk ended some sessions and then failed, those sessions end here too. The
//! audit row says what happened at Clerk and here as two facts beside the answer ([`AtClerk`],
//! [`Here`]). In local mode there is no Clerk: the local data alone changes.

pub mod audit;

use serde_json::{json, Value};
use sqlx::AnyPool;

use crate::clerk::backend_api::{BackendApi, BackendApiError, BackendUser};
use crate::clerk::token::now;
use crate::clerk::Clerk;
use crate::db::audit_events::{self, NewAuditEvent};
use crate::db::revoked_sessions;
use crate::db::users::{self, Moderated, Moderation, User};
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

    /// Whether it is refused on oneself: what takes something away, and any change of one's
    /// own role (giving oneself a role takes nothing away, but no one grants themselves power).
    fn refused_on_self(&self) -> bool {
        match self {
            Action::Ban | Action::RevokeSessions | Action::SetRole(_) => true,
            Action::Unban => false,
        }
    }

    /// Whether it may take admin power from its target, so that the last-admin rule applies.
    fn may_take_admin_power(&self) -> bool {
        match self {
            Action::Ban => true,
            Action::SetRole(role) => role.as_deref() != Some(ADMIN),
            Action::Unban | Action::RevokeSessions => false,
        }
    }

    fn change(&self) -> Moderation {
        match self {
            Action::Ban => Moderation::Banned(true),
            Action::Unban => Moderation::Banned(false),
            Action::RevokeSessions => Moderation::SessionsRevoked,
            Action::SetRole(role) => Moderation::Role(role.clone()),
        }
    }
}

/// What an attempt did at Clerk, as the audit trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtClerk {
    /// Refused before Clerk was asked, or local mode (there is no Clerk).
    NotAsked,
    Done,
    Failed,
    /// Some of the user's sessions were ended, then Clerk failed.
    Partial,
    /// Done, then undone because the last-admin rule refused it here.
    Reverted,
    /// Done, and undoing it failed: Clerk keeps the change.
    RevertFailed,
}

impl AtClerk {
    pub fn as_str(self) -> &'static str {
        match self {
            AtClerk::NotAsked => "not-asked",
            AtClerk::Done => "done",
            AtClerk::Failed => "failed",
            AtClerk::Partial => "partial",
            AtClerk::Reverted => "reverted",
            AtClerk::RevertFailed => "revert-failed",
        }
    }
}

/// What an attempt did to this app's data, as the audit trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Here {
    Written,
    NotWritten,
    /// A newer word from Clerk was stored already (a later change's webhook): kept.
    Superseded,
    /// The database failed after Clerk made the change (Clerk's webhook or `sync` brings it).
    Failed,
}

impl Here {
    pub fn as_str(self) -> &'static str {
        match self {
            Here::Written => "written",
            Here::NotWritten => "not-written",
            Here::Superseded => "superseded",
            Here::Failed => "failed",
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
/// from its caches, along with the user's row: [`changed`]).
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
    #[error(
        "administrators cannot ban themselves, end their own sessions or change their own role"
    )]
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
    /// Clerk ended `ended` of the user's `listed` sessions, then failed: those ended here too.
    #[error("Clerk ended {} of {listed} sessions, then failed: {cause}", .ended.len())]
    SessionsPartlyEnded {
        target: String,
        ended: Vec<String>,
        listed: usize,
        cause: BackendApiError,
    },
    /// Clerk made the change; writing it here failed.
    #[error("Clerk made the change, and recording it here failed: {0}")]
    NotRecorded(sqlx::Error),
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
            ActionError::SessionsPartlyEnded { .. } => "sessions-partly-ended",
            ActionError::NotRecorded(_) => "local-write-failed",
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
            ActionError::SessionsPartlyEnded { ended, listed, .. } => {
                log::warn!("an administrator's action failed at Clerk: {message}");
                ApiError::BadGateway {
                    code,
                    message: format!(
                        "Clerk ended {} of the user's {listed} sessions, then failed; those are \
                         ended here too. Try again to end the others",
                        ended.len()
                    ),
                }
            }
            ActionError::NotRecorded(e) => {
                log::error!("an administrator's action was made at Clerk, not recorded here: {e}");
                ApiError::Unavailable {
                    code,
                    message: "Clerk made the change, but this server's database failed to record \
                              it: it arrives with Clerk's webhook or the next sync"
                        .into(),
                    retry_after: 5,
                }
            }
            ActionError::Database(e) => ApiError::from(e),
            ActionError::Lookup(e) => e,
        }
    }
}

/// The user and sessions whose cached state an attempt changed, for the caller to forget
/// (`Caches::forget_changed`): a done action's, and a partly done revocation's.
pub fn changed(result: &Result<Done, ActionError>) -> Option<(&str, &[String])> {
    match result {
        Ok(done) => Some((&done.user.clerk_id, &done.ended_sessions)),
        Err(ActionError::SessionsPartlyEnded { target, ended, .. }) => Some((target, ended)),
        Err(_) => None,
    }
}

/// Why an attempt failed, and what it did meanwhile at Clerk and here.
struct Failure {
    error: ActionError,
    clerk: AtClerk,
    here: Here,
}

impl Failure {
    /// Refused before Clerk was asked: nothing happened anywhere.
    fn refused(error: ActionError) -> Self {
        Failure {
            error,
            clerk: AtClerk::NotAsked,
            here: Here::NotWritten,
        }
    }
}

impl From<ActionError> for Failure {
    fn from(error: ActionError) -> Self {
        Failure::refused(error)
    }
}

/// Does `action` to the user `target` (local id or Clerk id) for `actor`, and records the attempt
/// whatever its outcome, except a malformed id (no user was named). The caller has checked that
/// the actor may act as an administrator (`CurrentUser::can_write_as_admin`).
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
            let failure = Failure::refused(ActionError::NotFound);
            audit(pool, actor, target, action, &action.parameters(), &failure).await;
            return Err(failure.error);
        }
        Err(ApiError::BadRequest(message)) => return Err(ActionError::BadRequest(message)),
        Err(other) => return Err(ActionError::Lookup(other)),
    };
    match attempt(pool, clerk, actor, &user, action).await {
        Ok(done) => Ok(done),
        Err(failure) => {
            let parameters = match &failure.error {
                ActionError::SessionsPartlyEnded { ended, listed, .. } => {
                    json!({ "sessions": ended.len(), "listed": listed })
                }
                _ => action.parameters(),
            };
            audit(pool, actor, &user.clerk_id, action, &parameters, &failure).await;
            Err(failure.error)
        }
    }
}

async fn attempt(
    pool: &AnyPool,
    clerk: &Clerk,
    actor: Actor<'_>,
    user: &User,
    action: &Action,
) -> Result<Done, Failure> {
    if let Action::SetRole(Some(role)) = action {
        if !valid_role(role) {
            return Err(Failure::refused(ActionError::BadRequest(
                "role must be null or a short lower-case name such as \"admin\"".into(),
            )));
        }
    }
    if user.deleted_at.is_some() {
        return Err(ActionError::TargetDeleted.into());
    }
    if action.refused_on_self() && actor.clerk_id == user.clerk_id {
        return Err(ActionError::OnSelf.into());
    }
    // Checked here first, so that a plain refusal reaches no Clerk; and again in the write.
    let guarded = action.may_take_admin_power() && !other_configured_admin(clerk, user);
    if guarded && is_last_admin(pool, user).await.map_err(Failure::refused)? {
        return Err(ActionError::LastAdmin.into());
    }
    let now = now();
    let answer = match at_clerk(clerk, user, action).await {
        Ok(answer) => answer,
        Err(mut failure) => {
            if let ActionError::SessionsPartlyEnded { ended, .. } = &failure.error {
                failure.here = match end_here(pool, &user.clerk_id, ended, now).await {
                    Ok(()) => Here::Written,
                    Err(e) => {
                        log::error!("recording the sessions Clerk ended failed: {e}");
                        Here::Failed
                    }
                };
            }
            return Err(failure);
        }
    };
    match write(pool, actor, user, action, &answer, guarded, now).await {
        Ok(Written::Done(done)) => Ok(*done),
        Ok(Written::Deleted) => Err(Failure {
            // Deleted between the look-up and the write (a webhook).
            error: ActionError::TargetDeleted,
            clerk: answer.asked(),
            here: Here::NotWritten,
        }),
        Ok(Written::LastAdmin) => Err(Failure {
            error: ActionError::LastAdmin,
            clerk: revert(clerk, user, action).await,
            here: Here::NotWritten,
        }),
        Err(e) if answer.asked() == AtClerk::Done => Err(Failure {
            error: ActionError::NotRecorded(e),
            clerk: AtClerk::Done,
            here: Here::Failed,
        }),
        Err(e) => Err(Failure {
            error: ActionError::Database(e),
            clerk: AtClerk::NotAsked,
            here: Here::Failed,
        }),
    }
}

/// What Clerk answered (nothing in local mode).
struct Answer {
    change: Moderation,
    /// Clerk's `updated_at` of the user in its answer (ms).
    clerk_updated_at: Option<i64>,
    ended_sessions: Vec<String>,
    local_mode: bool,
}

impl Answer {
    fn asked(&self) -> AtClerk {
        if self.local_mode {
            AtClerk::NotAsked
        } else {
            AtClerk::Done
        }
    }
}

enum Written {
    Done(Box<Done>),
    Deleted,
    /// The last-admin rule refused the change inside the transaction: nothing was written.
    LastAdmin,
}

/// The local row, the revocations and the audit row, in one transaction; with the last-admin
/// rule when `guarded`.
async fn write(
    pool: &AnyPool,
    actor: Actor<'_>,
    user: &User,
    action: &Action,
    answer: &Answer,
    guarded: bool,
    now: i64,
) -> Result<Written, sqlx::Error> {
    let mut tx = write_transaction(pool).await?;
    let admins_before = if guarded {
        users::lock_admin_changes(&mut tx).await?;
        Some(users::count_admins(&mut tx).await?)
    } else {
        None
    };
    let Some(moderated) = users::moderate(
        &mut tx,
        user.id,
        &answer.change,
        answer.clerk_updated_at,
        now,
    )
    .await?
    else {
        return Ok(Written::Deleted);
    };
    if let Some(before) = admins_before {
        if before > 0 && users::count_admins(&mut tx).await? == 0 {
            tx.rollback().await?;
            return Ok(Written::LastAdmin);
        }
    }
    for session in &answer.ended_sessions {
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
        parameters = json!({ "sessions": answer.ended_sessions.len() });
    }
    let (written, here) = match moderated {
        Moderated::Written(user) => (user, Here::Written),
        Moderated::Superseded(user) => (user, Here::Superseded),
    };
    audit_events::record(
        &mut tx,
        &NewAuditEvent {
            actor: actor.clerk_id,
            action: action.name(),
            target: &user.clerk_id,
            parameters: &parameters,
            result: "ok",
            clerk_outcome: answer.asked().as_str(),
            local_outcome: here.as_str(),
            created_at: now,
            request_id: actor.request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Written::Done(Box::new(Done {
        user: written,
        ended_sessions: answer.ended_sessions.clone(),
    })))
}

/// Records here the sessions of `clerk_id` that Clerk ended before it failed: their tokens are
/// refused from the next request, as after a `session.revoked` webhook.
async fn end_here(
    pool: &AnyPool,
    clerk_id: &str,
    ended: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = write_transaction(pool).await?;
    for session in ended {
        revoked_sessions::revoke(
            &mut tx,
            session,
            Some(clerk_id),
            now,
            now + revoked_sessions::RETENTION_SECS,
        )
        .await?;
    }
    tx.commit().await
}

/// Whether `CLERK_ADMIN_USER_IDS` names an administrator other than `user`: then no change to
/// `user` can leave the app without one.
fn other_configured_admin(clerk: &Clerk, user: &User) -> bool {
    clerk
        .config
        .admin_user_ids
        .iter()
        .any(|id| *id != user.clerk_id)
}

/// Whether taking admin power from `user` would leave no stored administrator. (An admin only
/// by a token's claim is not counted: the claim mirrors the very `public_metadata.role` being
/// removed, and cannot write.)
async fn is_last_admin(pool: &AnyPool, user: &User) -> Result<bool, ActionError> {
    if user.role.as_deref() != Some(ADMIN) || user.banned {
        return Ok(false);
    }
    let mut unit = unit(pool).await?;
    let others = users::count_other_admins(&mut unit, &user.clerk_id).await?;
    unit.finish().await?;
    Ok(others == 0)
}

/// Makes the change at Clerk (nothing in local mode) and says what to write here: the change
/// as Clerk answered it, Clerk's `updated_at` of the user, and the sessions Clerk ended.
async fn at_clerk(clerk: &Clerk, user: &User, action: &Action) -> Result<Answer, Failure> {
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
async fn revert(clerk: &Clerk, user: &User, action: &Action) -> AtClerk {
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

/// Records a failed attempt on its own, with what happened at Clerk and here; a failure to
/// record is logged, and the refusal still answered.
async fn audit(
    pool: &AnyPool,
    actor: Actor<'_>,
    target: &str,
    action: &Action,
    parameters: &Value,
    failure: &Failure,
) {
    let target: String = target.chars().take(64).collect();
    let event = NewAuditEvent {
        actor: actor.clerk_id,
        action: action.name(),
        target: &target,
        parameters,
        result: failure.error.code(),
        clerk_outcome: failure.clerk.as_str(),
        local_outcome: failure.here.as_str(),
        created_at: now(),
        request_id: actor.request_id,
    };
    if let Err(e) = record_alone(pool, &event).await {
        log::error!(
            "recording an administrator's attempt failed ({} of {target}: {}, Clerk: {}, here: \
             {}): {e}",
            event.action,
            event.result,
            event.clerk_outcome,
            event.local_outcome
        );
    }
}

/// Records `event` on its own (a refusal changes nothing else to share a transaction with).
async fn record_alone(pool: &AnyPool, event: &NewAuditEvent<'_>) -> Result<(), sqlx::Error> {
    let mut unit = unit(pool).await?;
    audit_events::record(&mut unit, event).await?;
    unit.finish().await
}
