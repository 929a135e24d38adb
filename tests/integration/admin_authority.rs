//! Who holds admin power, and when it ends: a token's role claim stands only when the token is
//! newer than the row's last authoritative word on the role, admin writes need the stored or
//! configured role, no one changes their own role, Clerk's later word wins by Clerk's time, and
//! the last administrator stays one even when two demote each other at once. On `SQLite` and
//! (when configured) `PostgreSQL`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::admin_actions::{audit_of, bearer, csrf_of, patch_as, post_as, served, SECRET_KEY};
use crate::common::*;

backend_tests!(
    a_token_minted_before_a_demotion_loses_every_admin_route_and_page,
    an_admin_by_the_claim_alone_reads_but_cannot_write,
    a_demotion_in_clerk_after_an_in_app_promotion_wins,
    two_admins_demoting_each_other_at_once_leave_one,
);

/// Clerk with a secret key and webhooks, `admins` in `CLERK_ADMIN_USER_IDS`.
async fn app_on(backend: &Backend, admins: &str) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| {
        settings
            .on(backend)
            .with_webhook_secret()
            .set("secret_key", SECRET_KEY)
            .set("admin_user_ids", admins)
    })
    .await
}

/// `user.updated` for `user` as of `updated_at_ms`, with `role` in its public metadata.
async fn user_updated(app: &TestApp, user: &str, role: Option<&str>, updated_at_ms: i64) {
    let mut body = clerk_user(user, &format!("{user}@example.test"), updated_at_ms);
    body["public_metadata"] = role.map_or(json!({}), |role| json!({ "role": role }));
    let answer = app
        .deliver(&unique("msg"), &clerk_event("user.updated", body))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

/// A token of `user` issued at `iat`, claiming the admin role.
fn claiming_admin(user: &str, iat: i64) -> String {
    key_a().sign(&with(
        claims(user),
        json!({ "iat": iat, "nbf": iat - 10, "metadata": { "role": "admin" } }),
    ))
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// The statuses of every admin read, API and pages, for `token` (`target`: a user to look at).
async fn admin_reads(app: &TestApp, token: &str, target: &str) -> Vec<(String, u16)> {
    let mut answers = Vec::new();
    for uri in [
        "/api/admin/users".to_owned(),
        format!("/api/admin/users/{target}"),
        "/api/admin/stats".to_owned(),
        "/api/admin/audit".to_owned(),
        "/api/admin/orgs".to_owned(),
    ] {
        answers.push((uri.clone(), app.get_as(&uri, token).await.status));
    }
    for uri in [
        "/admin".to_owned(),
        "/admin/users".to_owned(),
        format!("/admin/users/{target}"),
        format!("/admin/users/{target}/confirm/ban"),
        "/admin/users.csv".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/orgs".to_owned(),
    ] {
        answers.push((uri.clone(), app.get_html_as(&uri, token).await.status));
    }
    answers
}

/// The statuses of every admin write, API and page forms (with `csrf`), for `token`, on
/// `target`, then on the token's own user (`own`) giving it the admin role.
async fn admin_writes(
    app: &TestApp,
    token: &str,
    target: &str,
    own: &str,
    csrf: &str,
) -> Vec<(String, u16)> {
    let mut answers = Vec::new();
    for action in ["ban", "unban", "revoke-sessions"] {
        let uri = format!("/api/admin/users/{target}/{action}");
        answers.push((uri.clone(), post_as(app, &uri, token).await.status));
    }
    for (user, role) in [(target, json!(null)), (own, json!("admin"))] {
        let uri = format!("/api/admin/users/{user}");
        let answer = patch_as(app, &uri, token, &json!({ "role": role })).await;
        answers.push((format!("PATCH {uri}"), answer.status));
    }
    for (user, path, form) in [
        (target, "ban", format!("csrf={csrf}")),
        (target, "unban", format!("csrf={csrf}")),
        (target, "revoke-sessions", format!("csrf={csrf}")),
        (target, "role", format!("csrf={csrf}&role=")),
        (own, "role", format!("csrf={csrf}&role=admin")),
    ] {
        let uri = format!("/admin/users/{user}/{path}");
        let headers = [ACCEPT_HTML, ("Authorization", &bearer(token))];
        let answer = app.post_form(&uri, &form, &headers).await;
        answers.push((format!("form {uri}"), answer.status));
    }
    answers
}

fn all(answers: &[(String, u16)], status: u16) -> bool {
    answers.iter().all(|(_, s)| *s == status)
}

async fn a_token_minted_before_a_demotion_loses_every_admin_route_and_page(backend: Backend) {
    let actor = user_id();
    let (fake, app) = app_on(&backend, &actor).await;
    let member = user_id();
    assert_eq!(served(&app, &key_a().sign(&claims(&member))).await.0, 200);
    let start = now();

    // Demoted in Clerk's dashboard: the webhook stores no role.
    let x = user_id();
    user_updated(&app, &x, Some("admin"), (start - 20) * 1000).await;
    let old = claiming_admin(&x, start - 15);
    let reads = admin_reads(&app, &old, &member).await;
    assert!(all(&reads, 200), "{reads:?}");
    let csrf = csrf_of(
        &app.get_html_as(&format!("/admin/users/{member}"), &old)
            .await
            .text(),
    );
    user_updated(&app, &x, None, (start - 5) * 1000).await;
    let reads = admin_reads(&app, &old, &member).await;
    assert!(all(&reads, 403), "{reads:?}");
    let writes = admin_writes(&app, &old, &member, &x, &csrf).await;
    assert!(all(&writes, 403), "{writes:?}");
    assert_eq!(
        served(&app, &old).await.0,
        200,
        "still signed in, not an admin"
    );

    // Demoted by this app's own action, as Clerk answered it: an admin by the claim only.
    let y = user_id();
    let y_old = claiming_admin(&y, start - 15);
    assert!(all(&admin_reads(&app, &y_old, &member).await, 200));
    let y_csrf = csrf_of(
        &app.get_html_as(&format!("/admin/users/{member}/confirm/ban"), &y_old)
            .await
            .text(),
    );
    fake.serve_user_admin(&y, &[]).await;
    let actor_tok = key_a().sign(&claims(&actor));
    let demoted = patch_as(
        &app,
        &format!("/api/admin/users/{y}"),
        &actor_tok,
        &json!({ "role": null }),
    )
    .await;
    assert_eq!(demoted.status, 200, "{:?}", demoted.body);
    assert!(app.user_row(&y).await.unwrap()["role_changed_at"].as_i64() > Some(start * 1000));
    let reads = admin_reads(&app, &y_old, &member).await;
    assert!(all(&reads, 403), "{reads:?}");
    let writes = admin_writes(&app, &y_old, &member, &y, &y_csrf).await;
    assert!(all(&writes, 403), "{writes:?}");

    assert_eq!(
        fake.requests_to(&format!("/v1/users/{member}")).await,
        vec![],
        "no write by an old token reached Clerk"
    );
    assert!(fake.requests_to(&format!("/v1/users/{x}")).await.is_empty());
    assert_eq!(app.user_row(&x).await.unwrap()["role"], Value::Null);
    assert_eq!(app.user_row(&y).await.unwrap()["role"], Value::Null);
}

async fn an_admin_by_the_claim_alone_reads_but_cannot_write(backend: Backend) {
    let (fake, app) = app_on(&backend, "").await;
    let member = user_id();
    assert_eq!(served(&app, &key_a().sign(&claims(&member))).await.0, 200);
    fake.serve_user_admin(&member, &["sess_m"]).await;
    let claimed = user_id();
    let token = claiming_admin(&claimed, now());
    let reads = admin_reads(&app, &token, &member).await;
    assert!(all(&reads, 200), "{reads:?}");
    // The user's page shows no actions to an admin who cannot act; the confirmation step
    // still holds a form (with the session's token) whose post is refused.
    let page = app
        .get_html_as(&format!("/admin/users/{member}"), &token)
        .await
        .text();
    assert!(
        page.contains("You can read as an administrator, not act"),
        "{page}"
    );
    assert!(!page.contains("id=\"promote\""));
    let csrf = csrf_of(
        &app.get_html_as(&format!("/admin/users/{member}/confirm/ban"), &token)
            .await
            .text(),
    );
    let writes = admin_writes(&app, &token, &member, &claimed, &csrf).await;
    assert!(all(&writes, 403), "{writes:?}");
    let refused = post_as(&app, &format!("/api/admin/users/{member}/ban"), &token).await;
    assert_eq!(refused.code(), "forbidden");
    assert_eq!(
        fake.requests_to("/v1/").await,
        vec![],
        "nothing reached Clerk"
    );
    assert_eq!(app.count_rows("audit_events").await, 0);
    assert_eq!(app.user_row(&claimed).await.unwrap()["role"], Value::Null);

    // Once the role is stored (Clerk's word, by webhook), the same token writes.
    user_updated(&app, &claimed, Some("admin"), (now() - 1) * 1000).await;
    let banned = post_as(&app, &format!("/api/admin/users/{member}/ban"), &token).await;
    assert_eq!(banned.status, 200, "{:?}", banned.body);
    // And no one changes their own role, even to what they hold.
    let own = patch_as(
        &app,
        &format!("/api/admin/users/{claimed}"),
        &token,
        &json!({ "role": "admin" }),
    )
    .await;
    assert_eq!((own.status, own.code()), (409, "cannot-act-on-self"));
}

async fn a_demotion_in_clerk_after_an_in_app_promotion_wins(backend: Backend) {
    let actor = user_id();
    let (fake, app) = app_on(&backend, &actor).await;
    let actor_tok = key_a().sign(&claims(&actor));

    // The demotion's webhook arrives after the promotion was written here.
    let x = user_id();
    let x_tok = claiming_admin(&x, now() - 1);
    assert_eq!(served(&app, &key_a().sign(&claims(&x))).await.0, 200);
    fake.serve_user_admin(&x, &[]).await;
    let promoted = patch_as(
        &app,
        &format!("/api/admin/users/{x}"),
        &actor_tok,
        &json!({ "role": "admin" }),
    )
    .await;
    assert_eq!(
        (promoted.status, &promoted.body["role"]),
        (200, &json!("admin")),
        "the role Clerk answered"
    );
    user_updated(&app, &x, None, now_ms() + 1).await;
    assert_eq!(app.user_row(&x).await.unwrap()["role"], Value::Null);
    assert_eq!(app.get_as("/api/admin/users", &x_tok).await.status, 403);

    // The demotion's webhook arrives while Clerk's answer to the promotion is on its way.
    let y = user_id();
    assert_eq!(served(&app, &key_a().sign(&claims(&y))).await.0, 200);
    fake.serve_user_admin_after(&y, &[], Duration::from_millis(800))
        .await;
    let promotion = {
        let app = app.clone();
        let (uri, token) = (format!("/api/admin/users/{y}"), actor_tok.clone());
        tokio::spawn(async move { patch_as(&app, &uri, &token, &json!({ "role": "admin" })).await })
    };
    // Clerk has the promotion (its time is the request's) before the dashboard demotes.
    while fake
        .requests_to(&format!("/v1/users/{y}/metadata"))
        .await
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    user_updated(&app, &y, None, now_ms()).await;
    let promoted = promotion.await.unwrap();
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    assert_eq!(
        promoted.body["role"],
        Value::Null,
        "the row as stored: Clerk's later word"
    );
    assert_eq!(app.user_row(&y).await.unwrap()["role"], Value::Null);
    let y_tok = claiming_admin(&y, now() - 1);
    assert_eq!(app.get_as("/api/admin/users", &y_tok).await.status, 403);
    let events = audit_of(&app, &actor_tok, &y).await;
    assert_eq!(
        (
            &events[0]["result"],
            &events[0]["clerk_outcome"],
            &events[0]["local_outcome"]
        ),
        (&json!("ok"), &json!("done"), &json!("superseded"))
    );
}

async fn two_admins_demoting_each_other_at_once_leave_one(backend: Backend) {
    let (fake, app) = app_on(&backend, "").await;
    let (a, b) = (user_id(), user_id());
    let (a_tok, b_tok) = (key_a().sign(&claims(&a)), key_a().sign(&claims(&b)));
    for (user, token) in [(&a, &a_tok), (&b, &b_tok)] {
        assert_eq!(served(&app, token).await.0, 200);
        app.set_role(user, Some("admin")).await;
        fake.serve_user_admin_after(user, &[], Duration::from_millis(500))
            .await;
    }
    let demote = |target: &str, token: &str| {
        let app = app.clone();
        let (uri, token) = (format!("/api/admin/users/{target}"), token.to_owned());
        async move { patch_as(&app, &uri, &token, &json!({ "role": null })).await }
    };
    let (by_a, by_b) = tokio::join!(demote(&b, &a_tok), demote(&a, &b_tok));
    let mut statuses = [by_a.status, by_b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{:?} {:?}", by_a.body, by_b.body);
    // The refused demotion is the one whose actor the other demoted.
    let (kept, kept_tok, refused_by, refused) = if by_a.status == 409 {
        (&b, &b_tok, &a_tok, &by_a)
    } else {
        (&a, &a_tok, &b_tok, &by_b)
    };
    assert_eq!(refused.code(), "last-admin");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .await,
        1
    );
    assert_eq!(app.user_row(kept).await.unwrap()["role"], "admin");
    // At Clerk, the refused demotion was made, then undone.
    let bodies: Vec<Value> = fake
        .requests_to(&format!("/v1/users/{kept}/metadata"))
        .await
        .into_iter()
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(
        bodies,
        vec![
            json!({ "public_metadata": { "role": null } }),
            json!({ "public_metadata": { "role": "admin" } })
        ]
    );
    let events = audit_of(&app, kept_tok, kept).await;
    assert_eq!(
        (
            &events[0]["result"],
            &events[0]["clerk_outcome"],
            &events[0]["local_outcome"]
        ),
        (
            &json!("last-admin"),
            &json!("reverted"),
            &json!("not-written")
        )
    );
    assert_eq!(
        app.get_as("/api/admin/users", refused_by).await.status,
        403,
        "the refused one is the one the other demoted"
    );
}
