//! The signed-in person's account and organization, in Clerk's own components: `/account`
//! (`<UserProfile/>`), `/orgs/current` (`<OrganizationProfile/>` of the active organization)
//! and `/orgs/current/members` (its members, for those holding `org:sys_memberships:read`).
//! `/orgs/<slug>` and `/orgs/<slug>/members` are the same pages for the organization a URL
//! names: with `CLERK_ORGANIZATION_PATTERNS` set, Clerk's handshake activates it first; else
//! (or when it could not), the page says that another organization is active. The literal
//! `current` always names the active organization.

use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

use super::{format_time, page_link, Layout, PageError, PageResult};
use crate::auth::{
    authorize, org_access, CurrentUser, OrgAccess, OrgStandings, ReadMemberships, Requirement,
    Visitor,
};
use crate::clerk::Clerk;
use crate::db::memberships::{self, Membership};
use crate::db::Db;
use crate::directory::ListParams;

#[rocket::get("/account")]
fn account(visitor: Visitor, clerk: &State<Clerk>) -> PageResult<Template> {
    let current = visitor.require()?;
    Ok(Template::render(
        "account",
        context! {
            layout: Layout::new(clerk, Some(&current)),
            email: &current.user.email,
        },
    ))
}

/// The active organization as a page shows it.
#[derive(Serialize)]
struct OrgView {
    id: String,
    slug: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

impl OrgView {
    fn of(access: &OrgAccess) -> Option<OrgView> {
        let org = access.claims.authorization.org.as_ref()?;
        Some(OrgView {
            id: org.id.clone(),
            slug: org.slug.clone(),
            name: access.org_name.clone(),
            role: org.role.clone(),
        })
    }

    /// The path of this organization's pages: by slug when it has one.
    fn home(&self) -> String {
        match &self.slug {
            Some(slug) => format!("/orgs/{}", super::encode(slug)),
            None => "/orgs/current".to_owned(),
        }
    }
}

/// The access of a page's visitor to the organization the URL names (`current`: the active
/// one), or the page saying that another one is active.
fn named_org(slug: &str, access: &OrgAccess) -> Result<Option<OrgView>, PageError> {
    let org = OrgView::of(access);
    if slug == "current" || org.as_ref().and_then(|o| o.slug.as_deref()) == Some(slug) {
        return Ok(org);
    }
    Err(PageError::NotAllowed(format!(
        "The organization “{slug}” is not your active organization: choose it in the \
         organization switcher."
    )))
}

async fn profile_page(
    slug: &str,
    visitor: Visitor,
    clerk: &Clerk,
    db: &Db,
    standings: &OrgStandings,
) -> PageResult<Template> {
    let current = visitor.require()?;
    let access = org_access(db, standings, &current.session).await?;
    let org = named_org(slug, &access)?;
    let can_read_members = access.evaluate(&ReadMemberships::check()).is_ok();
    let home = org.as_ref().map(OrgView::home);
    Ok(Template::render(
        "org_profile",
        context! {
            layout: Layout::new(clerk, Some(&current)),
            org,
            home,
            can_read_members,
        },
    ))
}

#[rocket::get("/orgs/current")]
async fn current_profile(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    standings: &State<OrgStandings>,
) -> PageResult<Template> {
    profile_page("current", visitor, clerk, db, standings).await
}

#[rocket::get("/orgs/<slug>")]
async fn named_profile(
    slug: &str,
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    standings: &State<OrgStandings>,
) -> PageResult<Template> {
    profile_page(slug, visitor, clerk, db, standings).await
}

/// A membership as a row of the members table.
#[derive(Serialize)]
struct MemberRow<'a> {
    membership: &'a Membership,
    you: bool,
    since: String,
}

async fn members_page(
    slug: &str,
    visitor: Visitor,
    clerk: &Clerk,
    db: &Db,
    standings: &OrgStandings,
    cursor: Option<&str>,
) -> PageResult<Template> {
    let current: CurrentUser = visitor.require()?;
    let params = ListParams::parse(None, None, cursor)?;
    let access = authorize::<ReadMemberships>(db, standings, &current).await?;
    let org = named_org(slug, &access)?.ok_or(PageError::NotFound)?;
    let page = memberships::members(db, &org.id, params.start, params.limit).await?;
    let rows: Vec<MemberRow> = page
        .rows
        .iter()
        .map(|m| MemberRow {
            membership: m,
            you: m.user_id == current.user.clerk_id,
            since: format_time(m.created_at),
        })
        .collect();
    let path = if slug == "current" {
        "/orgs/current/members".to_owned()
    } else {
        format!("{}/members", org.home())
    };
    Ok(Template::render(
        "org_members",
        context! {
            layout: Layout::new(clerk, Some(&current)),
            members_count: memberships::count_members(db, &org.id).await?,
            home: org.home(),
            org,
            rows,
            next: page_link(&path, &[], page.next()),
            previous: page_link(&path, &[], page.previous()),
        },
    ))
}

#[rocket::get("/orgs/current/members?<cursor>")]
async fn current_members(
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    standings: &State<OrgStandings>,
    cursor: Option<&str>,
) -> PageResult<Template> {
    members_page("current", visitor, clerk, db, standings, cursor).await
}

#[rocket::get("/orgs/<slug>/members?<cursor>")]
async fn named_members(
    slug: &str,
    visitor: Visitor,
    clerk: &State<Clerk>,
    db: &Db,
    standings: &State<OrgStandings>,
    cursor: Option<&str>,
) -> PageResult<Template> {
    members_page(slug, visitor, clerk, db, standings, cursor).await
}

pub fn routes() -> Vec<Route> {
    rocket::routes![
        account,
        current_profile,
        named_profile,
        current_members,
        named_members
    ]
}
