//! Administrators' actions on a user (ban, unban, ending every session, the role), through the
//! JSON API and the admin pages' forms, against the fake Backend API; their refusals, the
//! anti-forgery and origin checks, and the audit trail. On `SQLite` and (when configured)
//! `PostgreSQL`.

use serde_json::{json, Value};

use crate::common::*;

backend_tests!(
    ban_unban_sessions_and_role_through_the_api,
    refusals_are_audited_and_reach_no_clerk,
    a_backend_api_failure_changes_nothing_here,
    actions_in_local_mode_change_the_local_data,
    forms_act_with_their_token_and_refuse_without_it,
    the_audit_trail_by_pages_and_filters,
    a_local_write_failing_after_clerk_is_recorded_as_what_happened,
    a_partial_revocation_ends_here_the_sessions_clerk_ended,
    request_ids_are_checked_before_the_audit_trail_stores_them,
);

pub(crate) const SECRET_KEY: &str = "sk_test_admin_actions";
const HOST: (&str, &str) = ("Host", "app.example.test");
const OWN_ORIGIN: (&str, &str) = ("Origin", "http://app.example.test");

fn admin_token(user: &str) -> String {
    key_a().sign(&with(
        claims(user),
        json!({ "metadata": { "role": "admin" } }),
    ))
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A token of session `sid` issued at `iat` (seconds).
fn new_session_token(user: &str, sid: &str, iat: i64) -> String {
    key_a().sign(&with(claims(user), json!({ "sid": sid, "iat": iat })))
}

pub(crate) async fn post_as(app: &TestApp, uri: &str, token: &str) -> Answer {
    app.post(uri, &[("Authorization", &bearer(token))], Vec::new())
        .await
}

pub(crate) async fn patch_as(app: &TestApp, uri: &str, token: &str, body: &Value) -> Answer {
    let request = app
        .client
        .patch(uri.to_owned())
        .header(rocket::http::ContentType::JSON)
        .header(rocket::http::Header::new("Authorization", bearer(token)))
        .body(body.to_string());
    let response = request.dispatch().await;
    let status = response.status().code;
    let text = response.into_string().await.unwrap_or_default();
    Answer {
        status,
        headers: Vec::new(),
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// The audit events about `target`, newest first.
pub(crate) async fn audit_of(app: &TestApp, admin: &str, target: &str) -> Vec<Value> {
    let answer = app
        .get_as(
            &format!("/api/admin/audit?target={target}&limit=100"),
            admin,
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["events"].as_array().unwrap().clone()
}

fn results(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The signed-in person's request: 200, or the refusal's status and code.
pub(crate) async fn served(app: &TestApp, token: &str) -> (u16, String) {
    let answer = app.get_as("/api/users/me", token).await;
    (answer.status, answer.code().to_owned())
}

async fn clerk_app_on(backend: &Backend, admin_ids: &str) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| {
        settings
            .on(backend)
            .set("secret_key", SECRET_KEY)
            .set("admin_user_ids", admin_ids)
    })
    .await
}

#[allow(clippy::too_many_lines)] // one walk-through: each step starts from the state the last one left
async fn ban_unban_sessions_and_role_through_the_api(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = clerk_app_on(&backend, &admin).await;
    let admin_tok = key_a().sign(&claims(&admin));
    let target_tok = key_a().sign(&claims(&target));
    assert_eq!(served(&app, &target_tok).await.0, 200);
    let listed = format!("sess_{target}");
    fake.serve_user_admin(&target, &[&listed, "sess_elsewhere"])
        .await;

    // Ban: Clerk is asked, the row is banned, the user is refused on the very next request.
    let banned = post_as(&app, &format!("/api/admin/users/{target}/ban"), &admin_tok).await;
    assert_eq!(banned.status, 200, "{:?}", banned.body);
    assert_eq!(
        (&banned.body["clerk_id"], &banned.body["banned"]),
        (&json!(target), &json!(true))
    );
    let ban_request_id = banned.header("x-request-id").unwrap().to_owned();
    assert_eq!(
        fake.requests_to("/v1/").await,
        vec![(
            "POST".to_owned(),
            format!("/v1/users/{target}/ban"),
            Value::Null
        )]
    );
    assert_eq!(app.user_row(&target).await.unwrap()["banned"], true);
    assert_eq!(served(&app, &target_tok).await, (403, "user-banned".into()));

    // Unban, by local id this time.
    let local_id = banned.body["id"].as_i64().unwrap();
    let unbanned = post_as(
        &app,
        &format!("/api/admin/users/{local_id}/unban"),
        &admin_tok,
    )
    .await;
    assert_eq!(
        (unbanned.status, &unbanned.body["banned"]),
        (200, &json!(false))
    );
    assert_eq!(served(&app, &target_tok).await.0, 200);

    // Every session: listed at Clerk, each revoked there and here; any older token is refused.
    // (Read before the call, so that a second boundary crossed meanwhile cannot make the
    // "older" token below newer than the revocation.)
    let before_revocation = now();
    let revoked = post_as(
        &app,
        &format!("/api/admin/users/{target}/revoke-sessions"),
        &admin_tok,
    )
    .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    let calls = fake.requests_to("/v1/sessions").await;
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0].0, "GET");
    assert!(
        calls[0].1.starts_with("/v1/sessions?")
            && calls[0].1.contains(&format!("user_id={target}"))
            && calls[0].1.contains("status=active"),
        "{calls:?}"
    );
    assert_eq!(
        calls[1..]
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect::<Vec<_>>(),
        vec![
            format!("POST /v1/sessions/{listed}/revoke"),
            "POST /v1/sessions/sess_elsewhere/revoke".to_owned()
        ]
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM revoked_sessions WHERE user_id = '{target}'"
        ))
        .await,
        2
    );
    assert_eq!(
        served(&app, &target_tok).await,
        (401, "session-revoked".into())
    );
    let unlisted = new_session_token(&target, "sess_unlisted", before_revocation);
    assert_eq!(
        served(&app, &unlisted).await,
        (401, "session-revoked".into()),
        "a token issued before the revocation, of a session Clerk did not list"
    );
    let fresh = new_session_token(&target, "sess_new", now() + 2);
    assert_eq!(
        served(&app, &fresh).await.0,
        200,
        "a session begun afterwards"
    );

    // The role: Clerk's metadata is merged with only the role key; the row follows at once.
    let promoted = patch_as(
        &app,
        &format!("/api/admin/users/{target}"),
        &admin_tok,
        &json!({ "role": "admin" }),
    )
    .await;
    assert_eq!(
        (promoted.status, &promoted.body["role"]),
        (200, &json!("admin"))
    );
    assert_eq!(
        app.get_as("/api/admin/users", &fresh).await.status,
        200,
        "an admin from the next request"
    );
    let demoted = patch_as(
        &app,
        &format!("/api/admin/users/{target}"),
        &admin_tok,
        &json!({ "role": null }),
    )
    .await;
    assert_eq!((demoted.status, &demoted.body["role"]), (200, &Value::Null));
    assert_eq!(app.get_as("/api/admin/users", &fresh).await.status, 403);
    let metadata: Vec<Value> = fake
        .requests_to("/v1/users/")
        .await
        .into_iter()
        .filter(|(m, p, _)| m == "PATCH" && *p == format!("/v1/users/{target}/metadata"))
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(
        metadata,
        vec![
            json!({ "public_metadata": { "role": "admin" } }),
            json!({ "public_metadata": { "role": null } })
        ]
    );

    // Every step is in the trail, newest first, with who, what and the request.
    let events = audit_of(&app, &admin_tok, &target).await;
    assert_eq!(
        results(&events),
        [
            ("set-role", "ok"),
            ("set-role", "ok"),
            ("revoke-sessions", "ok"),
            ("unban", "ok"),
            ("ban", "ok")
        ]
        .map(|(a, r)| (a.to_owned(), r.to_owned()))
    );
    assert!(events.iter().all(|e| e["actor"] == json!(admin)));
    assert!(
        events
            .iter()
            .all(|e| (&e["clerk_outcome"], &e["local_outcome"])
                == (&json!("done"), &json!("written"))),
        "{events:?}"
    );
    assert_eq!(events[0]["parameters"], json!({ "role": null }));
    assert_eq!(events[1]["parameters"], json!({ "role": "admin" }));
    assert_eq!(events[2]["parameters"], json!({ "sessions": 2 }));
    assert_eq!(events[4]["request_id"], json!(ban_request_id));
}

