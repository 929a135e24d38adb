//! What the base layout needs on every page, and values put in words for people.

use serde::Serialize;

use crate::auth::CurrentUser;
use crate::clerk::session_tasks::SessionTask;
use crate::clerk::Clerk;

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
    /// Clerk's session task keys and this app's page for each (JSON), for `Clerk.load`'s
    /// `taskUrls` (`static/app.js` adds the way back).
    pub task_urls: String,
    /// Someone else acting as the signed-in user (Clerk's `act` claim), for the banner.
    pub acting: Option<Acting>,
}

/// The banner of a session someone else drives: "acting as <user> for <actor>".
#[derive(Debug, Serialize)]
pub struct Acting {
    /// The user acted as: their name, else their email.
    pub user: String,
    /// The actor's id (the impersonating member's Clerk user id, or the agent's), printable
    /// ASCII only (`ActClaim`); the template escapes it.
    pub actor: String,
    pub agent: bool,
    /// Whether administrators' actions are refused here (`CLERK_ADMIN_ALLOW_IMPERSONATED` unset).
    pub actions_refused: bool,
}

#[derive(Debug, Serialize)]
pub struct ClerkScripts {
    pub publishable_key: String,
    pub clerk_js_url: String,
    pub ui_js_url: String,
    /// `CLERK_PROXY_URL` (as configured: a path is resolved by ClerkJS against the page's
    /// origin): ClerkJS reaches the Frontend API through this server.
    pub proxy_url: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NavUser {
    pub name: String,
    pub is_admin: bool,
    /// Offer `<OrganizationSwitcher/>` and the organization's pages (`Clerk::offers_organizations`).
    pub organizations: bool,
}

impl Layout {
    pub fn new(clerk: &Clerk, user: Option<&CurrentUser>) -> Layout {
        let config = &clerk.config;
        let scripts = match (
            &config.publishable_key,
            &config.instance.frontend_api,
            config.local_mode(),
        ) {
            (Some(pk), Some(fapi), false) => {
                let proxy_url = config
                    .proxy
                    .as_ref()
                    .map(|proxy| proxy.public_url.clone().unwrap_or(proxy.path.clone()));
                // Through the proxy, the scripts come from it too: a browser that cannot reach
                // the Frontend API's host cannot load them from there either.
                let base = proxy_url
                    .clone()
                    .unwrap_or_else(|| format!("https://{fapi}"));
                Some(ClerkScripts {
                    publishable_key: pk.clone(),
                    clerk_js_url: config.clerk_js_url.clone().unwrap_or_else(|| {
                        format!("{base}/npm/@clerk/clerk-js@{CLERK_JS_MAJOR}/dist/clerk.browser.js")
                    }),
                    ui_js_url: config.clerk_ui_url.clone().unwrap_or_else(|| {
                        format!("{base}/npm/@clerk/ui@{CLERK_UI_MAJOR}/dist/ui.browser.js")
                    }),
                    proxy_url,
                })
            }
            _ => None,
        };
        Layout {
            local_mode: config.local_mode(),
            clerk: scripts,
            user: user.map(|u| NavUser {
                name: display_name(u),
                is_admin: u.is_admin(clerk),
                organizations: clerk.offers_organizations(u.session.authorization.org.is_some()),
            }),
            task_urls: task_urls(),
            acting: user.and_then(|u| {
                u.session.actor.as_ref().map(|act| Acting {
                    user: display_name(u),
                    actor: act.sub.clone(),
                    agent: act.is_agent(),
                    actions_refused: !clerk.config.admin_allow_impersonated,
                })
            }),
        }
    }
}

/// `{"choose-organization": "/sign-in/tasks/choose-organization", …}`.
fn task_urls() -> String {
    let urls: serde_json::Map<String, serde_json::Value> = SessionTask::ALL
        .iter()
        .map(|task| (task.key().to_owned(), task.path().into()))
        .collect();
    serde_json::Value::Object(urls).to_string()
}

#[must_use]
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

/// Unix seconds as text for people: `26 Nov 2026, 06:29 UTC`.
#[must_use]
pub fn format_time(secs: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}
