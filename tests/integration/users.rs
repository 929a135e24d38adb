//! The local user row: creation on first sight, email sources, the first-request race, and
//! migrations, on `SQLite` and (when configured) `PostgreSQL`.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::*;

backend_tests!(
    migrations_apply_on_a_fresh_database,
    a_user_is_created_on_first_sight_and_kept_in_step,
    fifty_concurrent_first_requests_make_one_row,
    email_comes_from_the_backend_api_when_the_claim_is_absent,
);

async fn migrations_apply_on_a_fresh_database(backend: Backend) {
    let (fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    assert!(app.applied_migrations().await >= 1);
    assert_eq!(app.count_rows("users").await, 0);
    // Starting again on the same database applies nothing twice.
    let again = Settings::clerk(&fake)
        .set("jwt_issuer", "https://x.test")
        .on_database(&app.database_url)
        .try_start()
        .await;
    assert!(again.is_ok(), "restart on a migrated database");
}

async fn a_user_is_created_on_first_sight_and_kept_in_step(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    let user = user_id();
    let first = app.bearer(&key_a().sign(&claims(&user))).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let second = app.bearer(&key_a().sign(&claims(&user))).await;
    assert_eq!(first.body, second.body, "the same row");

    let changed = with(
        claims(&user),
        json!({ "email": "new@example.test", "metadata": { "role": "admin" } }),
    );
    let me = app.get_as("/api/users/me", &key_a().sign(&changed)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "new@example.test");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["id"], first.body["user"]["id"]);
    assert_eq!(
        me.body["username"],
        format!("{user}@example.test"),
        "username keeps its first value"
    );
    assert_eq!(me.body["banned"], false);
    assert!(me.body["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.count_users(&user).await, 1);
}

async fn fifty_concurrent_first_requests_make_one_row(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.bearer(&token).await })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        ids.insert(answer.body["user"]["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 1, "every answer names the same row");
    assert_eq!(app.count_users(&user).await, 1, "exactly one row");
}

async fn email_comes_from_the_backend_api_when_the_claim_is_absent(backend: Backend) {
    let (fake, app) =
        clerk_app_with(|settings| settings.on(&backend).set("secret_key", "sk_test_abc")).await;
    let user = user_id();
    fake.serve_user(&user, "primary@example.test").await;
    let token = key_a().sign(&with(claims(&user), json!({ "email": null })));
    let answer = app.bearer(&token).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body["user"]["email"], "primary@example.test",
        "the primary address, not the first"
    );
    assert_eq!(answer.body["user"]["username"], "primary@example.test");
    let again = app.bearer(&token).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        fake.hits(&format!("/v1/users/{user}")).await,
        1,
        "stored, not asked again"
    );
    let calls = fake.server.received_requests().await.unwrap();
    let call = calls
        .iter()
        .find(|r| r.url.path().starts_with("/v1/users/"))
        .unwrap();
    assert_eq!(
        call.headers.get("authorization").unwrap(),
        "Bearer sk_test_abc"
    );

    let unknown = user_id();
    let token = key_a().sign(&with(claims(&unknown), json!({ "email": null })));
    let answer = app.bearer(&token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "user-not-found"),
        "Clerk answered 404"
    );
    assert_eq!(app.count_users(&unknown).await, 0);
}

#[tokio::test]
async fn missing_email_without_a_secret_key_says_how_to_add_the_claim() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let token = key_a().sign(&with(claims(&user), json!({ "email": null })));
    let answer = app.bearer(&token).await;
    assert_eq!((answer.status, answer.code()), (401, "email-claim-missing"));
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Customize session token") && message.contains("primary_email_address"),
        "{message}"
    );
    assert_eq!(app.count_users(&user).await, 0);

    // A customisation with an unknown shortcode yields null: the same answer.
    let null_email = key_a().sign(&with(claims(&user), json!({ "email": "" })));
    assert_eq!(app.bearer(&null_email).await.code(), "email-claim-missing");
}

#[tokio::test]
async fn backend_api_outage_is_503_not_500() {
    let (fake, app) = clerk_app_with(|settings| settings.set("secret_key", "sk_test_abc")).await;
    wiremock::Mock::given(wiremock::matchers::path_regex("^/v1/users/"))
        .respond_with(wiremock::ResponseTemplate::new(502))
        .mount(&fake.server)
        .await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "email": null })));
    let answer = app.bearer(&token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (503, "backend-api-unavailable")
    );
    assert!(answer.header("Retry-After").is_some());
}
