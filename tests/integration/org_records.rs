//! Organizations in the database: `organization.*` and `organizationMembership.*` webhooks kept
//! in order with tombstones, an ended membership taking the organization away from a token that
//! still claims it (here at once, on another instance within the bound), `clerk-rocket sync` of
//! organizations, and the admin pages and API; on `SQLite` and (when configured) `PostgreSQL`.

use std::time::{Duration, Instant};

use clerk_rocket::auth::{Authorized, Requirement};
use clerk_rocket::clerk::backend_api::BackendApi;
use clerk_rocket::clerk::token::Check;
use rocket::serde::json::Json;
use serde_json::{json, Value};

use crate::common::*;

backend_tests!(
    organization_and_membership_events_apply_in_order_and_deletions_stay,
    an_ended_membership_takes_the_organization_from_the_next_request,
    a_role_changed_after_the_token_was_issued_is_served_from_the_row,
    sync_reconciles_organizations_and_memberships,
    admins_browse_organizations_and_their_members,
);

const SECRET_KEY: &str = "sk_test_orgs";

struct ReadInvoices;
impl Requirement for ReadInvoices {
    fn check() -> Check<'static> {
        Check {
            permission: Some("org:invoices:read"),
            ..Check::default()
        }
    }
}

#[rocket::get("/invoices")]
fn invoices(_auth: Authorized<ReadInvoices>) -> Json<Value> {
    Json(json!({ "ok": true }))
}

fn settings(fake: &FakeClerk, backend: &Backend, admin: &str) -> Settings {
    Settings::clerk(fake)
        .on(backend)
        .with_webhook_secret()
        .set("admin_user_ids", admin)
        .mount(rocket::routes![invoices])
}

async fn app_on(backend: &Backend, admin: &str) -> (FakeClerk, TestApp) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = settings(&fake, backend, admin).start().await;
    (fake, app)
}

/// Delivers one event; the answer's outcome.
async fn deliver(app: &TestApp, kind: &str, data: Value) -> String {
    let answer = app.deliver(&unique("msg"), &clerk_event(kind, data)).await;
    assert_eq!(answer.status, 200, "{kind}: {:?}", answer.body);
    answer.body["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn text(app: &TestApp, sql: &str) -> String {
    let pool = app.pool().await;
    let value: String = clerk_rocket::db::query_scalar(sql)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    value
}

/// The org's name and whether it is a tombstone.
async fn org_row(app: &TestApp, org: &str) -> (String, bool) {
    let name = text(
        app,
        &format!("SELECT name FROM organizations WHERE clerk_id = '{org}'"),
    )
    .await;
    let deleted = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM organizations WHERE clerk_id = '{org}' AND deleted_at IS NOT NULL"
        ))
        .await;
    (name, deleted == 1)
}

/// The membership's role and whether it is a tombstone.
async fn membership_row(app: &TestApp, membership: &str) -> (String, bool) {
    let role = text(
        app,
        &format!("SELECT role FROM memberships WHERE clerk_id = '{membership}'"),
    )
    .await;
    let deleted = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM memberships WHERE clerk_id = '{membership}' \
             AND deleted_at IS NOT NULL"
        ))
        .await;
    (role, deleted == 1)
}

