//! What the base layout needs on every page, and values put in words for people.

use serde::Serialize;

use crate::auth::CurrentUser;
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
                let [js_url, ui_url] = &config.script_urls;
                Some(ClerkScripts {
                    publishable_key: pk.clone(),
                    clerk_js_url: js_url.clone().unwrap_or_else(|| {
                        format!(
                            "https://{fapi}/npm/@clerk/clerk-js@{CLERK_JS_MAJOR}/dist/clerk.browser.js"
                        )
                    }),
                    ui_js_url: ui_url.clone().unwrap_or_else(|| {
                        format!("https://{fapi}/npm/@clerk/ui@{CLERK_UI_MAJOR}/dist/ui.browser.js")
                    }),
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
        }
    }
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
