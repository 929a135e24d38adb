//! HTML routes and their template contexts.
//!
//! Every page takes the [`Visitor`] guard, which never fails; a page that needs a signed-in
//! person asks [`Visitor::require`], whose refusal becomes a [`PageError`]: the redirect to
//! sign-in (or to the task page, for a pending session: `tasks.rs`), the session refresh, or an
//! error page.

mod admin;
mod admin_actions;
mod admin_orgs;
mod audit;
mod dashboard;
mod dev;
mod error;
mod export;
mod layout;
mod orgs;
pub(crate) mod redirect;
mod rendered;
mod reverify;
mod tasks;

use std::fmt::Write as _;
use std::sync::Arc;

use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{Route, State};
use rocket_dyn_templates::{context, Metadata, Template};

use crate::auth::Visitor;
use crate::clerk::Clerk;
use crate::db::pagination::{self, PageStart};
pub use error::{html_catchers, PageError, PageResult};
use layout::{display_name, format_time, Layout};
pub use redirect::encode;
pub use rendered::RenderedPages;

/// A link to another page of a keyset list at `path`, keeping its `params` (a search, filters):
/// `path?name=value&…&cursor=…`; `None` when there is no such page.
fn page_link(path: &str, params: &[(&str, &str)], start: Option<PageStart>) -> Option<String> {
    let cursor = pagination::encode(start?)?;
    let mut link = format!("{path}?");
    for (name, value) in params {
        let _ = write!(link, "{name}={}&", encode(value));
    }
    Some(format!("{link}cursor={cursor}"))
}

/// A page, or a redirect instead of it.
#[derive(rocket::Responder)]
pub enum Page {
    Render(Template),
    Redirect(Redirect),
}

#[rocket::get("/")]
fn index(visitor: Visitor, clerk: &State<Clerk>) -> PageResult<Template> {
    let user = visitor.optional()?;
    Ok(Template::render(
        "index",
        context! { layout: Layout::new(clerk, user.as_ref()), name: user.as_ref().map(display_name) },
    ))
}

/// Shared by `/sign-in` and `/sign-up`: already signed in → straight to where they were going.
fn auth_page(
    template: &'static str,
    visitor: Visitor,
    clerk: &Clerk,
    redirect_url: Option<&str>,
) -> PageResult<Page> {
    let target = redirect::safe_path(redirect_url.unwrap_or("/"));
    if visitor.is_pending() {
        // Signed in at Clerk, with a session task left: finish it first.
        return Err(PageError::Tasks { return_to: target });
    }
    if visitor.optional()?.is_some() {
        return Ok(Page::Redirect(Redirect::to(target)));
    }
    if clerk.config.local_mode() {
        return Ok(Page::Redirect(Redirect::to(format!(
            "/dev/sign-in?redirect_url={}",
            encode(&target)
        ))));
    }
    Ok(Page::Render(Template::render(
        template,
        context! { layout: Layout::new(clerk, None), redirect_url: target },
    )))
}

#[rocket::get("/sign-in?<redirect_url>")]
fn sign_in(visitor: Visitor, clerk: &State<Clerk>, redirect_url: Option<&str>) -> PageResult<Page> {
    auth_page("sign_in", visitor, clerk, redirect_url)
}

#[rocket::get("/sign-up?<redirect_url>")]
fn sign_up(visitor: Visitor, clerk: &State<Clerk>, redirect_url: Option<&str>) -> PageResult<Page> {
    auth_page("sign_up", visitor, clerk, redirect_url)
}

#[rocket::get("/profile")]
fn profile(
    visitor: Visitor,
    clerk: &State<Clerk>,
    rendered: &State<RenderedPages>,
    templates: Metadata<'_>,
) -> PageResult<RawHtml<Arc<str>>> {
    let current = visitor.require()?;
    let role = current.role().unwrap_or("member");
    rendered.render(&templates, "profile", &current, || {
        context! {
            layout: Layout::new(clerk, Some(&current)),
            name: display_name(&current),
            // Only what the page shows: the row's own serialisation formats every time in it.
            user: context! {
                email: &current.user.email,
                username: &current.user.username,
                first_name: &current.user.first_name,
                last_name: &current.user.last_name,
                image_url: &current.user.image_url,
                clerk_id: &current.user.clerk_id,
            },
            role,
            is_admin: current.is_admin(clerk),
            session_id: &current.session.session_id,
            created: format_time(current.user.created_at),
            last_seen: current.user.last_seen_at.map(format_time),
        }
    })
}

pub fn routes() -> Vec<Route> {
    let mut routes = rocket::routes![index, sign_in, sign_up, profile];
    routes.extend(dev::routes());
    routes.extend(tasks::routes());
    routes.extend(admin::routes());
    routes.extend(admin_orgs::routes());
    // Administrators' actions on users and their audit trail.
    routes.extend(admin_actions::routes());
    routes.extend(audit::routes());
    routes.extend(dashboard::routes());
    routes.extend(export::routes());
    // The account and organization pages (Clerk's components).
    routes.extend(orgs::routes());
    routes
}