#[allow(clippy::too_many_lines)] // one walk-through of the ordering rules, object by object
async fn organization_and_membership_events_apply_in_order_and_deletions_stay(backend: Backend) {
    let (_fake, app) = app_on(&backend, "").await;
    let org = unique("org");
    let user = user_id();
    let membership = unique("orgmem");

    // Organizations: created, an older update held back, a newer one applied, a replay ignored.
    let created = clerk_organization(&org, "Acme", "acme", 2_000);
    assert_eq!(
        deliver(&app, "organization.created", created).await,
        "applied"
    );
    let older = clerk_organization(&org, "Acme (old)", "acme", 1_000);
    assert_eq!(deliver(&app, "organization.updated", older).await, "stale");
    assert_eq!(org_row(&app, &org).await, ("Acme".to_owned(), false));
    let renamed = clerk_organization(&org, "Acme Corp", "acme-corp", 3_000);
    let body = clerk_event("organization.updated", renamed);
    let id = unique("msg");
    assert_eq!(app.deliver(&id, &body).await.body["outcome"], "applied");
    assert_eq!(app.deliver(&id, &body).await.body["outcome"], "duplicate");
    assert_eq!(org_row(&app, &org).await, ("Acme Corp".to_owned(), false));

    // Memberships: the same order by `updated_at`, whichever arrives first.
    let admin_role = clerk_membership(&membership, &org, &user, "org:admin", &[], 2_000);
    let member_role = clerk_membership(&membership, &org, &user, "org:member", &[], 1_000);
    assert_eq!(
        deliver(&app, "organizationMembership.updated", admin_role).await,
        "applied"
    );
    assert_eq!(
        deliver(&app, "organizationMembership.created", member_role).await,
        "stale"
    );
    assert_eq!(
        membership_row(&app, &membership).await,
        ("org:admin".to_owned(), false)
    );
    let permissions = text(
        &app,
        &format!("SELECT permissions FROM memberships WHERE clerk_id = '{membership}'"),
    )
    .await;
    assert_eq!(permissions, "[]");

    // A deletion wins whatever its order, and nothing brings the membership back.
    let gone = clerk_membership(&membership, &org, &user, "org:admin", &[], 2_500);
    assert_eq!(
        deliver(&app, "organizationMembership.deleted", gone).await,
        "applied"
    );
    let late = clerk_membership(&membership, &org, &user, "org:admin", &[], 9_000);
    assert_eq!(
        deliver(&app, "organizationMembership.updated", late).await,
        "deleted"
    );
    assert!(membership_row(&app, &membership).await.1);
    // Deleted before it was ever seen: a tombstone that a late `created` cannot undo.
    let unseen = unique("orgmem");
    let deleted_first = clerk_membership(&unseen, &org, &user, "org:member", &[], 5_000);
    assert_eq!(
        deliver(&app, "organizationMembership.deleted", deleted_first).await,
        "applied"
    );
    let created_late = clerk_membership(&unseen, &org, &user, "org:member", &[], 4_000);
    assert_eq!(
        deliver(&app, "organizationMembership.created", created_late).await,
        "deleted"
    );
    // Rejoining is a new membership (a new id): live again.
    let rejoined = unique("orgmem");
    let again = clerk_membership(&rejoined, &org, &user, "org:member", &[], 6_000);
    assert_eq!(
        deliver(&app, "organizationMembership.created", again).await,
        "applied"
    );

    // Deleting the organization ends its memberships; no later event revives either.
    let deleted =
        json!({ "object": "organization", "id": org, "slug": "acme-corp", "deleted": true });
    assert_eq!(
        deliver(&app, "organization.deleted", deleted).await,
        "applied"
    );
    assert!(org_row(&app, &org).await.1);
    assert!(
        membership_row(&app, &rejoined).await.1,
        "ended with its organization"
    );
    let revived = clerk_organization(&org, "Acme again", "acme", 99_000);
    assert_eq!(
        deliver(&app, "organization.updated", revived).await,
        "deleted"
    );
    assert_eq!(org_row(&app, &org).await, ("Acme Corp".to_owned(), true));
    let joined_late = clerk_membership(&unique("orgmem"), &org, &user, "org:member", &[], 99_000);
    assert_eq!(
        deliver(&app, "organizationMembership.created", joined_late).await,
        "deleted"
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_clerk_id = '{org}' AND deleted_at IS NULL"
        ))
        .await,
        0
    );
    // An organization deleted before it was seen stays deleted too.
    let never_seen = unique("org");
    let deleted = json!({ "object": "organization", "id": never_seen, "deleted": true });
    assert_eq!(
        deliver(&app, "organization.deleted", deleted).await,
        "applied"
    );
    let created = clerk_organization(&never_seen, "Ghost", "ghost", 1);
    assert_eq!(
        deliver(&app, "organization.created", created).await,
        "deleted"
    );

    // Malformed organization events are refused (400) and change nothing.
    for (kind, data) in [
        ("organization.created", json!({ "name": "no id" })),
        ("organization.deleted", json!({ "id": "" })),
        (
            "organizationMembership.created",
            json!({ "id": "orgmem_x", "role": "org:member", "organization": { "id": org } }),
        ),
    ] {
        let answer = app.deliver(&unique("msg"), &clerk_event(kind, data)).await;
        assert_eq!(answer.status, 400, "{kind}: {:?}", answer.body);
        assert_eq!(answer.code(), "webhook-payload-invalid");
    }
}

