//! The admin pages' actions on a user: a confirmation step for what takes something away (ban,
//! ending every session, removing the role), and the form posts, each checked for its origin and
//! its anti-forgery token before anything happens, then answered with a 303 back to the user's
//! page and a status line.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};

use super::reverify::{self, Retry};
use super::{encode, Layout, PageError, PageResult};
use crate::auth::csrf::{CsrfKey, FIELD};
use crate::auth::{allowed_origin, request_origin, Caches, CurrentUser, Visitor};
use crate::clerk::Clerk;
use crate::db::Db;
use crate::directory::find;
use crate::moderation::{self, Action, ActionError, Actor};
use crate::observability::RequestId;

/// A form post's origin, as the browser states it: `Origin` (else `Referer`) must be this app or
/// one of `CLERK_AUTHORIZED_PARTIES`. A post without either comes from no browser page (an API
/// client with a Bearer token: a browser signed in by cookie is refused earlier, without them).
pub(super) struct PostOrigin(bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PostOrigin {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let allowed = match (request_origin(request), request.rocket().state::<Clerk>()) {
            (None, _) => true,
            (Some(_), Some(clerk)) => allowed_origin(request, &clerk.config),
            (Some(_), None) => false,
        };
        request::Outcome::Success(PostOrigin(allowed))
    }
}

#[derive(Debug, FromForm)]
pub(super) struct ActionForm<'r> {
    csrf: Option<&'r str>,
    /// For `/role`: the new role, empty to remove it.
    role: Option<&'r str>,
}

/// The administrator behind a form post, once its origin and token are checked: one who may
/// change things (`CurrentUser::can_write_as_admin`), not only read.
fn checked_admin(
    visitor: Visitor,
    clerk: &Clerk,
    origin: &PostOrigin,
    key: &CsrfKey,
    token: Option<&str>,
) -> PageResult<CurrentUser> {
    let admin = visitor.require_admin(clerk)?;
    if !admin.can_write_as_admin(clerk) {
        return Err(PageError::Forbidden);
    }
    if !origin.0 {
        return Err(PageError::NotAllowed(
            "this form only accepts posts from this app's own pages, not from another site".into(),
        ));
    }
    if !key.verify(&admin.session.session_id, token) {
        return Err(PageError::NotAllowed(
            "the form's anti-forgery token is missing or wrong (an old page, or another site): \
             reload the page and try again"
                .into(),
        ));
    }
    Ok(admin)
}

/// The answer to an action's form post.
#[derive(rocket::Responder)]
enum Answered {
    /// Back to the user's page, with the outcome in the query.
    Back(Redirect),
    /// Verify again first (`reverify`), then the form is sent once more.
    Reverify((Status, Template)),
}

/// Performs `action` and sends the administrator back to the user's page with its outcome.
#[allow(clippy::too_many_arguments)] // the guards one form post needs
async fn act(
    admin: CurrentUser,
    clerk: &Clerk,
    db: &Db,
    caches: &Caches<'_>,
    request_id: &RequestId,
    id: &str,
    action: Action,
    retry: &Retry<'_>,
) -> PageResult<Answered> {
    let actor = Actor {
        clerk_id: &admin.user.clerk_id,
        request_id: &request_id.0,
        session: &admin.session,
    };
    let back = |outcome: &str| {
        Answered::Back(Redirect::to(format!(
            "/admin/users/{}?{outcome}",
            encode(id)
        )))
    };
    let result = moderation::perform(db, clerk, actor, id, &action).await;
    if let Some((clerk_id, sessions)) = moderation::changed(&result) {
        caches.forget_changed(clerk_id, sessions).await;
    }
    match result {
        Ok(_) => Ok(back(&format!("done={}", action.name()))),
        Err(
            e @ (ActionError::OnSelf
            | ActionError::LastAdmin
            | ActionError::TargetDeleted
            | ActionError::NotConfigured
            | ActionError::ClerkUserNotFound
            | ActionError::Clerk(_)
            | ActionError::Impersonated
            | ActionError::SessionsPartlyEnded { .. }),
        ) => {
            if let ActionError::Clerk(cause) = &e {
                rocket::warn!("an administrator's action failed at Clerk: {cause}");
            }
            Ok(back(&format!("refused={}", e.code())))
        }
        Err(ActionError::Reverification(wanted)) => Ok(Answered::Reverify(reverify::page(
            clerk, &admin, wanted, retry,
        ))),
        Err(e) => Err(crate::error::ApiError::from(e).into()),
    }
}

