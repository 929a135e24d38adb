//! The task page (`/sign-in/tasks`) and one page per session task (`/sign-in/tasks/<key>`), where
//! a visitor whose session is pending finishes it in Clerk's own component, then goes back to
//! the page they asked for.
//!
//! `/sign-in/tasks` is where every page sends a pending visitor (`PageError::Tasks`), as Clerk's
//! SDKs do (`<sign-in URL>/tasks`); ClerkJS there knows which task is left
//! (`Clerk.session.currentTask`) and opens that task's page, which `static/app.js` also gives to
//! `Clerk.load` as `taskUrls`, so that `<SignIn/>` goes there straight after a sign-in. Each
//! task's page mounts the task's component (`mountTaskChooseOrganization`,
//! `mountTaskResetPassword`, `mountTaskSetupMFA`) with `redirectUrlComplete` back to the page
//! first asked for.

use rocket::response::Redirect;
use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};

use super::layout::Layout;
use super::redirect::safe_path;
use super::{Page, PageError, PageResult};
use crate::auth::{Visitor, VisitorState};
use crate::clerk::session_tasks::{SessionTask, TASKS_PATH};
use crate::clerk::Clerk;

#[rocket::get("/sign-in/tasks?<redirect_url>")]
fn tasks(visitor: Visitor, clerk: &State<Clerk>, redirect_url: Option<&str>) -> PageResult<Page> {
    task_page(None, visitor, clerk, redirect_url)
}

#[rocket::get("/sign-in/tasks/<key>?<redirect_url>")]
fn task(
    key: &str,
    visitor: Visitor,
    clerk: &State<Clerk>,
    redirect_url: Option<&str>,
) -> PageResult<Page> {
    let task = SessionTask::from_key(key).ok_or(PageError::NotFound)?;
    task_page(Some(task), visitor, clerk, redirect_url)
}

/// A pending visitor gets the page; one whose session is active has nothing left to do and goes
/// back; a signed-out one signs in first (and comes back here if Clerk still has a task).
fn task_page(
    task: Option<SessionTask>,
    visitor: Visitor,
    clerk: &Clerk,
    redirect_url: Option<&str>,
) -> PageResult<Page> {
    let target = safe_path(redirect_url.unwrap_or("/"));
    match visitor.state {
        VisitorState::Pending(_) => {}
        VisitorState::SignedIn(_) => return Ok(Page::Redirect(Redirect::to(target))),
        VisitorState::SignedOut => return Err(PageError::SignIn { return_to: target }),
        VisitorState::Refresh(refresh) => return Err(PageError::Refresh(refresh)),
        VisitorState::Refused(error) => return Err(PageError::Refused(error)),
    }
    let with_return = |path: String| format!("{path}?redirect_url={}", super::encode(&target));
    let tasks: Vec<_> = SessionTask::ALL
        .iter()
        .map(|t| context! { key: t.key(), title: t.title(), url: with_return(t.path()) })
        .collect();
    Ok(Page::Render(Template::render(
        "session_tasks",
        context! {
            layout: Layout::new(clerk, None),
            redirect_url: &target,
            tasks_url: with_return(TASKS_PATH.to_owned()),
            task: task.map(|t| context! { key: t.key(), title: t.title(), mount: t.mount_method() }),
            tasks,
        },
    )))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![tasks, task]
}
