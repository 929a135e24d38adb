//! Pending sessions (Clerk's session tasks, `sts: "pending"`): signed out by default on every
//! route, served by the routes that accept them (`Auth<_, AcceptPending>`, `/api/whoami`), and
//! still refused for a banned user or an ended session.

use clerk_rocket::auth::{AcceptPending, Auth, SessionOnly};
use serde_json::json;

use crate::common::*;

/// A route that accepts pending sessions, as an onboarding route would.
#[rocket::get("/onboarding")]
fn onboarding(auth: Auth<SessionOnly, AcceptPending>) -> String {
    let status = auth.object.session_status().map_or("none", |s| s.as_str());
    format!("{} {status}", auth.object.subject())
}

/// The same route without the opt-in.
#[rocket::get("/signed-in-only")]
fn signed_in_only(auth: Auth<SessionOnly>) -> String {
    auth.object.subject().to_owned()
}

async fn app() -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| settings.mount(rocket::routes![onboarding, signed_in_only])).await
}

fn pending_token(user: &str) -> String {
    key_a().sign(&with(claims(user), json!({ "sts": "pending" })))
}

#[tokio::test]
async fn a_pending_session_is_signed_out_by_default() {
    let (_fake, app) = app().await;
    let user = user_id();
    let token = pending_token(&user);
    for route in [
        "/api/users/me",
        "/api/users/clerk-test/",
        "/api/test/signed-in-only",
    ] {
        let answer = app.get_as(route, &token).await;
        assert_eq!(answer.status, 401, "{route}: {}", answer.text());
        assert_eq!(answer.code(), "session-pending", "{route}");
        assert_eq!(answer.header("x-clerk-auth-status"), Some("signed-out"));
        assert_eq!(
            answer.header("x-clerk-auth-reason"),
            Some("session-pending")
        );
        assert!(answer.header("WWW-Authenticate").is_some());
    }
    // By cookie too, as a browser sends it.
    let by_cookie = app
        .get("/api/users/me", &[("Cookie", &browser_cookies(&token))])
        .await;
    assert_eq!(
        (by_cookie.status, by_cookie.code()),
        (401, "session-pending")
    );
    // A user who has not finished the task is not created here by a refused request.
    assert_eq!(app.count_users(&user).await, 0);
    // An active token of the same user signs in as ever.
    let active = key_a().sign(&with(claims(&user), json!({ "sts": "active" })));
    assert_eq!(app.get_as("/api/users/me", &active).await.status, 200);
}

#[tokio::test]
async fn a_route_that_accepts_pending_sessions_serves_them_as_signed_in() {
    let (_fake, app) = app().await;
    let user = user_id();
    let token = pending_token(&user);
    let answer = app.get_as("/api/test/onboarding", &token).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), format!("{user} pending"));
    // Clerk's `authenticateRequest` calls a pending session signed in; the route served it.
    assert_eq!(answer.header("x-clerk-auth-status"), Some("signed-in"));
    assert_eq!(answer.header("x-clerk-auth-reason"), None);
    // The verdict on the token is kept for the next request, whichever route it asks.
    assert_eq!(
        app.get_as("/api/users/me", &token).await.code(),
        "session-pending"
    );
    assert_eq!(app.get_as("/api/test/onboarding", &token).await.status, 200);
    let active = key_a().sign(&claims(&user));
    assert_eq!(
        app.get_as("/api/test/onboarding", &active).await.text(),
        format!("{user} active")
    );
    // Signed out stays signed out.
    assert_eq!(
        app.get("/api/test/onboarding", &[]).await.code(),
        "session-token-missing"
    );
}

