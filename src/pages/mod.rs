//! HTML routes and their template contexts.
//!
//! Every page takes the [`Visitor`] guard, which never fails; a page that needs a signed-in
//! person asks [`Visitor::require`], whose error ([`PageError`]) renders the redirect to
//! sign-in, the session refresh, or an error page.

mod admin;
mod dev;
pub mod redirect;

use rocket::response::Redirect;
use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use crate::auth::{CurrentUser, Visitor, VisitorState};
use crate::clerk::Clerk;
use crate::error::PageError;

pub type PageResult<T> = Result<T, PageError>;

/// A page, or a redirect instead of it.
#[derive(rocket::Responder)]
pub enum Page {
    Render(Template),
    Redirect(Redirect),
}

/// The major versions of Clerk's browser scripts this app is written against (spec §5).
const CLERK_JS_MAJOR: u32 = 6;
const CLERK_UI_MAJOR: u32 = 1;

/// What the base layout needs on every page.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub local_mode: bool,
    /// Present when ClerkJS should load: Clerk mode with a publishable key.
    pub clerk: Option<ClerkScripts>,
    pub user: Option<NavUser>,
}

#[derive(Debug, Serialize)]
pub struct ClerkScripts {
    pub publishable_key: String,
    pub clerk_js_url: String,
    pub ui_js_url: String,
}

#[derive(Debug, Serialize)]
pub struct NavUser {
    pub name: String,
    pub is_admin: bool,
}

impl Layout {
    pub fn new(clerk: &Clerk, user: Option<&CurrentUser>) -> Layout {
        let config = &clerk.config;
        let scripts = match (
            &config.publishable_key,
            &config.instance.frontend_api,
            config.local_mode(),
        ) {
            (Some(pk), Some(fapi), false) => Some(ClerkScripts {
                publishable_key: pk.clone(),
                clerk_js_url: format!(
                    "https://{fapi}/npm/@clerk/clerk-js@{CLERK_JS_MAJOR}/dist/clerk.browser.js"
                ),
                ui_js_url: format!(
                    "https://{fapi}/npm/@clerk/ui@{CLERK_UI_MAJOR}/dist/ui.browser.js"
                ),
            }),
            _ => None,
        };
        Layout {
            local_mode: config.local_mode(),
            clerk: scripts,
            user: user.map(|u| NavUser {
                name: display_name(u),
                is_admin: u.is_admin(clerk),
            }),
        }
    }
}

pub fn display_name(current: &CurrentUser) -> String {
    let user = &current.user;
    let full = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if full.is_empty() {
        user.email.clone()
    } else {
        full
    }
}

impl Visitor {
    /// The signed-in user, or the response that gets them signed in (or refreshed) first.
    pub fn require(self) -> PageResult<CurrentUser> {
        match self.state {
            VisitorState::SignedIn(user) => Ok(*user),
            VisitorState::SignedOut => Err(PageError::SignIn {
                return_to: self.path,
            }),
            VisitorState::Refresh(refresh) => Err(PageError::Refresh(refresh)),
            VisitorState::Refused(error) => Err(PageError::Refused(error)),
        }
    }

    /// The signed-in administrator, or the response that explains why not.
    pub fn require_admin(self, clerk: &Clerk) -> PageResult<CurrentUser> {
        let current = self.require()?;
        if current.is_admin(clerk) {
            Ok(current)
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// The signed-in user if any; a refresh still happens first, so that nobody sees a false
    /// signed-out page.
    pub fn optional(self) -> PageResult<Option<CurrentUser>> {
        match self.state {
            VisitorState::SignedIn(user) => Ok(Some(*user)),
            VisitorState::SignedOut | VisitorState::Refused(_) => Ok(None),
            VisitorState::Refresh(refresh) => Err(PageError::Refresh(refresh)),
        }
    }
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
fn profile(visitor: Visitor, clerk: &State<Clerk>) -> PageResult<Template> {
    let current = visitor.require()?;
    let role = current
        .user
        .role
        .clone()
        .or_else(|| current.session.role.clone())
        .unwrap_or_else(|| "member".into());
    Ok(Template::render(
        "profile",
        context! {
            layout: Layout::new(clerk, Some(&current)),
            name: display_name(&current),
            user: &current.user,
            role,
            is_admin: current.is_admin(clerk),
            session_id: &current.session.session_id,
            created: crate::users::format_time(current.user.created_at),
            last_seen: current.user.last_seen_at.map(crate::users::format_time),
        },
    ))
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a constant URL");
    url.query_pairs_mut().append_pair("v", value);
    url.query()
        .unwrap_or("v=")
        .trim_start_matches("v=")
        .to_owned()
}

pub fn routes() -> Vec<Route> {
    let mut routes = rocket::routes![index, sign_in, sign_up, profile];
    routes.extend(dev::routes());
    routes.extend(admin::routes());
    routes
}
