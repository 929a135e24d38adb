//! Clerk's session tasks: what a pending session (`sts: "pending"`) waits for, and where this app
//! lets the user finish each one.
//!
//! The keys are Clerk's (`SessionTask['key']` in `@clerk/shared`, mirrored by ClerkJS's
//! `taskUrls` option and its `mountTask…` components); the token says only that the session is
//! pending, so which task is left is read by ClerkJS in the browser (`Clerk.session.currentTask`).
//! The task page is `<sign-in URL>/tasks`, where Clerk's SDKs send pending users
//! (`createRedirect` in `@clerk/backend`), and each task has its own page below it.

/// The task page: where pages send a visitor whose session is pending.
pub const TASKS_PATH: &str = "/sign-in/tasks";

/// One of Clerk's session tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTask {
    /// The instance requires an active organization ("force organization membership").
    ChooseOrganization,
    /// Clerk asks the user for a new password (a compromised or expired one).
    ResetPassword,
    /// The instance requires multi-factor authentication, and the user has none yet.
    SetupMfa,
}

impl SessionTask {
    /// Every task, in the order the task page lists them.
    pub const ALL: [SessionTask; 3] = [
        SessionTask::ChooseOrganization,
        SessionTask::ResetPassword,
        SessionTask::SetupMfa,
    ];

    /// Clerk's key for the task (`taskUrls` key, `currentTask.key`).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            SessionTask::ChooseOrganization => "choose-organization",
            SessionTask::ResetPassword => "reset-password",
            SessionTask::SetupMfa => "setup-mfa",
        }
    }

    /// The task of Clerk's `key`, if it is one.
    #[must_use]
    pub fn from_key(key: &str) -> Option<SessionTask> {
        SessionTask::ALL.into_iter().find(|task| task.key() == key)
    }

    /// The ClerkJS method that mounts the task's component.
    #[must_use]
    pub fn mount_method(self) -> &'static str {
        match self {
            SessionTask::ChooseOrganization => "mountTaskChooseOrganization",
            SessionTask::ResetPassword => "mountTaskResetPassword",
            SessionTask::SetupMfa => "mountTaskSetupMFA",
        }
    }

    /// What the user is asked to do, in words.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            SessionTask::ChooseOrganization => "Choose an organization",
            SessionTask::ResetPassword => "Reset your password",
            SessionTask::SetupMfa => "Set up two-step verification",
        }
    }

    /// This app's page for the task: `/sign-in/tasks/<key>`.
    #[must_use]
    pub fn path(self) -> String {
        format!("{TASKS_PATH}/{}", self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::SessionTask;

    #[test]
    fn keys_are_clerks_and_round_trip() {
        let keys: Vec<&str> = SessionTask::ALL.iter().map(|t| t.key()).collect();
        assert_eq!(keys, ["choose-organization", "reset-password", "setup-mfa"]);
        for task in SessionTask::ALL {
            assert_eq!(SessionTask::from_key(task.key()), Some(task));
            assert_eq!(task.path(), format!("/sign-in/tasks/{}", task.key()));
        }
        assert_eq!(SessionTask::from_key("setup_mfa"), None);
        assert_eq!(SessionTask::from_key(""), None);
    }
}