/// A session token of `user` whose active organization is `org`, as `role` with `permissions`.
fn org_token(user: &str, org: &str, role: &str, permissions: &[&str]) -> String {
    key_a().sign(&with(
        claims(user),
        org_claims_v2(org, "acme", role, permissions),
    ))
}

async fn an_ended_membership_takes_the_organization_from_the_next_request(backend: Backend) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = settings(&fake, &backend, "").start().await;
    let other = settings(&fake, &backend, "")
        .on_database(&app.database_url)
        .start()
        .await;
    let org = unique("org");
    let [user, neighbour] = [user_id(), user_id()];
    let token = org_token(&user, &org, "org:admin", &["org:invoices:read"]);
    let neighbours = org_token(&neighbour, &org, "org:admin", &["org:invoices:read"]);

    // Nothing stored yet: the token's claims stand, as at Clerk's SDK; the name is unknown.
    let current = app.get_as("/api/orgs/current", &token).await;
    assert_eq!(current.status, 200, "{:?}", current.body);
    assert_eq!(current.body["name"], Value::Null);
    assert_eq!(app.get_as("/api/test/invoices", &token).await.status, 200);

    // Stored: the name comes from the table (this instance forgot what it had at once).
    let created = clerk_organization(&org, "Acme", "acme", 1_000);
    deliver(&app, "organization.created", created).await;
    let membership = unique("orgmem");
    let joined = clerk_membership(&membership, &org, &user, "org:admin", &[], 1_000);
    deliver(&app, "organizationMembership.created", joined).await;
    let theirs = clerk_membership(&unique("orgmem"), &org, &neighbour, "org:admin", &[], 1_000);
    deliver(&app, "organizationMembership.created", theirs).await;
    let current = app.get_as("/api/orgs/current", &token).await;
    assert_eq!(current.body["name"], "Acme", "{:?}", current.body);
    assert_eq!(current.body["permissions"], json!(["org:invoices:read"]));
    // The other instance serves the user too (and now keeps what it read).
    assert_eq!(other.get_as("/api/test/invoices", &token).await.status, 200);

    // Clerk ends the membership; the token still claims the organization.
    let ended = clerk_membership(&membership, &org, &user, "org:admin", &[], 2_000);
    deliver(&app, "organizationMembership.deleted", ended).await;
    let current = app.get_as("/api/orgs/current", &token).await;
    assert_eq!(
        (current.status, current.code()),
        (404, "no-active-organization"),
        "here at once"
    );
    let refused = app.get_as("/api/test/invoices", &token).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "missing-permission")
    );
    let whoami = app.get_as("/api/whoami", &token).await.body;
    assert_eq!(
        (
            &whoami["org_id"],
            &whoami["org_role"],
            &whoami["org_permissions"]
        ),
        (&Value::Null, &Value::Null, &json!([])),
        "{whoami}"
    );
    assert_eq!(
        app.get_as("/api/users/me", &token).await.status,
        200,
        "still signed in: only the organization is gone"
    );
    assert_eq!(
        app.get_as("/api/test/invoices", &neighbours).await.status,
        200,
        "another member keeps it"
    );

    // Another instance, which did not receive the webhook, within the 5-second bound.
    let started = Instant::now();
    loop {
        let answer = other.get_as("/api/test/invoices", &token).await;
        if answer.status == 403 {
            assert_eq!(answer.code(), "missing-permission");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5 + 3),
            "still granted after 5 s (plus 3 s for a slow machine)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The organization deleted: nobody keeps it.
    let deleted = json!({ "object": "organization", "id": org, "deleted": true });
    deliver(&app, "organization.deleted", deleted).await;
    let refused = app.get_as("/api/test/invoices", &neighbours).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "missing-permission")
    );
}

