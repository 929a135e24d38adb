//! What an attempt did, at Clerk and here, as the audit trail records it beside the answer; and
//! the audit row of an attempt that failed (a done one is recorded in its own transaction).

use serde_json::Value;
use sqlx::AnyPool;

use super::{Action, ActionError, Actor};
use crate::clerk::token::now;
use crate::db::audit_events::{self, NewAuditEvent};
use crate::db::unit;

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

/// Why an attempt failed, and what it did meanwhile at Clerk and here.
pub(super) struct Failure {
    pub(super) error: ActionError,
    pub(super) clerk: AtClerk,
    pub(super) here: Here,
}

impl Failure {
    /// Refused before Clerk was asked: nothing happened anywhere.
    pub(super) fn refused(error: ActionError) -> Self {
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

/// Records a failed attempt on its own, with what happened at Clerk and here; a failure to
/// record is logged, and the refusal still answered.
pub(super) async fn audit(
    pool: &AnyPool,
    actor: Actor<'_>,
    target: &str,
    action: &Action,
    parameters: &Value,
    failure: &Failure,
) {
    let target: String = target.chars().take(64).collect();
    let (acted_as, actor_type) = actor.acted_as();
    let event = NewAuditEvent {
        actor: actor.recorded(),
        acted_as,
        actor_type,
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
