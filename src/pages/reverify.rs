//! The answer to an administrator's form post that needs a fresher factor verification
//! (`CLERK_ADMIN_REVERIFICATION`): a 403 page that carries Clerk's own reverification body, on
//! which `static/app.js` opens ClerkJS's verification (`Clerk.__internal_openReverification`, the
//! call `useReverification()` makes) and re-posts the same form, anti-forgery token included,
//! once the user has verified. A form post has no fetch for `useReverification()` to wrap, so
//! the page stands in for it. In local mode (no ClerkJS) the page offers `/dev/sign-in` again,
//! which records a new verification.

use rocket::http::Status;
use rocket_dyn_templates::{context, Template};

use super::Layout;
use crate::auth::csrf::FIELD;
use crate::auth::CurrentUser;
use crate::clerk::token::Reverification;
use crate::clerk::Clerk;

/// The form post to send again once the user has verified.
pub(super) struct Retry<'a> {
    /// The action's path (`/admin/users/<id>/ban`).
    pub action: String,
    pub user_id: &'a str,
    pub csrf: Option<&'a str>,
    pub role: Option<&'a str>,
}

/// The 403 page asking `admin` to verify again before `retry` is sent once more.
pub(super) fn page(
    clerk: &Clerk,
    admin: &CurrentUser,
    wanted: Reverification,
    retry: &Retry<'_>,
) -> (Status, Template) {
    let user = &admin.user;
    (
        Status::Forbidden,
        Template::render(
            "admin/reverify",
            context! {
                layout: Layout::new(clerk, Some(admin)),
                clerk_error: wanted.clerk_error_body(),
                level: wanted.level.as_str(),
                after_minutes: wanted.after_minutes,
                action: &retry.action,
                user_id: retry.user_id,
                csrf_field: FIELD,
                csrf: retry.csrf.unwrap_or_default(),
                role: retry.role,
                local_mode: clerk.config.local_mode(),
                email: &user.email,
                first_name: &user.first_name,
                last_name: &user.last_name,
                admin: admin.session.role.as_deref() == Some("admin"),
            },
        ),
    )
}
