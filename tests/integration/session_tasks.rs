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
