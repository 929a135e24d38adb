//! `/admin/orgs` and `/admin/orgs/<id>`: the organizations kept from Clerk, and their members,
//! for administrators.

use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use super::{format_time, page_link, Layout, PageResult};
use crate::auth::Visitor;
use crate::clerk::Clerk;
use crate::db::memberships::{self, Membership};
use crate::db::organizations::{self, Organization};
use crate::db::Db;
use crate::directory::{find_organization, ListParams};

/// An organization as a row of the table.
#[derive(Serialize)]
struct OrgRow<'a> {
    org: &'a Organization,
    state: &'static str,
    created: String,
}

impl<'a> OrgRow<'a> {
    fn new(org: &'a Organization) -> Self {
        OrgRow {
            org,
            state: if org.deleted_at.is_some() {
                "deleted"
            } else {
                "active"
            },
            created: format_time(org.created_at),
        }
    }
}

/// A membership as a row: on an organization's page (the member) or a user's (the organization).
#[derive(Serialize)]
pub(super) struct MemberRow<'a> {
    membership: &'a Membership,
    /// The organization's name, where it is known.
    org_name: Option<&'a str>,
    state: &'static str,
    since: String,
}

impl<'a> MemberRow<'a> {
    pub(super) fn new(membership: &'a Membership, org: Option<&'a Organization>) -> Self {
        let org_deleted = org.is_some_and(|o| o.deleted_at.is_some());
        MemberRow {
            membership,
            org_name: org.map(|o| o.name.as_str()).filter(|name| !name.is_empty()),
            state: if membership.deleted_at.is_some() || org_deleted {
                "ended"
            } else {
                "active"
            },
            since: format_time(membership.created_at),
        }
    }
}

#[rocket::get("/admin/orgs?<q>&<cursor>")]
async fn list(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    q: Option<&str>,
    cursor: Option<&str>,
) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let params = ListParams::parse(q, None, cursor)?;
    let page = organizations::search(db, params.query, params.start, params.limit).await?;
    let rows: Vec<OrgRow> = page.rows.iter().map(OrgRow::new).collect();
    Ok(Template::render(
        "admin/orgs",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            q: params.query,
            rows,
            next: page_link("/admin/orgs", &[("q", params.query)], page.next()),
            previous: page_link("/admin/orgs", &[("q", params.query)], page.previous()),
        },
    ))
}

#[rocket::get("/admin/orgs/<id>?<cursor>")]
async fn show(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    id: &str,
    cursor: Option<&str>,
) -> PageResult<Template> {
    let admin = visitor.require_admin(clerk)?;
    let params = ListParams::parse(None, None, cursor)?;
    let org = find_organization(db, id).await?;
    let page = memberships::members(db, &org.clerk_id, params.start, params.limit).await?;
    let members: Vec<MemberRow> = page.rows.iter().map(|m| MemberRow::new(m, None)).collect();
    let path = format!("/admin/orgs/{}", org.id);
    Ok(Template::render(
        "admin/org",
        context! {
            layout: Layout::new(clerk, Some(&admin)),
            row: OrgRow::new(&org),
            updated: format_time(org.updated_at),
            deleted: org.deleted_at.map(format_time),
            members_count: memberships::count_members(db, &org.clerk_id).await?,
            members,
            next: page_link(&path, &[], page.next()),
            previous: page_link(&path, &[], page.previous()),
        },
    ))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show]
}
