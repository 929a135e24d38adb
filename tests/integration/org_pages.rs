//! Organizations in the app: the organization switcher in the layout, `/account`
//! (`<UserProfile/>`), `/orgs/current` (`<OrganizationProfile/>`), and the members of the active
//! organization (page and `/api/orgs/current/members`), guarded by `org:sys_memberships:read`
//! held through the stored membership (session tokens never carry system permissions).

use serde_json::{json, Value};

use crate::common::*;

/// A Clerk-mode app that loads ClerkJS (a publishable key) and takes webhooks, with `extra`
/// settings.
async fn org_app(extra: &[(&str, &str)]) -> (FakeClerk, TestApp) {
    org_app_on(&Backend::Sqlite, extra).await
}

/// [`org_app`] on `backend`.
async fn org_app_on(backend: &Backend, extra: &[(&str, &str)]) -> (FakeClerk, TestApp) {
    let backend = backend.clone();
    clerk_app_with(|settings| {
        let mut settings = settings
            .on(&backend)
            .unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, false))
            .with_webhook_secret();
        for (key, value) in extra {
            settings = settings.set(key, value);
        }
        settings
    })
    .await
}

/// A token of `user` with `org` (slug `slug`) active, as `org:member` with one custom permission.
fn member_token(user: &str, org: &str, slug: &str) -> String {
    key_a().sign(&with(
        claims(user),
        org_claims_v2(org, slug, "member", &["org:invoices:read"]),
    ))
}

async fn deliver(app: &TestApp, kind: &str, data: Value) {
    let answer = app.deliver(&unique("msg"), &clerk_event(kind, data)).await;
    assert_eq!(answer.status, 200, "{kind}: {:?}", answer.body);
}

/// Stores `org` (slug `slug`) and a membership of `user` in it as `role` with `permissions`.
async fn store_member(
    app: &TestApp,
    org: &str,
    slug: &str,
    user: &str,
    role: &str,
    permissions: &[&str],
) {
    deliver(
        app,
        "organization.created",
        clerk_organization(org, "Acme Inc", slug, 1_000),
    )
    .await;
    let mut membership = clerk_membership(&unique("orgmem"), org, user, role, permissions, 1_000);
    membership["organization"] = clerk_organization(org, "Acme Inc", slug, 1_000);
    deliver(app, "organizationMembership.created", membership).await;
}

const MEMBER_PERMISSIONS: [&str; 2] = ["org:sys_memberships:read", "org:sys_profile:read"];

#[tokio::test]
async fn the_switcher_and_the_account_page_mount_clerks_components() {
    let (_fake, app) = org_app(&[]).await;
    let user = user_id();
    let plain = key_a().sign(&claims(&user));

    // No organization anywhere: no switcher.
    let home = app.get_html_as("/", &plain).await.text();
    assert!(home.contains("href=\"/account\""), "{home}");
    assert!(!home.contains("clerk-organization-switcher"), "{home}");

    // A session with an active organization: the switcher and the organization's page.
    let with_org = member_token(&user, &unique("org"), "acme");
    let home = app.get_html_as("/", &with_org).await.text();
    assert!(
        home.contains("id=\"clerk-organization-switcher\""),
        "{home}"
    );
    assert!(home.contains("href=\"/orgs/current\""), "{home}");

    // Once this database knows an organization, every signed-in page offers it.
    store_member(&app, &unique("org"), "other", &user_id(), "org:member", &[]).await;
    let home = app.get_html_as("/", &plain).await.text();
    assert!(
        home.contains("id=\"clerk-organization-switcher\""),
        "{home}"
    );

    // /account mounts <UserProfile/>; signed out, it asks for a sign-in first.
    let account = app.get_html_as("/account", &plain).await;
    assert_eq!(account.status, 200);
    assert!(account.text().contains("id=\"clerk-user-profile\""));
    let signed_out = app.get_html("/account").await;
    assert_eq!(signed_out.status, 303);
    assert_eq!(
        signed_out.header("Location"),
        Some("/sign-in?redirect_url=%2Faccount")
    );
}