#[tokio::test]
async fn whoami_says_pending_and_where_the_tasks_are() {
    let (_fake, app) = app().await;
    let user = user_id();
    let pending = app.get_as("/api/whoami", &pending_token(&user)).await;
    assert_eq!(pending.status, 200, "{}", pending.text());
    assert_eq!(pending.body["token_type"], "session_token");
    assert_eq!(pending.body["user_id"], user.as_str());
    assert_eq!(pending.body["pending"], true);
    assert_eq!(pending.body["session_status"], "pending");
    assert_eq!(pending.body["tasks_url"], "/sign-in/tasks");

    let active = app
        .get_as("/api/whoami", &key_a().sign(&claims(&user)))
        .await;
    assert_eq!(active.status, 200);
    assert_eq!(active.body["pending"], false);
    assert_eq!(active.body["session_status"], "active");
    assert_eq!(active.body["tasks_url"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_banned_users_or_ended_pending_session_is_refused_where_pending_is_accepted() {
    let (_fake, app) = app().await;
    let user = user_id();
    // Known here (signed in once), then banned at Clerk.
    assert_eq!(
        app.get_as("/api/users/me", &key_a().sign(&claims(&user)))
            .await
            .status,
        200
    );
    app.ban(&user).await;
    let banned = app.get_as("/api/whoami", &pending_token(&user)).await;
    assert_eq!((banned.status, banned.code()), (403, "user-banned"));
    assert_eq!(
        app.get_as("/api/test/onboarding", &pending_token(&user))
            .await
            .code(),
        "user-banned"
    );

    let other = user_id();
    let token = pending_token(&other);
    app.revoke_session(&format!("sess_{other}"), Some(&other), now(), now() + 3600)
        .await;
    let ended = app.get_as("/api/whoami", &token).await;
    assert_eq!((ended.status, ended.code()), (401, "session-revoked"));
}

#[tokio::test]
async fn a_pending_token_with_a_bad_status_claim_is_refused_everywhere() {
    let (_fake, app) = app().await;
    let odd = key_a().sign(&with(claims(&user_id()), json!({ "sts": 7 })));
    let answer = app.get_as("/api/whoami", &odd).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "token-verification-failed")
    );
}

// Pages.

const DOCUMENT: (&str, &str) = ("Sec-Fetch-Dest", "document");

/// A Clerk-mode app with a publishable key (pages load ClerkJS), on a development instance.
async fn pages() -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| {
        settings
            .unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, false))
    })
    .await
}

async fn page(app: &TestApp, uri: &str, token: Option<&str>) -> Answer {
    let cookies = token.map(browser_cookies).unwrap_or_default();
    app.get(uri, &[ACCEPT_HTML, DOCUMENT, ("Cookie", &cookies)])
        .await
}

#[tokio::test]
async fn pages_send_a_pending_session_to_the_task_page_and_back() {
    let (_fake, app) = pages().await;
    let user = user_id();
    let token = pending_token(&user);
    let profile = page(&app, "/profile?tab=1", Some(&token)).await;
    assert_eq!(
        (profile.status, profile.header("Location")),
        (
            303,
            Some("/sign-in/tasks?redirect_url=%2Fprofile%3Ftab%3D1")
        )
    );
    assert_eq!(
        profile.header("x-clerk-auth-reason"),
        Some("session-pending")
    );
    assert_eq!(profile.header("Cache-Control"), Some("no-store"));
    // The sign-in page too: the user is signed in at Clerk, with a task left.
    let sign_in = page(&app, "/sign-in?redirect_url=/admin", Some(&token)).await;
    assert_eq!(
        sign_in.header("Location"),
        Some("/sign-in/tasks?redirect_url=%2Fadmin")
    );

    // The task page: ClerkJS, the task URLs for Clerk.load and the way back.
    let tasks = page(&app, "/sign-in/tasks?redirect_url=%2Fprofile", Some(&token)).await;
    assert_eq!(tasks.status, 200, "{}", tasks.text());
    let html = tasks.text();
    assert!(html.contains("clerk.browser.js"), "{html}");
    assert!(html.contains("id=\"clerk-session-tasks\""));
    assert!(
        html.contains("data-redirect-url=\"&#x2F;profile\""),
        "{html}"
    );
    assert!(!html.contains("data-mount="));
    for key in ["choose-organization", "reset-password", "setup-mfa"] {
        assert!(
            html.contains(&format!(
                "&quot;{key}&quot;:&quot;&#x2F;sign-in&#x2F;tasks&#x2F;{key}&quot;"
            )),
            "taskUrls has {key}: {html}"
        );
        assert!(html.contains(&format!("data-task-key=\"{key}\"")));
    }

    // Each task's page mounts its component.
    for (key, mount) in [
        ("choose-organization", "mountTaskChooseOrganization"),
        ("reset-password", "mountTaskResetPassword"),
        ("setup-mfa", "mountTaskSetupMFA"),
    ] {
        let uri = format!("/sign-in/tasks/{key}?redirect_url=%2Fprofile");
        let answer = page(&app, &uri, Some(&token)).await;
        assert_eq!(answer.status, 200, "{key}: {}", answer.text());
        let html = answer.text();
        assert!(html.contains(&format!("data-task=\"{key}\"")), "{html}");
        assert!(html.contains(&format!("data-mount=\"{mount}\"")), "{html}");
    }
    assert_eq!(
        page(&app, "/sign-in/tasks/setup_mfa", Some(&token))
            .await
            .status,
        404
    );

    // Once the task is done ClerkJS holds an active token: the task page sends the user back.
    let active = key_a().sign(&claims(&user));
    let done = page(
        &app,
        "/sign-in/tasks?redirect_url=%2Fprofile",
        Some(&active),
    )
    .await;
    assert_eq!(
        (done.status, done.header("Location")),
        (303, Some("/profile"))
    );
    let profile = page(&app, "/profile", Some(&active)).await;
    assert_eq!(profile.status, 200);
    // Signed out: sign in first, then back to the page first asked for.
    let out = page(
        &app,
        "/sign-in/tasks/setup-mfa?redirect_url=%2Fprofile",
        None,
    )
    .await;
    assert_eq!(
        out.header("Location"),
        Some("/sign-in?redirect_url=%2Fprofile")
    );
    // The way back is a same-origin path only.
    let evil = page(
        &app,
        "/sign-in/tasks?redirect_url=%2F%2Fevil.test",
        Some(&active),
    )
    .await;
    assert_eq!(evil.header("Location"), Some("/"));
}

