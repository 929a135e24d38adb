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

mod at_clerk;
pub mod audit;
mod error;
mod outcome;

pub use error::ActionError;
pub use outcome::{AtClerk, Here};

use serde_json::{json, Value};
use sqlx::AnyPool;

use crate::clerk::token::{has, now, Check, SessionClaims};
use crate::clerk::Clerk;
use crate::db::audit_events::{self, NewAuditEvent};
use crate::db::revoked_sessions;
use crate::db::users::{self, Moderated, Moderation, User};
use crate::db::{unit, write_transaction};
use crate::directory::find;
use crate::error::ApiError;
use at_clerk::{at_clerk, revert, Answer};
use outcome::{audit, Failure};

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
    /// The session that asks: its factor ages (`CLERK_ADMIN_REVERIFICATION`).
    pub session: &'a SessionClaims,
}

impl Actor<'_> {
    /// Who really acts, as the audit trail records it: the `act` claim's actor when someone else
    /// acts as the administrator's session (an impersonation, an agent), else the administrator.
    pub fn recorded(&self) -> &str {
        self.session
            .actor
            .as_ref()
            .map_or(self.clerk_id, |act| act.sub.as_str())
    }

    /// The administrator acted as, and how (`impersonator` or `agent`), when someone else acts.
    pub fn acted_as(&self) -> (Option<&str>, Option<&'static str>) {
        match &self.session.actor {
            Some(act) => (
                Some(self.clerk_id),
                Some(if act.is_agent() {
                    "agent"
                } else {
                    "impersonator"
                }),
            ),
            None => (None, None),
        }
    }
}

/// Refuses (and the caller audits) an action from a session someone else drives (Clerk's `act`
/// claim: a member impersonating the administrator from the dashboard, or an agent), unless
/// `CLERK_ADMIN_ALLOW_IMPERSONATED` allows it.
fn not_impersonated(clerk: &Clerk, actor: &Actor<'_>) -> Result<(), ActionError> {
    if actor.session.actor.is_some() && !clerk.config.admin_allow_impersonated {
        Err(ActionError::Impersonated)
    } else {
        Ok(())
    }
}

/// Refuses an action before anything is looked up or audited when the session's last factor
/// verification is older than `CLERK_ADMIN_REVERIFICATION` allows: the administrator verifies
/// again (ClerkJS's reverification) and retries.
fn recently_verified(clerk: &Clerk, actor: &Actor<'_>) -> Result<(), ActionError> {
    let Some(wanted) = clerk.config.admin_reverification else {
        return Ok(());
    };
    let check = Check {
        reverification: Some(wanted),
        ..Check::default()
    };
    if has(&actor.session.authorization, Some(actor.clerk_id), &check) {
        Ok(())
    } else {
        Err(ActionError::Reverification(wanted))
    }
}

/// What an action did: the user as now stored, and the sessions ended (for the caller to forget
/// from its caches, along with the user's row: [`changed`]).
#[derive(Debug, Clone)]
pub struct Done {
    pub user: User,
    pub ended_sessions: Vec<String>,
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

/// Does `action` to the user `target` (local id or Clerk id) for `actor`, and records the attempt
/// whatever its outcome (an impersonated session's refusal too), except a malformed id (no user
/// was named) and a session that must verify again first (`CLERK_ADMIN_REVERIFICATION`: nothing
/// was attempted). The caller has checked that
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
    if let Err(refused) = not_impersonated(clerk, &actor) {
        let failure = Failure::refused(refused);
        audit(
            pool,
            actor,
            &user.clerk_id,
            action,
            &action.parameters(),
            &failure,
        )
        .await;
        return Err(failure.error);
    }
    // Not audited: nothing was attempted until the administrator verifies again.
    recently_verified(clerk, &actor)?;
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
            actor: actor.recorded(),
            acted_as: actor.acted_as().0,
            actor_type: actor.acted_as().1,
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