#[tokio::test]
async fn the_setting_turns_the_switcher_on_or_off() {
    let (_fake, off) = org_app(&[("organizations", "false")]).await;
    let user = user_id();
    let with_org = member_token(&user, &unique("org"), "acme");
    let home = off.get_html_as("/", &with_org).await.text();
    assert!(!home.contains("clerk-organization-switcher"), "{home}");

    let (_fake, on) = org_app(&[("organizations", "true")]).await;
    let home = on
        .get_html_as("/", &key_a().sign(&claims(&user)))
        .await
        .text();
    assert!(
        home.contains("id=\"clerk-organization-switcher\""),
        "{home}"
    );
}

#[tokio::test]
async fn the_organization_page_shows_the_active_organization() {
    let (_fake, app) = org_app(&[]).await;
    let user = user_id();
    let org = unique("org");
    store_member(&app, &org, "acme", &user, "org:member", &MEMBER_PERMISSIONS).await;
    let token = member_token(&user, &org, "acme");
    let page = app.get_html_as("/orgs/current", &token).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("id=\"clerk-organization-profile\""), "{html}");
    assert!(html.contains("Acme Inc"), "the stored name: {html}");
    assert!(html.contains("id=\"org-members-link\""), "{html}");
    // The same page by its slug; another organization's slug is not the active one.
    assert_eq!(app.get_html_as("/orgs/acme", &token).await.status, 200);
    let other = app.get_html_as("/orgs/globex", &token).await;
    assert_eq!(other.status, 403);
    assert!(other.text().contains("not your active organization"));

    let personal = key_a().sign(&claims(&user));
    let html = app.get_html_as("/orgs/current", &personal).await.text();
    assert!(html.contains("id=\"no-active-org\""), "{html}");
    assert!(!html.contains("clerk-organization-profile"), "{html}");
}

backend_tests!(members_are_listed_to_those_whose_membership_grants_it);

async fn members_are_listed_to_those_whose_membership_grants_it(backend: Backend) {
    let (_fake, app) = org_app_on(&backend, &[]).await;
    let org = unique("org");
    let (reader, viewer, stranger) = (user_id(), user_id(), user_id());
    store_member(
        &app,
        &org,
        "acme",
        &reader,
        "org:member",
        &MEMBER_PERMISSIONS,
    )
    .await;
    // A custom role without the system permission.
    store_member(
        &app,
        &org,
        "acme",
        &viewer,
        "org:viewer",
        &["org:sys_profile:read"],
    )
    .await;

    // Allowed: the stored membership lists org:sys_memberships:read.
    let token = member_token(&reader, &org, "acme");
    let list = app.get_as("/api/orgs/current/members", &token).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["organization_id"], json!(org));
    assert_eq!(list.body["name"], "Acme Inc");
    assert_eq!(list.body["members_count"], 2);
    let members: Vec<&str> = list.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, [viewer.as_str(), reader.as_str()], "newest first");
    let page = app.get_html_as("/orgs/current/members", &token).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("{viewer}@example.test")), "{html}");
    assert!(html.contains("(you)"), "{html}");
    assert_eq!(
        app.get_html_as("/orgs/acme/members", &token).await.status,
        200
    );
    // One per page, then the next.
    let first = app
        .get_as("/api/orgs/current/members?limit=1", &token)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get_as(
            &format!("/api/orgs/current/members?limit=1&cursor={cursor}"),
            &token,
        )
        .await;
    assert_eq!(second.body["members"][0]["user_id"], json!(reader));

    // Without it: 403, on the API and the page.
    let token = member_token(&viewer, &org, "acme");
    let refused = app.get_as("/api/orgs/current/members", &token).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "missing-permission")
    );
    let page = app.get_html_as("/orgs/current/members", &token).await;
    assert_eq!(page.status, 403);
    assert!(page.text().contains("org:sys_memberships:read"));

    // A token that names the organization, with no membership stored: nothing grants it
    // (Clerk puts no system permission in a token).
    let claimed = key_a().sign(&with(
        claims(&stranger),
        org_claims_v2(&org, "acme", "admin", &["org:invoices:read"]),
    ));
    let refused = app.get_as("/api/orgs/current/members", &claimed).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "missing-permission")
    );
    // No active organization.
    let personal = key_a().sign(&claims(&reader));
    let refused = app.get_as("/api/orgs/current/members", &personal).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "missing-permission")
    );

    // Signed out: 401 on the API, a sign-in on the page.
    let anonymous = app.get("/api/orgs/current/members", &[]).await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (401, "session-token-missing")
    );
    let page = app.get_html("/orgs/current/members").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("Location"),
        Some("/sign-in?redirect_url=%2Forgs%2Fcurrent%2Fmembers")
    );
    // A malformed cursor is the client's mistake.
    let token = member_token(&reader, &org, "acme");
    let bad = app
        .get_as("/api/orgs/current/members?cursor=%%%", &token)
        .await;
    assert_eq!(bad.status, 400);
}