async fn a_role_changed_after_the_token_was_issued_is_served_from_the_row(backend: Backend) {
    let (_fake, app) = app_on(&backend, "").await;
    let org = unique("org");
    let user = user_id();
    let membership = unique("orgmem");
    // Stored before the token was issued: the token is newer and stands.
    let before = (now() - 60) * 1000;
    let stored = clerk_membership(&membership, &org, &user, "org:member", &[], before);
    deliver(&app, "organizationMembership.created", stored).await;
    let token = org_token(&user, &org, "org:admin", &["org:invoices:read"]);
    let current = app.get_as("/api/orgs/current", &token).await.body;
    assert_eq!(current["role"], "org:admin", "{current}");

    // Demoted after the token was issued: the row's role and permissions.
    let demoted = clerk_membership(
        &membership,
        &org,
        &user,
        "org:viewer",
        &[
            "org:sys_memberships:read",
            "org:invoices:manage",
            "org:reports:read",
        ],
        (now() + 1) * 1000,
    );
    deliver(&app, "organizationMembership.updated", demoted).await;
    let current = app.get_as("/api/orgs/current", &token).await.body;
    assert_eq!(current["role"], "org:viewer", "{current}");
    // Without system permissions, and held to the features the token's `fea` lists for the
    // organization (`reports` is not among them).
    assert_eq!(current["permissions"], json!(["org:invoices:manage"]));
    let refused = app.get_as("/api/test/invoices", &token).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "missing-permission")
    );
}

