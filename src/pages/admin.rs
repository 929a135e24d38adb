//! `/admin/users` and `/admin/users/<id>`: the users table for administrators.

use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use super::{encode, format_time, page_link, Layout, PageResult};
use crate::auth::Visitor;
use crate::clerk::Clerk;
use crate::db::pagination::PageStart;
use crate::db::users::{self, User};
use crate::db::Db;
use crate::directory::{find, ListParams};
// Administrators' actions and their audit trail on the user's page.
use super::admin_actions::status_line;
use super::audit::AuditLine;
use crate::auth::csrf::{CsrfKey, FIELD};
use crate::db::audit_events::{self, AuditFilter};
use crate::moderation::audit::ON_USER_PAGE;
// The user's organizations.
use super::admin_orgs::MemberRow;
use crate::db::memberships;

/// Memberships listed on a user's page (ended ones too), newest first.
const MEMBERSHIPS_ON_USER_PAGE: u32 = 100;

/// A user as a row of the table: times for people, and one state word.
#[derive(Serialize)]
struct Row<'a> {
    user: &'a User,
    name: String,
    state: &'static str,
    created: String,
    last_seen: Option<String>,
}

impl<'a> Row<'a> {
    fn new(user: &'a User) -> Self {
        let name = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Row {
            user,
            name,
            state: user.state(),
            created: format_time(user.created_at),
            last_seen: user.last_seen_at.map(format_time),
        }
    }
}

#[rocket::get("/admin/users?<q>&<cursor>")]
async fn list(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    q: Option<&str>,
    cursor: Option<&str>,
) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let params = ListParams::parse(q, None, cursor)?;
    let page = users::search(db, params.query, params.start, params.limit).await?;
    let rows: Vec<Row> = page.rows.iter().map(Row::new).collect();
    Ok(Template::render(
        "admin/users",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            q: params.query,
            rows,
            next: page_link("/admin/users", &[("q", params.query)], page.next()),
            previous: page_link("/admin/users", &[("q", params.query)], page.previous()),
        },
    ))
}

#[rocket::get("/admin/users/<id>?<done>&<refused>")]
#[allow(clippy::too_many_arguments)] // the page's guards and its status parameters
async fn show(
    visitor: Visitor,
    clerk: &State<Clerk>,
    csrf: &State<CsrfKey>,
    db: &Db,
    id: &str,
    done: Option<&str>,
    refused: Option<&str>,
) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let user = find(db, id).await?;
    let row = Row::new(&user);
    // Administrators' actions: the forms, the outcome of the last one, the latest audit events.
    let filter = AuditFilter {
        target: Some(&user.clerk_id),
        ..AuditFilter::default()
    };
    let audit = audit_events::list(db, filter, PageStart::First, ON_USER_PAGE).await?;
    let events: Vec<AuditLine> = audit.rows.iter().map(AuditLine::new).collect();
    let (status_kind, status) = status_line(done, refused).unzip();
    let held = memberships::of_user(db, &user.clerk_id, MEMBERSHIPS_ON_USER_PAGE).await?;
    let memberships: Vec<MemberRow> = held
        .iter()
        .map(|(membership, org)| MemberRow::new(membership, org.as_ref()))
        .collect();
    Ok(Template::render(
        "admin/user",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            row,
            updated: format_time(user.updated_at),
            clerk_updated: user.clerk_updated_at.map(format_time),
            deleted: user.deleted_at.map(format_time),
            is_self: admin.user.clerk_id == user.clerk_id,
            can_act: admin.can_write_as_admin(clerk),
            csrf_field: FIELD,
            csrf: csrf.token(&admin.session.session_id),
            status,
            status_kind,
            lines: events,
            more_events: audit.has_older,
            audit_link: format!("/admin/audit?target={}", encode(&user.clerk_id)),
            memberships,
        },
    ))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show]
}