#[allow(clippy::too_many_lines)] // one walk-through: each step starts from the state the last one left
async fn refusals_are_audited_and_reach_no_clerk(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let member = user_id();
    // Admin by the stored role, not configured.
    let (fake, app) = clerk_app_on(&backend, "").await;
    let admin_tok = admin_token(&admin);
    let member_tok = key_a().sign(&claims(&member));
    let target_tok = key_a().sign(&claims(&target));
    for token in [&admin_tok, &member_tok, &target_tok] {
        assert_eq!(served(&app, token).await.0, 200);
    }
    app.set_role(&admin, Some("admin")).await;
    app.set_role(&target, Some("admin")).await;

    // On oneself: giving oneself a role is refused too.
    for uri in ["ban", "revoke-sessions"] {
        let answer = post_as(&app, &format!("/api/admin/users/{admin}/{uri}"), &admin_tok).await;
        assert_eq!(
            (answer.status, answer.code()),
            (409, "cannot-act-on-self"),
            "{uri}"
        );
    }
    let self_demotion = patch_as(
        &app,
        &format!("/api/admin/users/{admin}"),
        &admin_tok,
        &json!({ "role": null }),
    )
    .await;
    assert_eq!(
        (self_demotion.status, self_demotion.code()),
        (409, "cannot-act-on-self")
    );
    let self_promotion = patch_as(
        &app,
        &format!("/api/admin/users/{admin}"),
        &admin_tok,
        &json!({ "role": "admin" }),
    )
    .await;
    assert_eq!(
        (self_promotion.status, self_promotion.code()),
        (409, "cannot-act-on-self")
    );
    assert_eq!(served(&app, &admin_tok).await.0, 200, "still served");

    // Unknown users, bad bodies.
    let unknown = post_as(&app, "/api/admin/users/user_nobody/ban", &admin_tok).await;
    assert_eq!((unknown.status, unknown.code()), (404, "not-found"));
    let unknown_local = post_as(&app, "/api/admin/users/987654/unban", &admin_tok).await;
    assert_eq!(unknown_local.status, 404);
    for body in [
        json!({ "role": 5 }),
        json!({}),
        json!({ "role": "admin", "email": "x@y.test" }),
        json!({ "role": "Admin!" }),
    ] {
        let answer = patch_as(
            &app,
            &format!("/api/admin/users/{target}"),
            &admin_tok,
            &body,
        )
        .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "bad-request"),
            "{body}"
        );
    }
    let not_json = app
        .client
        .patch(format!("/api/admin/users/{target}"))
        .header(rocket::http::ContentType::JSON)
        .header(rocket::http::Header::new(
            "Authorization",
            bearer(&admin_tok),
        ))
        .body("{not json")
        .dispatch()
        .await;
    assert!(
        (400..500).contains(&not_json.status().code),
        "{}",
        not_json.status()
    );

    // Not admin actions at all: a member, and a cookie-signed post from another site.
    let by_member = post_as(&app, &format!("/api/admin/users/{target}/ban"), &member_tok).await;
    assert_eq!((by_member.status, by_member.code()), (403, "forbidden"));
    let cross_site = app
        .post(
            &format!("/api/admin/users/{target}/ban"),
            &[
                HOST,
                ("Origin", "https://evil.example"),
                (
                    "Cookie",
                    &format!(
                        "__session={admin_tok}; __client_uat={}; __clerk_db_jwt=dvb_test",
                        now() - 10
                    ),
                ),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(
        (cross_site.status, cross_site.code()),
        (403, "origin-not-allowed")
    );

    assert_eq!(
        fake.requests_to("/v1/").await,
        vec![],
        "no refused attempt reaches Clerk"
    );
    assert_eq!(app.user_row(&target).await.unwrap()["banned"], false);
    let mut recorded = results(&audit_of(&app, &admin_tok, &admin).await);
    recorded.extend(results(&audit_of(&app, &admin_tok, &target).await));
    recorded.extend(results(&audit_of(&app, &admin_tok, "user_nobody").await));
    recorded.extend(results(&audit_of(&app, &admin_tok, "987654").await));
    recorded.sort();
    let mut expected: Vec<(String, String)> = [
        ("ban", "cannot-act-on-self"),
        ("revoke-sessions", "cannot-act-on-self"),
        ("set-role", "cannot-act-on-self"),
        ("set-role", "cannot-act-on-self"),
        ("ban", "not-found"),
        ("unban", "not-found"),
        ("set-role", "bad-request"),
    ]
    .map(|(a, r)| (a.to_owned(), r.to_owned()))
    .to_vec();
    expected.sort();
    assert_eq!(recorded, expected);
    assert_eq!(
        app.count_rows("audit_events").await,
        7,
        "nothing for the member's or the cross-site attempt"
    );

    // With another stored admin, the demotion goes through.
    fake.serve_user_admin(&target, &[]).await;
    let demoted = patch_as(
        &app,
        &format!("/api/admin/users/{target}"),
        &admin_tok,
        &json!({ "role": null }),
    )
    .await;
    assert_eq!(demoted.status, 200, "{:?}", demoted.body);
    assert_eq!(app.user_row(&target).await.unwrap()["role"], Value::Null);
}

async fn a_backend_api_failure_changes_nothing_here(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = clerk_app_on(&backend, &admin).await;
    let admin_tok = key_a().sign(&claims(&admin));
    let target_tok = key_a().sign(&claims(&target));
    assert_eq!(served(&app, &target_tok).await.0, 200);
    fake.serve_user_admin(&target, &["sess_x"]).await;
    fake.fail_user_admin(500).await;
    let before = app.user_row(&target).await.unwrap();

    for uri in ["ban", "unban", "revoke-sessions"] {
        let answer = post_as(
            &app,
            &format!("/api/admin/users/{target}/{uri}"),
            &admin_tok,
        )
        .await;
        assert_eq!(
            (answer.status, answer.code()),
            (502, "clerk-backend-api-error"),
            "{uri}"
        );
        assert!(
            !answer.text().contains("500"),
            "no Clerk detail in the answer"
        );
    }
    let role = patch_as(
        &app,
        &format!("/api/admin/users/{target}"),
        &admin_tok,
        &json!({ "role": "admin" }),
    )
    .await;
    assert_eq!((role.status, role.code()), (502, "clerk-backend-api-error"));
    assert_eq!(
        app.user_row(&target).await.unwrap(),
        before,
        "nothing changed"
    );
    assert_eq!(app.count_rows("revoked_sessions").await, 0);
    assert_eq!(served(&app, &target_tok).await.0, 200);
    let events = audit_of(&app, &admin_tok, &target).await;
    assert_eq!(events.len(), 4);
    assert!(events
        .iter()
        .all(|e| e["result"] == "clerk-backend-api-error"
            && e["clerk_outcome"] == "failed"
            && e["local_outcome"] == "not-written"));

    // Without a secret key there is no Backend API to ask: refused, audited.
    let (_fake, keyless) =
        clerk_app_with(|settings| settings.on(&backend).set("admin_user_ids", &admin)).await;
    assert_eq!(served(&keyless, &target_tok).await.0, 200);
    let answer = post_as(
        &keyless,
        &format!("/api/admin/users/{target}/ban"),
        &admin_tok,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (503, "backend-api-not-configured")
    );
    assert_eq!(keyless.user_row(&target).await.unwrap()["banned"], false);
    assert_eq!(keyless.count_rows("audit_events").await, 1);

    // A spent budget of Backend API calls is a rate limit (503 with Retry-After), and Clerk is
    // not called.
    let (budget_fake, budgeted) = clerk_app_with(|settings| {
        settings
            .on(&backend)
            .set("secret_key", SECRET_KEY)
            .set("admin_user_ids", &admin)
            .set("backend_api_budget", "1")
    })
    .await;
    budget_fake.serve_user_admin(&target, &[]).await;
    assert_eq!(served(&budgeted, &target_tok).await.0, 200);
    let first = post_as(
        &budgeted,
        &format!("/api/admin/users/{target}/ban"),
        &admin_tok,
    )
    .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let second = post_as(
        &budgeted,
        &format!("/api/admin/users/{target}/unban"),
        &admin_tok,
    )
    .await;
    assert_eq!((second.status, second.code()), (503, "rate-limited"));
    assert!(second.header("Retry-After").is_some());
    assert_eq!(budget_fake.requests_to("/v1/").await.len(), 1);
    assert_eq!(budgeted.user_row(&target).await.unwrap()["banned"], true);
}

async fn actions_in_local_mode_change_the_local_data(backend: Backend) {
    use clerk_rocket::clerk::local::{user_id_for, LocalIssuer, LocalUser};
    let key_file = scratch_dir().join("local.pem");
    let app = Settings::local(&key_file).on(&backend).start().await;
    let issuer = LocalIssuer::load_or_create(&key_file).unwrap();
    let admin = LocalUser {
        email: "boss@example.com".into(),
        admin: true,
        ..LocalUser::default()
    };
    let target = LocalUser {
        email: "ada@example.com".into(),
        ..LocalUser::default()
    };
    let admin_tok = issuer.mint(&admin, "http://localhost", 60);
    let target_tok = issuer.mint(&target, "http://localhost", 60);
    let (admin_id, target_id) = (user_id_for(&admin.email), user_id_for(&target.email));
    assert_eq!(served(&app, &admin_tok).await.0, 200);
    assert_eq!(served(&app, &target_tok).await.0, 200);

    let uri = |action: &str| format!("/api/admin/users/{target_id}/{action}");
    let banned = post_as(&app, &uri("ban"), &admin_tok).await;
    assert_eq!((banned.status, &banned.body["banned"]), (200, &json!(true)));
    assert_eq!(served(&app, &target_tok).await, (403, "user-banned".into()));
    assert_eq!(post_as(&app, &uri("unban"), &admin_tok).await.status, 200);
    assert_eq!(served(&app, &target_tok).await.0, 200);

    // No session list here: every token issued until now is refused; a new sign-in works.
    assert_eq!(
        post_as(&app, &uri("revoke-sessions"), &admin_tok)
            .await
            .status,
        200
    );
    assert_eq!(
        served(&app, &target_tok).await,
        (401, "session-revoked".into())
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = issuer.mint(&target, "http://localhost", 60);
    assert_eq!(served(&app, &again).await.0, 200);

    // Roles: the only stored admin cannot be demoted until another one is stored (the actor
    // is admin by the sign-in's claim, which this app minted), nor can one promote oneself.
    let role = |role: Value| json!({ "role": role });
    let target_uri = format!("/api/admin/users/{target_id}");
    let promoted = patch_as(&app, &target_uri, &admin_tok, &role(json!("admin"))).await;
    assert_eq!(promoted.body["role"], "admin");
    let refused = patch_as(&app, &target_uri, &admin_tok, &role(Value::Null)).await;
    assert_eq!((refused.status, refused.code()), (409, "last-admin"));
    let own = patch_as(
        &app,
        &format!("/api/admin/users/{admin_id}"),
        &admin_tok,
        &role(json!("admin")),
    )
    .await;
    assert_eq!(
        (own.status, own.code()),
        (409, "cannot-act-on-self"),
        "no one changes their own role"
    );
    let third = LocalUser {
        email: "grace@example.com".into(),
        ..LocalUser::default()
    };
    assert_eq!(
        served(&app, &issuer.mint(&third, "http://localhost", 60))
            .await
            .0,
        200
    );
    let third_uri = format!("/api/admin/users/{}", user_id_for(&third.email));
    assert_eq!(
        patch_as(&app, &third_uri, &admin_tok, &role(json!("admin")))
            .await
            .status,
        200
    );
    let demoted = patch_as(&app, &target_uri, &admin_tok, &role(Value::Null)).await;
    assert_eq!((demoted.status, &demoted.body["role"]), (200, &Value::Null));

    let events = audit_of(&app, &admin_tok, &target_id).await;
    assert_eq!(
        results(&events),
        [
            ("set-role", "ok"),
            ("set-role", "last-admin"),
            ("set-role", "ok"),
            ("revoke-sessions", "ok"),
            ("unban", "ok"),
            ("ban", "ok")
        ]
        .map(|(a, r)| (a.to_owned(), r.to_owned()))
    );
}

/// The value of the anti-forgery field in a page.
pub(crate) fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[allow(clippy::too_many_lines)] // one walk-through: each step starts from the state the last one left
async fn forms_act_with_their_token_and_refuse_without_it(backend: Backend) {
    let admin = user_id();
    let other_admin = user_id();
    let target = user_id();
    let member = user_id();
    let (fake, app) = clerk_app_on(&backend, &format!("{admin},{other_admin}")).await;
    let admin_tok = key_a().sign(&claims(&admin));
    let target_tok = key_a().sign(&claims(&target));
    let member_tok = key_a().sign(&claims(&member));
    for token in [&admin_tok, &target_tok, &member_tok] {
        assert_eq!(served(&app, token).await.0, 200);
    }
    fake.serve_user_admin(&target, &["sess_t1"]).await;
    let admin_cookie = browser_cookie(&admin_tok);
    let headers = |cookie: &str| browser_headers(cookie);
    let send = |uri: String, form: String, headers: Headers| {
        let app = app.clone();
        async move { app.post_form(&uri, &form, &refs(&headers)).await }
    };
    let get = |uri: String, headers: Headers| {
        let app = app.clone();
        async move { app.get(&uri, &refs(&headers)).await }
    };

    let user_page = format!("/admin/users/{target}");
    let page = get(user_page.clone(), headers(&admin_cookie)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let token = csrf_of(&page.text());
    let local_id = app.user_row(&target).await.unwrap()["id"].as_i64().unwrap();
    assert!(page
        .text()
        .contains(&format!("/admin/users/{local_id}/confirm/ban")));

    // The confirmation step holds the form that bans.
    let confirm = get(
        format!("/admin/users/{local_id}/confirm/ban"),
        headers(&admin_cookie),
    )
    .await;
    assert_eq!(confirm.status, 200);
    assert!(confirm
        .text()
        .contains(&format!("action=\"/admin/users/{local_id}/ban\"")));
    assert_eq!(csrf_of(&confirm.text()), token, "one token per session");
    assert_eq!(
        get(
            format!("/admin/users/{local_id}/confirm/delete"),
            headers(&admin_cookie)
        )
        .await
        .status,
        404
    );

    // Refused before anything happens: no token, a wrong one, another session's, another
    // site, a member. Nothing reaches Clerk; nothing is audited (these are no admin actions).
    let ban_uri = format!("/admin/users/{local_id}/ban");
    let other_page = get(
        user_page.clone(),
        headers(&browser_cookie(&key_a().sign(&claims(&other_admin)))),
    )
    .await;
    let other_token = csrf_of(&other_page.text());
    assert_ne!(other_token, token);
    let mut foreign = headers(&admin_cookie);
    foreign[2] = ("Origin", "https://evil.example".to_owned());
    let bearer_foreign: Headers = vec![
        (ACCEPT_HTML.0, ACCEPT_HTML.1.to_owned()),
        (HOST.0, HOST.1.to_owned()),
        ("Origin", "https://evil.example".to_owned()),
        ("Authorization", bearer(&admin_tok)),
    ];
    for (why, form, headers) in [
        ("no token", String::new(), headers(&admin_cookie)),
        (
            "a wrong token",
            "csrf=AAAA".to_owned(),
            headers(&admin_cookie),
        ),
        (
            "another session's token",
            format!("csrf={other_token}"),
            headers(&admin_cookie),
        ),
        ("another site, by cookie", format!("csrf={token}"), foreign),
        (
            "another site, by bearer",
            format!("csrf={token}"),
            bearer_foreign,
        ),
        (
            "a member",
            format!("csrf={token}"),
            headers(&browser_cookie(&member_tok)),
        ),
    ] {
        let answer = send(ban_uri.clone(), form, headers).await;
        assert_eq!(answer.status, 403, "{why}: {}", answer.text());
    }
    assert_eq!(fake.requests_to("/v1/").await, vec![]);
    assert_eq!(app.user_row(&target).await.unwrap()["banned"], false);
    assert_eq!(app.count_rows("audit_events").await, 0);

    // With the token: done at Clerk and here, and back to the user's page with the outcome.
    let done = send(ban_uri, format!("csrf={token}"), headers(&admin_cookie)).await;
    assert_eq!(
        (done.status, done.header("Location")),
        (
            303,
            Some(format!("/admin/users/{local_id}?done=ban").as_str())
        )
    );
    assert_eq!(
        fake.requests_to("/v1/").await[0].1,
        format!("/v1/users/{target}/ban")
    );
    assert_eq!(served(&app, &target_tok).await, (403, "user-banned".into()));
    let after = get(
        format!("/admin/users/{local_id}?done=ban"),
        headers(&admin_cookie),
    )
    .await
    .text();
    assert!(after.contains("The user is banned"), "{after}");
    assert!(after.contains("<span class=\"state\">banned</span>"));
    assert!(after.contains(&format!("/admin/users/{local_id}/unban")));

    let form = format!("csrf={token}");
    for (path, form, outcome) in [
        ("unban", form.clone(), "done=unban"),
        ("revoke-sessions", form.clone(), "done=revoke-sessions"),
        ("role", format!("{form}&role=admin"), "done=set-role"),
        ("role", format!("{form}&role="), "done=set-role"),
    ] {
        let answer = send(
            format!("/admin/users/{local_id}/{path}"),
            form,
            headers(&admin_cookie),
        )
        .await;
        assert_eq!(
            answer.header("Location"),
            Some(format!("/admin/users/{local_id}?{outcome}").as_str()),
            "{path}"
        );
    }
    let row = app.user_row(&target).await.unwrap();
    assert_eq!(
        (&row["banned"], &row["role"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(
        served(&app, &target_tok).await,
        (401, "session-revoked".into())
    );

    // A refusal by rule comes back as a status line, and is audited.
    let admin_local = app.user_row(&admin).await.unwrap()["id"].as_i64().unwrap();
    let on_self = send(
        format!("/admin/users/{admin_local}/ban"),
        form.clone(),
        headers(&admin_cookie),
    )
    .await;
    let location = on_self.header("Location").unwrap().to_owned();
    assert_eq!(
        location,
        format!("/admin/users/{admin_local}?refused=cannot-act-on-self")
    );
    let shown = get(location, headers(&admin_cookie)).await.text();
    assert!(shown.contains("You cannot ban yourself"), "{shown}");
    assert!(
        !shown.contains("confirm/ban"),
        "no ban button on one's own page"
    );
    let made_up = get(
        format!("/admin/users/{admin_local}?refused=%3Cscript%3E"),
        headers(&admin_cookie),
    )
    .await
    .text();
    assert!(!made_up.contains("<script>") && !made_up.contains("action-status"));

    let page = get(user_page, headers(&admin_cookie)).await.text();
    assert!(page.contains("revoke-sessions") && page.contains(">ok<"));
    assert_eq!(app.count_rows("audit_events").await, 6);
}

type Headers = Vec<(&'static str, String)>;

/// Clerk's cookies as a browser sends them, the client's last change before the token.
fn browser_cookie(token: &str) -> String {
    format!(
        "__session={token}; __client_uat={}; __clerk_db_jwt=dvb_test",
        now() - 10
    )
}

/// A browser's page request or form post from this app's own page.
fn browser_headers(cookie: &str) -> Headers {
    vec![
        (ACCEPT_HTML.0, ACCEPT_HTML.1.to_owned()),
        (HOST.0, HOST.1.to_owned()),
        (OWN_ORIGIN.0, OWN_ORIGIN.1.to_owned()),
        ("Cookie", cookie.to_owned()),
    ]
}

/// Attribute values as a browser reads them (Tera escapes `/` and `&` in them).
fn unescape(html: &str) -> String {
    html.replace("&#x2F;", "/").replace("&amp;", "&")
}

fn refs(headers: &Headers) -> Vec<(&str, &str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[allow(clippy::too_many_lines)] // one walk-through: each step starts from the state the last one left
async fn the_audit_trail_by_pages_and_filters(backend: Backend) {
    let admin = user_id();
    let (_fake, app) = clerk_app_on(&backend, &admin).await;
    let admin_tok = key_a().sign(&claims(&admin));
    assert_eq!(served(&app, &admin_tok).await.0, 200);
    // Refusals are cheap attempts: 23 on oneself, 4 on unknown users.
    for i in 0..23 {
        let action = if i % 2 == 0 { "ban" } else { "revoke-sessions" };
        post_as(
            &app,
            &format!("/api/admin/users/{admin}/{action}"),
            &admin_tok,
        )
        .await;
    }
    for i in 0..4 {
        post_as(
            &app,
            &format!("/api/admin/users/user_gone{i}/unban"),
            &admin_tok,
        )
        .await;
    }

    let mut seen = Vec::new();
    let mut uri = "/api/admin/audit?limit=10".to_owned();
    loop {
        let page = app.get_as(&uri, &admin_tok).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        seen.extend(
            page.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/admin/audit?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, each once");
    assert_eq!(seen.len(), 27);

    let count = |query: &str| {
        let app = app.clone();
        let token = admin_tok.clone();
        let query = query.to_owned();
        async move {
            let answer = app
                .get_as(&format!("/api/admin/audit?limit=100&{query}"), &token)
                .await;
            assert_eq!(answer.status, 200, "{query}: {:?}", answer.body);
            answer.body["events"].as_array().unwrap().len()
        }
    };
    assert_eq!(count(&format!("actor={admin}")).await, 27);
    assert_eq!(count(&format!("target={admin}")).await, 23);
    assert_eq!(count("action=ban").await, 12);
    assert_eq!(
        count(&format!("target={admin}&action=revoke-sessions")).await,
        11
    );
    assert_eq!(count("action=unban&target=user_gone2").await, 1);
    assert_eq!(count("actor=user_someone_else").await, 0);
    for bad in [
        "action=delete",
        "actor=user_%27%3B",
        "limit=0",
        "cursor=garbage!",
    ] {
        let answer = app
            .get_as(&format!("/api/admin/audit?{bad}"), &admin_tok)
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "bad-request"),
            "{bad}"
        );
    }
    let member = key_a().sign(&claims(&user_id()));
    assert_eq!(app.get_as("/api/admin/audit", &member).await.status, 403);
    assert_eq!(app.get_html_as("/admin/audit", &member).await.status, 403);

    // The page: the same filters, pages with links that keep them.
    let page = app
        .get_html_as(
            &format!("/admin/audit?target={admin}&action=ban"),
            &admin_tok,
        )
        .await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert_eq!(html.matches("<tr class=\"result-refused\"").count(), 12);
    assert!(html.contains("cannot-act-on-self"));
    assert!(!html.contains("rel=\"next\""), "12 fit on one page");
    let all = unescape(&app.get_html_as("/admin/audit", &admin_tok).await.text());
    let next = all
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.starts_with("/admin/audit?") && href.contains("cursor="))
        .expect("a link to older events")
        .to_owned();
    let older = app.get_html_as(&next, &admin_tok).await;
    assert_eq!(older.status, 200);
    assert_eq!(older.text().matches("<tr class=\"result-").count(), 2);
    assert_eq!(
        app.get_html_as("/admin/audit?action=nope", &admin_tok)
            .await
            .status,
        400
    );
    // The user's page shows the latest few, and links to the rest.
    let user_page = app
        .get_html_as(&format!("/admin/users/{admin}"), &admin_tok)
        .await
        .text();
    assert_eq!(
        user_page.matches("<tr class=\"result-refused\"").count(),
        10
    );
    assert!(unescape(&user_page).contains(&format!("/admin/audit?target={admin}")));
}

/// The audit row's answer and its two facts.
fn facts(event: &Value) -> (&str, &str, &str) {
    (
        event["result"].as_str().unwrap(),
        event["clerk_outcome"].as_str().unwrap(),
        event["local_outcome"].as_str().unwrap(),
    )
}

async fn a_local_write_failing_after_clerk_is_recorded_as_what_happened(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = clerk_app_on(&backend, &admin).await;
    let admin_tok = key_a().sign(&claims(&admin));
    let target_tok = key_a().sign(&claims(&target));
    for token in [&admin_tok, &target_tok] {
        assert_eq!(served(&app, token).await.0, 200);
    }
    fake.serve_user_admin(&target, &[]).await;
    app.fail_user_updates_where("NEW.banned = 1").await;

    let answer = post_as(&app, &format!("/api/admin/users/{target}/ban"), &admin_tok).await;
    assert_eq!(
        (answer.status, answer.code()),
        (503, "local-write-failed"),
        "{:?}",
        answer.body
    );
    assert!(answer.text().contains("Clerk made the change"));
    assert_eq!(
        fake.requests_to(&format!("/v1/users/{target}/ban"))
            .await
            .len(),
        1
    );
    assert_eq!(app.user_row(&target).await.unwrap()["banned"], false);
    let events = audit_of(&app, &admin_tok, &target).await;
    assert_eq!(events.len(), 1);
    assert_eq!(facts(&events[0]), ("local-write-failed", "done", "failed"));
}

async fn a_partial_revocation_ends_here_the_sessions_clerk_ended(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = clerk_app_on(&backend, &admin).await;
    let admin_tok = key_a().sign(&claims(&admin));
    assert_eq!(served(&app, &admin_tok).await.0, 200);
    let (ended, failing, later) = ("sess_ended1", "sess_failing2", "sess_later3");
    let tokens: Vec<String> = [ended, failing, later]
        .iter()
        .map(|sid| new_session_token(&target, sid, now() - 5))
        .collect();
    for token in &tokens {
        assert_eq!(served(&app, token).await.0, 200);
    }
    fake.serve_user_admin(&target, &[ended, failing, later])
        .await;
    fake.fail_session_revoke(failing, 500).await;

    let answer = post_as(
        &app,
        &format!("/api/admin/users/{target}/revoke-sessions"),
        &admin_tok,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (502, "sessions-partly-ended"),
        "{:?}",
        answer.body
    );
    assert_eq!(
        served(&app, &tokens[0]).await,
        (401, "session-revoked".into()),
        "what Clerk ended ends here at once"
    );
    assert_eq!(served(&app, &tokens[1]).await.0, 200);
    assert_eq!(served(&app, &tokens[2]).await.0, 200, "never reached");
    let events = audit_of(&app, &admin_tok, &target).await;
    assert_eq!(
        facts(&events[0]),
        ("sessions-partly-ended", "partial", "written")
    );
    assert_eq!(
        events[0]["parameters"],
        json!({ "sessions": 1, "listed": 3 })
    );
}

async fn request_ids_are_checked_before_the_audit_trail_stores_them(backend: Backend) {
    let admin = user_id();
    let (_fake, app) = clerk_app_on(&backend, &admin).await;
    let admin_tok = key_a().sign(&claims(&admin));
    assert_eq!(served(&app, &admin_tok).await.0, 200);
    let long = "r".repeat(129);
    for (given, kept) in [
        ("trace-42.a:b", true),
        ("req<script>", false),
        ("a\"b", false),
        ("x'--", false),
        (long.as_str(), false),
    ] {
        let answer = app
            .post(
                &format!("/api/admin/users/{admin}/ban"),
                &[
                    ("Authorization", &bearer(&admin_tok)),
                    ("x-request-id", given),
                ],
                Vec::new(),
            )
            .await;
        assert_eq!(answer.code(), "cannot-act-on-self");
        let id = answer.header("x-request-id").unwrap().to_owned();
        assert_eq!(id == given, kept, "{given}");
        let events = audit_of(&app, &admin_tok, &admin).await;
        assert_eq!(events[0]["request_id"], json!(id), "{given}");
    }
}