/// Clerk has organizations A (renamed since the last run) and B (new); C is gone from Clerk.
/// A's member list dropped one membership and gained one.
#[allow(clippy::too_many_lines)] // one reconciliation, dry then real, then a Clerk without Organizations
async fn sync_reconciles_organizations_and_memberships(backend: Backend) {
    let (fake, app) = app_on(&backend, "").await;
    let [a, b, c] = [unique("org"), unique("org"), unique("org")];
    let [stays, leaves, joins, in_b] = [
        unique("orgmem"),
        unique("orgmem"),
        unique("orgmem"),
        unique("orgmem"),
    ];
    let [u1, u2, u3, u4] = [user_id(), user_id(), user_id(), user_id()];
    let skipped = unique("orgmem");
    // What this database holds before the run, as earlier webhooks left it.
    deliver(
        &app,
        "organization.created",
        clerk_organization(&a, "A", "a", 1_000),
    )
    .await;
    deliver(
        &app,
        "organization.created",
        clerk_organization(&c, "C", "c", 1_000),
    )
    .await;
    for (id, user) in [(&stays, &u1), (&leaves, &u2), (&skipped, &u4)] {
        let joined = clerk_membership(id, &a, user, "org:member", &[], 1_000);
        deliver(&app, "organizationMembership.created", joined).await;
    }
    fake.serve_organizations(
        &[
            clerk_organization(&a, "A renamed", "a", 2_000),
            clerk_organization(&b, "B", "b", 2_000),
        ],
        &[
            (
                a.as_str(),
                vec![
                    clerk_membership(&stays, &a, &u1, "org:member", &[], 1_000),
                    clerk_membership(&joins, &a, &u3, "org:admin", &[], 2_000),
                ],
            ),
            (
                b.as_str(),
                vec![clerk_membership(&in_b, &b, &u1, "org:admin", &[], 2_000)],
            ),
        ],
    )
    .await;
    // A membership the paged listing skipped (a page shifted under a deletion): asked about by
    // its user, Clerk still holds it, so it stays.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(format!(
            "/v1/organizations/{a}/memberships"
        )))
        .and(wiremock::matchers::query_param("user_id", u4.as_str()))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "data": [clerk_membership(&skipped, &a, &u4, "org:member", &[], 1_000)],
            "total_count": 1
        })))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let api = BackendApi::new(
        clerk_rocket::clerk::http_client(),
        &fake.api_url(),
        SECRET_KEY,
    );
    let pool = app.pool().await;
    let dry = clerk_rocket::sync::orgs::run(&api, &pool, 1, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        org_row(&app, &a).await,
        ("A".to_owned(), false),
        "a dry run writes nothing"
    );
    assert_eq!(app.count_rows("organizations").await, 2);
    let drift = clerk_rocket::sync::orgs::run(&api, &pool, 1, false)
        .await
        .unwrap()
        .unwrap();
    pool.close().await;
    assert_eq!(dry, drift, "a dry run counts what a run does");
    let (orgs, members) = (&drift.organizations, &drift.memberships);
    assert_eq!(
        (
            orgs.listed,
            orgs.created,
            orgs.updated,
            orgs.tombstoned,
            orgs.unchanged
        ),
        (2, 1, 1, 1, 0),
        "{drift:?}"
    );
    assert_eq!(
        (
            members.listed,
            members.created,
            members.updated,
            members.tombstoned,
            members.unchanged
        ),
        (4, 2, 0, 1, 2),
        "{drift:?}"
    );
    assert_eq!(org_row(&app, &a).await, ("A renamed".to_owned(), false));
    assert_eq!(org_row(&app, &b).await, ("B".to_owned(), false));
    assert!(org_row(&app, &c).await.1, "gone from Clerk: tombstoned");
    assert!(
        membership_row(&app, &leaves).await.1,
        "gone from the list: ended"
    );
    assert!(
        !membership_row(&app, &skipped).await.1,
        "skipped by the list, held by Clerk: kept"
    );
    assert!(!membership_row(&app, &stays).await.1);
    assert_eq!(
        membership_row(&app, &joins).await,
        ("org:admin".to_owned(), false)
    );
    assert_eq!(
        membership_row(&app, &in_b).await,
        ("org:admin".to_owned(), false)
    );

    // An instance with Organizations turned off: nothing to do, nothing changed.
    let off = FakeClerk::start().await;
    off.serve_organizations_turned_off().await;
    let api = BackendApi::new(
        clerk_rocket::clerk::http_client(),
        &off.api_url(),
        SECRET_KEY,
    );
    let pool = app.pool().await;
    let result = clerk_rocket::sync::orgs::run(&api, &pool, 10, false).await;
    pool.close().await;
    assert!(matches!(result, Ok(None)), "{result:?}");
    assert!(!org_row(&app, &a).await.1, "nothing tombstoned");
}

