//! `/admin/audit`: administrators' actions on users, newest first, filtered and by pages.

use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use super::{encode, format_time, page_link, Layout, PageResult};
use crate::auth::Visitor;
use crate::clerk::Clerk;
use crate::db::audit_events::{self, AuditEvent, AuditFilter};
use crate::db::pagination::PageStart;
use crate::db::Db;
use crate::moderation::audit::AuditParams;
use crate::moderation::Action;

/// An audit event as a row of a table: its time for people, its parameters as text.
#[derive(Serialize)]
pub(super) struct AuditLine<'a> {
    event: &'a AuditEvent,
    at: String,
    parameters: String,
    ok: bool,
    target_link: String,
}

impl<'a> AuditLine<'a> {
    pub(super) fn new(event: &'a AuditEvent) -> Self {
        AuditLine {
            event,
            at: format_time(event.created_at),
            parameters: match &event.parameters {
                serde_json::Value::Object(map) if map.is_empty() => String::new(),
                other => other.to_string(),
            },
            ok: event.result == "ok",
            target_link: format!("/admin/audit?target={}", encode(&event.target)),
        }
    }
}

/// A link to the trail with the same filters, starting elsewhere.
fn list_link(filter: &AuditFilter<'_>, start: Option<PageStart>) -> Option<String> {
    let params = [
        ("actor", filter.actor.unwrap_or("")),
        ("target", filter.target.unwrap_or("")),
        ("action", filter.action.unwrap_or("")),
    ];
    page_link("/admin/audit", &params, start)
}

#[rocket::get("/admin/audit?<actor>&<target>&<action>&<cursor>")]
async fn list(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    actor: Option<&str>,
    target: Option<&str>,
    action: Option<&str>,
    cursor: Option<&str>,
) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let params = AuditParams::parse(actor, target, action, None, cursor)?;
    let page = audit_events::list(db, params.filter, params.start, params.limit).await?;
    let lines: Vec<AuditLine> = page.rows.iter().map(AuditLine::new).collect();
    Ok(Template::render(
        "admin/audit",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            actor: params.filter.actor.unwrap_or(""),
            target: params.filter.target.unwrap_or(""),
            action: params.filter.action.unwrap_or(""),
            actions: Action::NAMES,
            lines,
            next: list_link(&params.filter, page.next()),
            previous: list_link(&params.filter, page.previous()),
        },
    ))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list]
}
