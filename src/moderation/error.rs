//! Why an action was not done, and how each reason is answered (one code per reason, the same
//! in the answer and the audit trail).

use crate::clerk::backend_api::BackendApiError;
use crate::clerk::token::Reverification;
use crate::error::ApiError;

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
    /// The session's last factor verification is older than `CLERK_ADMIN_REVERIFICATION` allows:
    /// nothing was attempted (and nothing audited) until the administrator verifies again.
    #[error("verify again first ({0})")]
    Reverification(Reverification),
    /// Someone else acts as the administrator's session (Clerk's `act` claim), and
    /// `CLERK_ADMIN_ALLOW_IMPERSONATED` is not set.
    #[error(
        "this session is an impersonation or an agent's (Clerk's act claim): administrators' \
         actions are refused in it (CLERK_ADMIN_ALLOW_IMPERSONATED)"
    )]
    Impersonated,
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
            ActionError::Clerk(e) if e.rate_limited().is_some() => "rate-limited",
            ActionError::Clerk(_) => "clerk-backend-api-error",
            ActionError::SessionsPartlyEnded { .. } => "sessions-partly-ended",
            ActionError::NotRecorded(_) => "local-write-failed",
            ActionError::Database(_) => "database-error",
            ActionError::Lookup(e) => e.code(),
            ActionError::Reverification(_) => "reverification-error",
            ActionError::Impersonated => "impersonated-session",
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
            ActionError::Clerk(e) if e.rate_limited().is_some() => {
                log::warn!("an administrator's action was not sent to Clerk: {message}");
                ApiError::Unavailable {
                    code,
                    message: "Clerk's Backend API is rate limiting this server (Clerk's 429, or \
                              this server's budget of calls is spent): nothing was sent, nothing \
                              was changed; try again after Retry-After"
                        .into(),
                    retry_after: e.rate_limited().unwrap_or(5),
                }
            }
            ActionError::ClerkUserNotFound | ActionError::Clerk(_) => {
                log::warn!("an administrator's action failed at Clerk: {message}");
                ApiError::BadGateway {
                    code,
                    message: "Clerk's Backend API did not make the change (it failed or timed \
                              out); nothing was changed here: try again shortly"
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
            ActionError::Reverification(wanted) => ApiError::Reverification(wanted),
            ActionError::Impersonated => ApiError::Refused { code, message },
        }
    }
}
