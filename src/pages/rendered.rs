//! Pages of signed-in users, kept as rendered for a few seconds while nothing they show can have
//! changed: the same stored row (the very `Arc` the user cache serves, so any change of the row
//! is a new one), the same session, the same role and the same actor (`act`). Rendering with Tera was the largest cost
//! of a warm `/profile` in `perf` (about a quarter of the request).

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::UnitWeighter;
use rocket::response::content::RawHtml;
use rocket_dyn_templates::Metadata;

use super::{PageError, PageResult};
use crate::auth::CurrentUser;
use crate::clerk::token::ActClaim;
use crate::db::users::User;
use crate::error::ApiError;

/// At most as long as the row itself may be served from memory.
const KEEP_FOR: Duration = Duration::from_secs(5);
const MAX_PAGES: u64 = 5_000;

struct Rendered {
    /// When it stops being served (checked on read: the cache has no expiry of its own).
    until: Instant,
    user: Arc<User>,
    session_id: String,
    role: Option<String>,
    /// Who acts as the user (the banner): an impersonation changes the page.
    actor: Option<ActClaim>,
    /// Shared with every answer that serves it: a kept page is sent, not copied.
    html: Arc<str>,
}

/// quick_cache, as the token verdicts (`clerk::token::cache`): moka's get showed in `perf`.
type Pages = Cache<
    (&'static str, String),
    Arc<Rendered>,
    UnitWeighter,
    foldhash::fast::RandomState,
    DefaultLifecycle<(&'static str, String), Arc<Rendered>>,
>;

pub struct RenderedPages {
    pages: Pages,
}

impl Default for RenderedPages {
    fn default() -> Self {
        RenderedPages {
            pages: Cache::with(
                usize::try_from(MAX_PAGES).unwrap_or(usize::MAX),
                MAX_PAGES,
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            ),
        }
    }
}

impl RenderedPages {
    /// `template` for `current`, rendered with `context` unless a rendering for the same row,
    /// session and role is kept.
    pub fn render<C: serde::Serialize>(
        &self,
        templates: &Metadata<'_>,
        template: &'static str,
        current: &CurrentUser,
        context: impl FnOnce() -> C,
    ) -> PageResult<RawHtml<Arc<str>>> {
        let key = (template, current.user.clerk_id.clone());
        let role = current.role();
        if let Some(kept) = self.pages.get(&key) {
            if Arc::ptr_eq(&kept.user, &current.user)
                && Instant::now() < kept.until
                && kept.session_id == current.session.session_id
                && kept.role.as_deref() == role
                && kept.actor == current.session.actor
            {
                return Ok(RawHtml(Arc::clone(&kept.html)));
            }
        }
        let (_, html) = templates.render(template, context()).ok_or_else(|| {
            PageError::Refused(ApiError::Internal(format!("template {template} failed")))
        })?;
        let html: Arc<str> = Arc::from(html);
        self.pages.insert(
            key,
            Arc::new(Rendered {
                until: Instant::now() + KEEP_FOR,
                user: Arc::clone(&current.user),
                session_id: current.session.session_id.clone(),
                role: role.map(str::to_owned),
                actor: current.session.actor.clone(),
                html: Arc::clone(&html),
            }),
        );
        Ok(RawHtml(html))
    }
}
