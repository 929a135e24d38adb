//! What this instance must forget when an administrator changed a user here: the user's cached
//! row and the cached verdicts on the sessions that ended, so that the very next request of the
//! user is refused (other instances follow within their cache bound).

use super::guards::Caches;

impl Caches<'_> {
    pub async fn forget_changed(&self, clerk_id: &str, ended_sessions: &[String]) {
        self.users.forget(clerk_id);
        for session in ended_sessions {
            self.revocations.forget(session).await;
        }
    }
}