#[allow(clippy::too_many_lines)] // the API, then the pages, on one seeded database
async fn admins_browse_organizations_and_their_members(backend: Backend) {
    let admin = user_id();
    let (_fake, app) = app_on(&backend, &admin).await;
    let admin_token = key_a().sign(&claims(&admin));
    let member = user_id();
    let member_token = key_a().sign(&claims(&member));
    let tag = unique("t").to_lowercase();
    let mut orgs = Vec::new();
    for i in 0..3 {
        let org = unique("org");
        let name = format!("Team {tag} {i} <b>bold</b>");
        let created = clerk_organization(&org, &name, &format!("team-{i}"), 1_000);
        deliver(&app, "organization.created", created).await;
        orgs.push(org);
    }
    for i in 0..3 {
        let joined = clerk_membership(
            &unique("orgmem"),
            &orgs[0],
            &user_id(),
            "org:member",
            &[],
            1_000 + i,
        );
        deliver(&app, "organizationMembership.created", joined).await;
    }
    let theirs = clerk_membership(
        &unique("orgmem"),
        &orgs[1],
        &member,
        "org:admin",
        &[],
        1_000,
    );
    deliver(&app, "organizationMembership.created", theirs).await;
    let ended = unique("orgmem");
    let left = clerk_membership(&ended, &orgs[2], &member, "org:member", &[], 1_000);
    deliver(&app, "organizationMembership.deleted", left).await;

    // The list, searched and paged newest first.
    let page = app
        .get_as(
            &format!("/api/admin/orgs?q={}&limit=2", tag.to_uppercase()),
            &admin_token,
        )
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let names: Vec<&str> = page.body["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["clerk_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, [orgs[2].as_str(), orgs[1].as_str()]);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get_as(
            &format!("/api/admin/orgs?q={tag}&limit=2&cursor={cursor}"),
            &admin_token,
        )
        .await;
    assert_eq!(rest.body["organizations"][0]["clerk_id"], json!(orgs[0]));
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let none = app
        .get_as("/api/admin/orgs?q=no-such-team-anywhere", &admin_token)
        .await;
    assert_eq!(none.body["organizations"], json!([]));

    // One organization, by either id, with a page of its members.
    let first = app
        .get_as(
            &format!("/api/admin/orgs/{}?limit=2", orgs[0]),
            &admin_token,
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["members_count"], 3);
    assert_eq!(first.body["members"].as_array().unwrap().len(), 2);
    let local_id = first.body["id"].as_i64().unwrap();
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let by_local = app
        .get_as(
            &format!("/api/admin/orgs/{local_id}?limit=2&cursor={cursor}"),
            &admin_token,
        )
        .await;
    assert_eq!(by_local.body["clerk_id"], json!(orgs[0]));
    assert_eq!(by_local.body["members"].as_array().unwrap().len(), 1);
    for (uri, status, code) in [
        ("/api/admin/orgs/org_missing", 404, "not-found"),
        ("/api/admin/orgs/999999999", 404, "not-found"),
        ("/api/admin/orgs/-1", 400, "bad-request"),
        // Not Clerk ids: refused before any query (PostgreSQL refuses a NUL in text: a 500).
        ("/api/admin/orgs/org_%00x", 400, "bad-request"),
        ("/api/admin/orgs/org_", 400, "bad-request"),
        ("/api/admin/orgs/org_a%20b", 400, "bad-request"),
        ("/api/admin/users/user_%00x", 400, "bad-request"),
        ("/api/admin/orgs?limit=1000", 400, "bad-request"),
        ("/api/admin/orgs?cursor=nope", 400, "bad-request"),
    ] {
        let answer = app.get_as(uri, &admin_token).await;
        assert_eq!((answer.status, answer.code()), (status, code), "{uri}");
    }
    for uri in ["/api/admin/orgs", &format!("/api/admin/orgs/{}", orgs[0])] {
        assert_eq!(app.get_as(uri, &member_token).await.status, 403, "{uri}");
        assert_eq!(app.get(uri, &[]).await.status, 401, "{uri}");
    }

    // The pages: names escaped, members linked, the user's memberships on their page.
    let list = app
        .get_html_as(&format!("/admin/orgs?q={tag}"), &admin_token)
        .await;
    assert_eq!(list.status, 200);
    let html = list.body.as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;bold&lt;&#x2F;b&gt;") || html.contains("&lt;b&gt;bold&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>bold</b>"));
    let show = app
        .get_html_as(&format!("/admin/orgs/{}", orgs[1]), &admin_token)
        .await;
    let html = show.body.as_str().unwrap();
    assert!(html.contains(&format!("/admin/users/{member}")), "{html}");
    assert!(html.contains("org:admin"));
    // A member's page links their organization; an ended membership is marked so.
    app.get_as("/api/users/me", &member_token).await;
    let user_page = app
        .get_html_as(&format!("/admin/users/{member}"), &admin_token)
        .await;
    let html = user_page.body.as_str().unwrap();
    assert!(html.contains(&format!("/admin/orgs/{}", orgs[1])), "{html}");
    assert!(html.contains(&format!("/admin/orgs/{}", orgs[2])), "{html}");
    assert!(html.contains("state-ended"), "{html}");
    assert_eq!(
        app.get_html_as("/admin/orgs", &member_token).await.status,
        403,
        "not an administrator"
    );
    for uri in ["/admin/orgs/org_%00x", "/admin/users/user_%00x"] {
        assert_eq!(
            app.get_html_as(uri, &admin_token).await.status,
            400,
            "{uri}"
        );
    }
}
