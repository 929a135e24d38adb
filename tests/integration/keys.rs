//! The key store against a fake Clerk: rotation, outages, PEM mode.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

const JWKS: &str = "/.well-known/jwks.json";

/// Waits until the launch warm-up has fetched the JWKS `n` times.
async fn wait_for_hits(fake: &FakeClerk, n: usize) {
    for _ in 0..100 {
        if fake.hits(JWKS).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the JWKS was fetched {} times, expected {n}",
        fake.hits(JWKS).await
    );
}

#[tokio::test]
async fn keys_are_fetched_once_and_cached() {
    let (fake, app) = clerk_app().await;
    app.ready().await;
    for _ in 0..5 {
        assert_eq!(
            app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
            200
        );
    }
    assert_eq!(
        fake.hits(JWKS).await,
        1,
        "one fetch at launch serves every request"
    );
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_rotation_is_picked_up() {
    let (fake, app) = clerk_app().await;
    app.ready().await;

    // Clerk rotates: the JWKS now holds key B as well.
    fake.serve_jwks(&[key_a(), key_b()]).await;
    let rotated = key_b().sign(&claims(&user_id()));
    assert_eq!(
        app.bearer(&rotated).await.status,
        200,
        "the unknown kid triggered a refetch"
    );
    assert_eq!(fake.hits(JWKS).await, 2);

    // A flood of unknown kids within the cooldown costs no more fetches.
    let stranger = key_b().sign_with_header(&json!({ "kid": "ins_unknown" }), &claims(&user_id()));
    for _ in 0..10 {
        let answer = app.bearer(&stranger).await;
        assert_eq!((answer.status, answer.code()), (401, "jwk-kid-mismatch"));
    }
    assert_eq!(fake.hits(JWKS).await, 2, "at most one refetch per cooldown");
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        200,
        "old key still served"
    );
}

#[tokio::test]
async fn concurrent_unknown_kids_make_one_fetch() {
    let (fake, app) = clerk_app_with(|settings| settings.set("jwks_cooldown_secs", "0")).await;
    app.ready().await;
    fake.serve_jwks(&[key_a(), key_b()]).await;
    let token = key_b().sign(&claims(&user_id()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.bearer(&token).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        fake.hits(JWKS).await,
        2,
        "waiters share the fetch in flight"
    );
}

#[tokio::test]
async fn jwks_down_at_start_gives_503_then_recovers() {
    let fake = FakeClerk::start().await; // serves nothing yet: every JWKS fetch gets 404
    let app = Settings::clerk(&fake).start().await;
    wait_for_hits(&fake, 1).await;

    let token = key_a().sign(&claims(&user_id()));
    let answer = app.bearer(&token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (503, "jwk-remote-failed-to-load")
    );
    assert!(
        answer
            .header("Retry-After")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let ready = app.get("/ready", &[]).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["missing"], json!(["keys"]));

    fake.serve_jwks(&[key_a()]).await;
    app.ready().await; // the launch warm-up keeps retrying: ready without any request
    assert_eq!(
        app.bearer(&token).await.status,
        200,
        "recovered once Clerk answers again"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_keys() {
    // Cache time 0: every request finds the set stale and refreshes in the background.
    let (fake, app) = clerk_app_with(|settings| settings.set("jwks_cache_secs", "0")).await;
    app.ready().await;
    fake.server.reset().await; // Clerk goes down
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        assert_eq!(
            app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
            200
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fake.hits(JWKS).await,
        1,
        "one refresh was attempted, not one per request"
    );
}

#[tokio::test]
async fn odd_jwks_entries_do_not_hide_good_ones() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks_body(json!({ "keys": [
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        { "kty": "RSA", "kid": "broken", "n": "***", "e": "AQAB" },
        "not even an object",
        key_a().jwk,
    ]}))
    .await;
    let app = Settings::clerk(&fake).start().await;
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        200
    );
}

#[tokio::test]
async fn oversized_jwks_is_refused() {
    let fake = FakeClerk::start().await;
    let padding = "x".repeat(300 * 1024);
    fake.serve_jwks_body(json!({ "keys": [key_a().jwk], "padding": padding }))
        .await;
    let app = Settings::clerk(&fake).start().await;
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        503
    );
}

#[tokio::test]
async fn pem_mode_needs_no_network() {
    // The JWKS URL points at a closed port: PEM mode must never try it.
    let fake = FakeClerk::start().await;
    let app = Settings::clerk(&fake)
        .set("jwks_url", "http://127.0.0.1:9/.well-known/jwks.json")
        .set("jwt_key", &key_a().public_pem)
        .start()
        .await;
    let answer = app.bearer(&key_a().sign(&claims(&user_id()))).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        app.bearer(&key_b().sign(&claims(&user_id()))).await.code(),
        "token-invalid-signature"
    );
    assert_eq!(app.get("/ready", &[]).await.status, 200);
    assert_eq!(fake.server.received_requests().await.unwrap().len(), 0);
}

#[tokio::test]
async fn backend_api_jwks_is_the_fallback_with_a_secret_key() {
    let fake = FakeClerk::start().await;
    let body = json!({ "keys": [key_a().jwk] });
    wiremock::Mock::given(wiremock::matchers::path("/v1/jwks"))
        .and(wiremock::matchers::bearer_token("sk_test_fallback"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(body))
        .mount(&fake.server)
        .await;
    let app = Settings::clerk(&fake)
        .set("secret_key", "sk_test_fallback")
        .start()
        .await;
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        200
    );
    assert!(fake.hits("/v1/jwks").await >= 1);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_within_seconds_during_a_flood_of_unknown_kids() {
    let (fake, app) = clerk_app().await;
    app.ready().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The flood's whole window, measured rather than summed from sleeps (which oversleep).
    let t0 = std::time::Instant::now();
    let flood = {
        let (app, stop) = (app.clone(), std::sync::Arc::clone(&stop));
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let kid = json!({ "kid": unique("ins_random") });
                let answer = app
                    .bearer(&key_b().sign_with_header(&kid, &claims(&user_id())))
                    .await;
                assert_eq!(answer.code(), "jwk-kid-mismatch");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let started = std::time::Instant::now();
    fake.serve_jwks(&[key_a(), key_b()]).await;
    let rotated = key_b().sign(&claims(&user_id()));
    loop {
        if app.bearer(&rotated).await.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(5_500),
            "the rotated key is still refused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.await.unwrap();
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        200,
        "valid traffic unaffected"
    );
    // One fetch at start, then at most one per 5 s cooldown: at most 12 a minute.
    let window_ms = t0.elapsed().as_millis();
    let allowed = 1 + usize::try_from(window_ms.div_ceil(5_000)).unwrap();
    let fetches = fake.hits(JWKS).await;
    assert!(fetches <= allowed, "{fetches} fetches in {window_ms} ms");
}