#[tokio::test]
async fn a_banned_users_pending_session_is_refused_not_sent_to_the_tasks() {
    let (_fake, app) = pages().await;
    let user = user_id();
    assert_eq!(
        page(&app, "/profile", Some(&key_a().sign(&claims(&user))))
            .await
            .status,
        200
    );
    app.ban(&user).await;
    let token = pending_token(&user);
    for uri in ["/profile", "/sign-in/tasks?redirect_url=%2Fprofile"] {
        let answer = page(&app, uri, Some(&token)).await;
        assert_eq!(answer.status, 403, "{uri}: {:?}", answer.header("Location"));
        assert!(answer.text().contains("user-banned"), "{uri}");
        assert_eq!(answer.header("x-clerk-auth-reason"), Some("user-banned"));
    }
}

#[tokio::test]
async fn clerk_js_can_be_loaded_from_a_url_of_its_own() {
    let (_fake, app) = clerk_app_with(|settings| {
        settings
            .unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, false))
            .set(
                "clerk_js_url",
                "https://cdn.example.test/clerk-js/6.1.0/clerk.browser.js",
            )
            .set("clerk_ui_url", "http://127.0.0.1:9/ui.browser.js")
    })
    .await;
    let answer = page(&app, "/sign-in", None).await;
    let html = answer.text();
    assert!(
        html.contains(
            "https:&#x2F;&#x2F;cdn.example.test&#x2F;clerk-js&#x2F;6.1.0&#x2F;clerk.browser.js"
        ),
        "{html}"
    );
    assert!(html.contains("http:&#x2F;&#x2F;127.0.0.1:9&#x2F;ui.browser.js"));
    let csp = answer.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains("script-src 'self' https://clerk.example.test https://cdn.example.test http://127.0.0.1:9 "),
        "{csp}"
    );
}

#[tokio::test]
async fn a_handshake_that_brings_a_pending_session_reloads_then_goes_to_the_tasks() {
    use wiremock::matchers::{method, path, query_param};
    let (fake, app) = clerk_app_with(|settings| {
        settings
            .unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, false))
            .set("secret_key", "sk_test_tasks")
    })
    .await;
    let token = pending_token(&user_id());
    wiremock::Mock::given(method("GET"))
        .and(path("/v1/clients/handshake_payload"))
        .and(query_param("nonce", "nonce-tasks"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "directives": [
                format!("__session={token}; Path=/; SameSite=Lax"),
                format!("__client_uat={}; Path=/; SameSite=Strict", now() - 30),
            ]
        })))
        .mount(&fake.server)
        .await;
    let host = ("Host", "app.example.test");
    let back = app
        .get(
            "/profile?__clerk_handshake_nonce=nonce-tasks",
            // The dev browser that the handshake carries back (a nonce is resolved only for a
            // browser with a Clerk client).
            &[
                ACCEPT_HTML,
                DOCUMENT,
                host,
                ("Cookie", "__clerk_db_jwt=dvb_test"),
            ],
        )
        .await;
    // Development: the cookies, and a reload without the handshake's parameters, as for an
    // active session.
    assert_eq!(back.status, 307, "{}", back.text());
    assert_eq!(
        back.header("Location"),
        Some("http://app.example.test/profile")
    );
    assert_eq!(
        back.set_cookie("__session").as_deref(),
        Some(token.as_str())
    );
    // The reloaded page finds the session pending.
    let reloaded = page(&app, "/profile", Some(&token)).await;
    assert_eq!(
        reloaded.header("Location"),
        Some("/sign-in/tasks?redirect_url=%2Fprofile")
    );
}
