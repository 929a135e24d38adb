//! Who may change a stored user: webhooks, sync and first sight do; a session token's role claim
//! never does, and its profile claims only when it is newer than the row's last authoritative
//! change.

use serde_json::json;

use crate::common::*;

async fn webhook_app(backend: &Backend) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| settings.on(backend).with_webhook_secret()).await
}

/// `user.updated` for `user` as of `updated_at_ms`, with `role` in its public metadata.
async fn user_updated(
    app: &TestApp,
    user: &str,
    email: &str,
    role: Option<&str>,
    updated_at_ms: i64,
) {
    let mut body = clerk_user(user, email, updated_at_ms);
    body["public_metadata"] = role.map_or(json!({}), |role| json!({ "role": role }));
    let answer = app
        .deliver(&unique("msg"), &clerk_event("user.updated", body))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

fn token_at(user: &str, iat: i64, changes: serde_json::Value) -> String {
    let claims = with(
        claims(user),
        json!({ "iat": iat, "nbf": iat - 10, "exp": now() + 60 }),
    );
    key_a().sign(&with(claims, changes))
}

backend_tests!(
    a_demotion_is_not_undone_by_an_older_token,
    a_stale_token_does_not_roll_back_an_email_changed_by_a_webhook,
    admin_through_the_token_claim_alone_ends_when_tokens_stop_carrying_it,
);

async fn a_demotion_is_not_undone_by_an_older_token(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let email = format!("{user}@example.test");
    let start = now();
    user_updated(&app, &user, &email, Some("admin"), (start - 20) * 1000).await;
    let old = token_at(
        &user,
        start - 15,
        json!({ "metadata": { "role": "admin" } }),
    );
    assert_eq!(app.get_as("/api/admin/users", &old).await.status, 200);

    user_updated(&app, &user, &email, None, (start - 5) * 1000).await;
    assert_eq!(app.user_row(&user).await.unwrap()["role"], json!(null));

    // The old token still carries the claim: it is this request's, and is not written back.
    let replayed = app.get_as("/api/users/me", &old).await;
    assert_eq!(replayed.status, 200);
    assert_eq!(app.user_row(&user).await.unwrap()["role"], json!(null));

    let fresh = token_at(&user, start, json!({}));
    let api = app.get_as("/api/admin/users", &fresh).await;
    assert_eq!((api.status, api.code()), (403, "forbidden"));
    assert_eq!(app.get_html_as("/admin/users", &fresh).await.status, 403);
    let me = app.get_as("/api/users/me", &fresh).await;
    assert_eq!(me.body["role"], json!(null));
    assert_eq!(app.user_row(&user).await.unwrap()["role"], json!(null));
}

async fn a_stale_token_does_not_roll_back_an_email_changed_by_a_webhook(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let start = now();
    let old = token_at(&user, start - 30, json!({ "email": "old@example.test" }));
    assert_eq!(app.bearer(&old).await.status, 200);
    assert_eq!(
        app.user_row(&user).await.unwrap()["email"],
        "old@example.test"
    );

    user_updated(&app, &user, "new@example.test", None, (start - 10) * 1000).await;
    let replayed = app.get_as("/api/users/me", &old).await;
    assert_eq!(replayed.status, 200);
    assert_eq!(replayed.body["email"], "new@example.test");
    assert_eq!(
        app.user_row(&user).await.unwrap()["email"],
        "new@example.test"
    );

    // A token newer than the webhook's change is the freshest word and fills the row.
    let newer = token_at(&user, start, json!({ "email": "newest@example.test" }));
    assert_eq!(
        app.get_as("/api/users/me", &newer).await.body["email"],
        "newest@example.test"
    );
    assert_eq!(
        app.user_row(&user).await.unwrap()["email"],
        "newest@example.test"
    );
    // And the old one, replayed again, changes nothing.
    assert_eq!(
        app.get_as("/api/users/me", &old).await.body["email"],
        "newest@example.test"
    );
    assert_eq!(
        app.user_row(&user).await.unwrap()["email"],
        "newest@example.test"
    );
}

async fn admin_through_the_token_claim_alone_ends_when_tokens_stop_carrying_it(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let claimed = key_a().sign(&with(
        claims(&user),
        json!({ "metadata": { "role": "admin" } }),
    ));
    assert_eq!(app.get_as("/api/admin/users", &claimed).await.status, 200);
    assert_eq!(app.get_html_as("/admin/users", &claimed).await.status, 200);
    assert_eq!(
        app.user_row(&user).await.unwrap()["role"],
        json!(null),
        "never stored"
    );

    let plain = key_a().sign(&claims(&user));
    let api = app.get_as("/api/admin/users", &plain).await;
    assert_eq!((api.status, api.code()), (403, "forbidden"));
    assert_eq!(app.get_html_as("/admin/users", &plain).await.status, 403);
    let top_level = key_a().sign(&with(claims(&user), json!({ "role": "admin" })));
    assert_eq!(app.get_as("/api/admin/users", &top_level).await.status, 200);
    assert_eq!(app.get_as("/api/admin/users", &plain).await.status, 403);
}