/// A document GET of `path` by a browser signed in with `token`, after `redirects` handshakes.
async fn document(app: &TestApp, path: &str, token: &str, redirects: u32) -> Answer {
    let cookies = format!(
        "{}; __clerk_redirect_count={redirects}",
        browser_cookies(token)
    );
    app.get(
        path,
        &[
            ("Host", "app.example.test"),
            ("Sec-Fetch-Dest", "document"),
            ACCEPT_HTML,
            ("Cookie", &cookies),
        ],
    )
    .await
}

/// The `organization_id` and reason of a handshake answer's `Location`.
fn handshake_of(answer: &Answer) -> (Option<String>, Option<String>) {
    let location = answer.header("Location").expect("a handshake's Location");
    let url = reqwest::Url::parse(location).unwrap();
    assert_eq!(url.path(), "/v1/client/handshake", "{location}");
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    (get("organization_id"), get("__clerk_hs_reason"))
}

#[tokio::test]
async fn a_url_naming_another_organization_activates_it_through_the_handshake() {
    let (_fake, app) = org_app(&[
        ("secret_key", "sk_test_orgsync"),
        ("organization_patterns", "/orgs/:slug,/orgs/:slug/(.*)"),
        ("personal_account_patterns", "/account"),
    ])
    .await;
    let user = user_id();
    let acme = member_token(&user, "org_acme", "acme");

    // Another organization's page: Clerk's handshake, asking to activate it.
    let answer = document(&app, "/orgs/globex/members", &acme, 0).await;
    assert_eq!(answer.status, 307, "{}", answer.text());
    assert_eq!(answer.header("x-clerk-auth-status"), Some("handshake"));
    assert_eq!(
        answer.header("x-clerk-auth-reason"),
        Some("active-organization-mismatch")
    );
    assert_eq!(
        handshake_of(&answer),
        (
            Some("globex".to_owned()),
            Some("active-organization-mismatch".to_owned())
        )
    );
    assert_eq!(
        answer.set_cookie("__clerk_redirect_count").as_deref(),
        Some("1")
    );

    // The personal account's page with an organization active: an empty organization_id.
    let answer = document(&app, "/account", &acme, 0).await;
    assert_eq!(answer.status, 307);
    assert_eq!(handshake_of(&answer).0.as_deref(), Some(""));
    let personal = key_a().sign(&claims(&user));
    assert_eq!(document(&app, "/account", &personal, 0).await.status, 200);

    // The active organization's own pages, and `current`, are served as they are.
    assert_eq!(document(&app, "/orgs/acme", &acme, 0).await.status, 200);
    assert_eq!(document(&app, "/orgs/current", &acme, 0).await.status, 200);
    // Looping (an organization Clerk cannot activate): served with the token's organization.
    let looping = document(&app, "/orgs/globex", &acme, 3).await;
    assert_eq!(looping.status, 403);
    assert_eq!(looping.header("x-clerk-auth-status"), Some("signed-in"));
    // Not a document: never redirected.
    let fetch = app
        .get(
            "/orgs/globex",
            &[
                ("Sec-Fetch-Dest", "empty"),
                ("Cookie", &browser_cookies(&acme)),
            ],
        )
        .await;
    assert_eq!(fetch.header("x-clerk-auth-status"), Some("signed-in"));

    // An expired token on such a page: the refresh handshake carries the organization too.
    let expired = key_a().sign(&with(
        with(
            claims(&user),
            org_claims_v2("org_acme", "acme", "member", &[]),
        ),
        json!({"iat": now() - 200, "nbf": now() - 210, "exp": now() - 100}),
    ));
    let answer = document(&app, "/orgs/globex", &expired, 0).await;
    assert_eq!(answer.status, 307);
    let (organization, reason) = handshake_of(&answer);
    assert_eq!(organization.as_deref(), Some("globex"));
    assert!(reason.unwrap().starts_with("session-token-expired"));
}
