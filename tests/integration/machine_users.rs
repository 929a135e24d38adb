//! API keys and OAuth access tokens acting for a user follow that user's deny state here: a user
//! deleted or banned in this app is refused whatever credential acts for them, as their session
//! is, within the same bound; machines and organizations are unaffected.

use clerk_rocket::clerk::machine::TokenType;
use serde_json::json;

use crate::common::*;

backend_tests!(
    a_user_s_credentials_are_refused_while_the_user_is_banned_or_deleted,
    a_ban_seen_by_another_instance_applies_within_the_cache_bound,
    warm_requests_read_no_database_and_unknown_users_get_no_row,
);

/// A fake Clerk, and an app on `backend` with a secret key (opaque tokens are verified) that
/// accepts webhooks.
async fn app_on(backend: &Backend) -> (FakeClerk, TestApp) {
    let backend = backend.clone();
    clerk_app_with(|settings| {
        settings
            .on(&backend)
            .set("secret_key", "sk_test_machine_users")
            .with_webhook_secret()
    })
    .await
}

/// An opaque API key for `subject`, served by `fake`.
async fn api_key(fake: &FakeClerk, subject: &str) -> String {
    let key = opaque_token(TokenType::ApiKey);
    fake.serve_machine_token(
        TokenType::ApiKey,
        &key,
        verified_json(TokenType::ApiKey, subject, &[]),
    )
    .await;
    key
}

/// Every credential that acts for `user`: an opaque API key, an opaque and a JWT OAuth token.
async fn credentials_of(fake: &FakeClerk, user: &str) -> Vec<(&'static str, String)> {
    let oauth = opaque_token(TokenType::OAuthToken);
    fake.serve_machine_token(
        TokenType::OAuthToken,
        &oauth,
        verified_json(TokenType::OAuthToken, user, &["read"]),
    )
    .await;
    vec![
        ("api key", api_key(fake, user).await),
        ("opaque oauth", oauth),
        (
            "jwt oauth",
            key_a().sign_oauth(&oauth_claims(user, "client_1", &["read"])),
        ),
    ]
}

async fn deliver_user(app: &TestApp, kind: &str, user: serde_json::Value) {
    let answer = app.deliver(&unique("msg"), &clerk_event(kind, user)).await;
    assert_eq!(answer.body["outcome"], "applied", "{:?}", answer.body);
}

/// Asserts that every credential gets `status` (and `code`, on a refusal) on `/api/whoami`.
async fn expect_all(app: &TestApp, credentials: &[(&str, String)], status: u16, code: &str) {
    for (what, token) in credentials {
        let answer = app.get_as("/api/whoami", token).await;
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        if status != 200 {
            assert_eq!(answer.code(), code, "{what}");
            // A challenge asks for another credential: only a 401 carries one, as for sessions.
            assert_eq!(
                answer.header("WWW-Authenticate").is_some(),
                status == 401,
                "{what}"
            );
        }
    }
}

async fn a_user_s_credentials_are_refused_while_the_user_is_banned_or_deleted(backend: Backend) {
    let (fake, app) = app_on(&backend).await;
    let user = user_id();
    let email = format!("{user}@example.test");
    let session = key_a().sign(&claims(&user));
    let credentials = credentials_of(&fake, &user).await;
    let machine = key_a().sign_m2m(&m2m_claims("mch_caller", &[]));
    let org_key = api_key(&fake, "org_acme").await;
    let others = [("m2m", machine), ("org api key", org_key)];
    expect_all(&app, &credentials, 200, "").await;

    let mut banned = clerk_user(&user, &email, 1_000);
    banned["banned"] = json!(true);
    deliver_user(&app, "user.updated", banned).await;
    let refused = app.bearer(&session).await;
    assert_eq!((refused.status, refused.code()), (403, "user-banned"));
    assert!(refused.header("WWW-Authenticate").is_none());
    expect_all(&app, &credentials, 403, "user-banned").await;
    expect_all(&app, &others, 200, "").await;

    deliver_user(&app, "user.updated", clerk_user(&user, &email, 2_000)).await;
    expect_all(&app, &credentials, 200, "").await;
    assert_eq!(app.bearer(&session).await.status, 200);

    deliver_user(
        &app,
        "user.deleted",
        json!({ "object": "user", "id": user, "deleted": true }),
    )
    .await;
    let refused = app.bearer(&session).await;
    assert_eq!((refused.status, refused.code()), (401, "user-deleted"));
    expect_all(&app, &credentials, 401, "user-deleted").await;
    expect_all(&app, &others, 200, "").await;

    // Banned through the kit (as an admin action here would), without any webhook.
    let other = user_id();
    app.seed_user(&other, &format!("{other}@example.test"), None, None)
        .await;
    let credentials = credentials_of(&fake, &other).await;
    expect_all(&app, &credentials, 200, "").await;
    app.ban(&other).await;
    expect_all(&app, &credentials, 403, "user-banned").await;
}

async fn a_ban_seen_by_another_instance_applies_within_the_cache_bound(backend: Backend) {
    let (fake, app) = app_on(&backend).await;
    let user = user_id();
    app.seed_user(&user, &format!("{user}@example.test"), None, None)
        .await;
    let key = api_key(&fake, &user).await;
    assert_eq!(app.get_as("/api/whoami", &key).await.status, 200);
    // Another instance applies the ban: this one is not told, and notices within the bound.
    app.execute(&format!(
        "UPDATE users SET banned = 1 WHERE clerk_id = '{user}'"
    ))
    .await;
    let started = std::time::Instant::now();
    loop {
        let answer = app.get_as("/api/whoami", &key).await;
        if answer.status == 403 {
            assert_eq!(answer.code(), "user-banned");
            break;
        }
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        // The 5 s bound, and a margin for a slow machine (as hot_path's OTHER_INSTANCE_BOUND).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5 + 3),
            "still accepted after the cache bound"
        );
        rocket::tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn warm_requests_read_no_database_and_unknown_users_get_no_row(backend: Backend) {
    let (fake, app) = app_on(&backend).await;
    let known = user_id();
    app.seed_user(&known, &format!("{known}@example.test"), None, None)
        .await;
    let unknown = user_id();
    let keys = [
        ("known user", api_key(&fake, &known).await),
        ("unknown user", api_key(&fake, &unknown).await),
    ];
    expect_all(&app, &keys, 200, "").await;
    assert_eq!(
        app.count_users(&unknown).await,
        0,
        "no row from a credential"
    );

    // Without a users table a cold look-up fails: warm ones answer from memory.
    app.rename_table("users", "users_away").await;
    expect_all(&app, &keys, 200, "").await;
    let cold = api_key(&fake, &user_id()).await;
    let answer = app.get_as("/api/whoami", &cold).await;
    app.rename_table("users_away", "users").await;
    assert!(
        answer.status >= 500,
        "a cold look-up reads: {:?}",
        answer.body
    );

    // A ban received here for a user without a row applies at once.
    let mut banned = clerk_user(&unknown, "u@example.test", 1_000);
    banned["banned"] = json!(true);
    deliver_user(&app, "user.updated", banned).await;
    let answer = app.get_as("/api/whoami", &keys[1].1).await;
    assert_eq!((answer.status, answer.code()), (403, "user-banned"));
}
