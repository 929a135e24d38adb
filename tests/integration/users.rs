//! The local user row: creation on first sight, email sources, the first-request race, and
//! migrations, on SQLite and (when configured) PostgreSQL.

use serde_json::json;

use crate::common::*;

async fn app_on(backend: &Backend, fake: &FakeClerk) -> TestApp {
    Settings::clerk(fake).on(backend).start().await
}

#[tokio::test]
async fn migrations_apply_on_a_fresh_database() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let app = app_on(&backend, &fake).await;
        let pool = app.pool().await;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        assert!(applied >= 1, "{}", backend.name());
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(users, 0, "{}", backend.name());
        // Starting again on the same database applies nothing twice.
        let figment = rocket::Config::figment()
            .merge(("log_level", "off"))
            .merge(("databases.app", json!({ "url": app.database_url, "max_connections": 2 })))
            .merge(("clerk", json!({ "local_mode": "false", "jwt_issuer": "https://x.test", "jwks_url": fake.jwks_url() })));
        let again =
            rocket::local::asynchronous::Client::untracked(clerk_rocket::build(figment)).await;
        assert!(
            again.is_ok(),
            "{}: restart on a migrated database",
            backend.name()
        );
    }
}

#[tokio::test]
async fn a_user_is_created_on_first_sight_and_kept_in_step() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let app = app_on(&backend, &fake).await;
        let user = user_id();
        let first = app.bearer(&key_a().sign(&claims(&user))).await;
        assert_eq!(first.status, 200, "{}: {:?}", backend.name(), first.body);
        let second = app.bearer(&key_a().sign(&claims(&user))).await;
        assert_eq!(first.body, second.body, "{}: the same row", backend.name());

        let changed = with(
            claims(&user),
            json!({ "email": "new@example.test", "metadata": { "role": "admin" } }),
        );
        let token = key_a().sign(&changed);
        let me = app
            .get(
                "/api/users/me",
                &[("Authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["email"], "new@example.test", "{}", backend.name());
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
}

#[tokio::test]
async fn fifty_concurrent_first_requests_make_one_row() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let app = app_on(&backend, &fake).await;
        let user = user_id();
        let token = key_a().sign(&claims(&user));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let client = app.client.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let response = client
                    .get("/api/users/clerk-test/")
                    .header(rocket::http::Header::new(
                        "Authorization",
                        format!("Bearer {token}"),
                    ))
                    .dispatch()
                    .await;
                (
                    response.status().code,
                    response.into_string().await.unwrap_or_default(),
                )
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, 200, "{}: {body}", backend.name());
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            ids.insert(body["user"]["id"].as_i64().unwrap());
        }
        assert_eq!(
            ids.len(),
            1,
            "{}: every answer names the same row",
            backend.name()
        );
        assert_eq!(
            app.count_users(&user).await,
            1,
            "{}: exactly one row",
            backend.name()
        );
    }
}

#[tokio::test]
async fn email_comes_from_the_backend_api_when_the_claim_is_absent() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let user = user_id();
        fake.serve_user(&user, "primary@example.test").await;
        let app = Settings::clerk(&fake)
            .on(&backend)
            .set("secret_key", "sk_test_abc")
            .start()
            .await;
        let token = key_a().sign(&with(claims(&user), json!({ "email": null })));
        let answer = app.bearer(&token).await;
        assert_eq!(answer.status, 200, "{}: {:?}", backend.name(), answer.body);
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
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    wiremock::Mock::given(wiremock::matchers::path_regex("^/v1/users/"))
        .respond_with(wiremock::ResponseTemplate::new(502))
        .mount(&fake.server)
        .await;
    let app = Settings::clerk(&fake)
        .set("secret_key", "sk_test_abc")
        .start()
        .await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "email": null })));
    let answer = app.bearer(&token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (503, "backend-api-unavailable")
    );
    assert!(answer.header("Retry-After").is_some());
}