/// What the user's page says after an action: `(kind, message)` for a known outcome code only.
pub(super) fn status_line(
    done: Option<&str>,
    refused: Option<&str>,
) -> Option<(&'static str, &'static str)> {
    let done = match done {
        Some("ban") => Some("The user is banned: they are refused from their next request."),
        Some("unban") => Some("The ban is lifted."),
        Some("revoke-sessions") => Some("Every session of the user has ended."),
        Some("set-role") => Some("The role is changed."),
        _ => None,
    };
    if let Some(message) = done {
        return Some(("ok", message));
    }
    let refused = match refused? {
        "cannot-act-on-self" => {
            "You cannot ban yourself, end your own sessions or change your own role."
        }
        "last-admin" => "This is the last administrator: make another one first.",
        "target-deleted" => "This user was deleted in Clerk: nothing can be changed.",
        "backend-api-not-configured" => {
            "Clerk's Backend API is not configured here (CLERK_SECRET_KEY): nothing was changed."
        }
        "clerk-user-not-found" => "Clerk has no such user: nothing was changed.",
        "impersonated-session" => {
            "Someone else is acting as this session (an impersonation or an agent): \
             administrators' actions are refused in it, and the refusal is in the audit trail."
        }
        "clerk-backend-api-error" => {
            "Clerk did not make the change (it failed or did not answer in time): nothing was \
             changed. Try again shortly."
        }
        "sessions-partly-ended" => {
            "Clerk ended some of the user's sessions, then failed; those are ended here too. \
             Try again to end the others."
        }
        _ => return None,
    };
    Some(("refused", refused))
}

/// The confirmation step of an action that takes something away.
struct Confirmation {
    title: &'static str,
    explanation: &'static str,
    path: &'static str,
    button: &'static str,
    /// The `role` field, for the role form.
    role: Option<&'static str>,
}

fn confirmation(action: &str) -> Option<Confirmation> {
    Some(match action {
        "ban" => Confirmation {
            title: "Ban this user?",
            explanation: "Clerk bans the user and ends every session of theirs; this app refuses \
                          them from their next request. You can lift the ban later.",
            path: "ban",
            button: "Ban",
            role: None,
        },
        "revoke-sessions" => Confirmation {
            title: "End every session of this user?",
            explanation: "The user is signed out everywhere and must sign in again.",
            path: "revoke-sessions",
            button: "End every session",
            role: None,
        },
        "demote" => Confirmation {
            title: "Remove this user's admin role?",
            explanation: "Their public_metadata.role is removed at Clerk (other metadata stays); \
                          they lose access to the admin pages.",
            path: "role",
            button: "Remove the admin role",
            role: Some(""),
        },
        _ => return None,
    })
}

#[rocket::get("/admin/users/<id>/confirm/<action>")]
async fn confirm(
    visitor: Visitor,
    clerk: &State<Clerk>,
    key: &State<CsrfKey>,
    db: &Db,
    id: &str,
    action: &str,
) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let step = confirmation(action).ok_or(PageError::NotFound)?;
    let user = find(db, id).await?;
    Ok(Template::render(
        "admin/confirm",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            user: &user,
            title: step.title,
            explanation: step.explanation,
            path: step.path,
            button: step.button,
            role: step.role,
            csrf_field: FIELD,
            csrf: key.token(&admin.session.session_id),
        },
    ))
}

macro_rules! action_route {
    ($name:ident, $path:literal, $suffix:literal, $action:expr) => {
        #[rocket::post($path, data = "<form>")]
        #[allow(clippy::too_many_arguments)] // the guards one form post needs
        async fn $name(
            visitor: Visitor,
            origin: PostOrigin,
            clerk: &State<Clerk>,
            key: &State<CsrfKey>,
            db: &Db,
            caches: Caches<'_>,
            request_id: RequestId,
            id: &str,
            form: Form<ActionForm<'_>>,
        ) -> PageResult<Answered> {
            let admin = checked_admin(visitor, clerk, &origin, key, form.csrf)?;
            let action: fn(&ActionForm<'_>) -> Action = $action;
            let user_id = encode(id);
            let retry = Retry {
                action: format!("/admin/users/{user_id}/{}", $suffix),
                user_id: &user_id,
                csrf: form.csrf,
                role: form.role,
            };
            let action = action(&form);
            act(admin, clerk, db, &caches, &request_id, id, action, &retry).await
        }
    };
}

action_route!(ban, "/admin/users/<id>/ban", "ban", |_| Action::Ban);
action_route!(unban, "/admin/users/<id>/unban", "unban", |_| Action::Unban);
action_route!(
    revoke_sessions,
    "/admin/users/<id>/revoke-sessions",
    "revoke-sessions",
    |_| Action::RevokeSessions
);
action_route!(set_role, "/admin/users/<id>/role", "role", |form| {
    Action::SetRole(
        form.role
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
    )
});

pub fn routes() -> Vec<Route> {
    rocket::routes![confirm, ban, unban, revoke_sessions, set_role]
}
