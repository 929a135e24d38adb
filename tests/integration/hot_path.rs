//! The caches of the request path are never wrong for longer than they promise: a verdict never
//! outlives its token or its key, a user row never outlives a webhook received here, and another
//! instance catches up within the 5-second bound.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// How long another instance may serve what it knew: the rows' bound, and a margin for a slow
/// machine.
const OTHER_INSTANCE_BOUND: Duration = Duration::from_secs(5 + 3);

#[tokio::test]
async fn an_expired_token_is_refused_even_when_its_verdict_is_cached() {
    let (_fake, app) = clerk_app_with(|settings| settings.set("clock_skew_secs", "0")).await;
    // Seconds enough to be verified and cached before exp on a slow machine.
    let exp = now() + 5;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": exp })));
    assert_eq!(app.bearer(&token).await.status, 200);
    assert_eq!(
        app.bearer(&token).await.status,
        200,
        "served from the cache"
    );
    // Without skew the server refuses once its `now()` (the same clock) reaches exp.
    while now() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = app.bearer(&token).await;
    assert_eq!((answer.status, answer.code()), (401, "token-expired"));
}

#[tokio::test]
async fn a_token_whose_key_left_the_jwks_is_refused_after_the_refresh() {
    let (fake, app) = clerk_app_with(|settings| settings.set("jwks_cache_secs", "1")).await;
    let token = key_a().sign(&claims(&user_id()));
    assert_eq!(app.bearer(&token).await.status, 200);
    fake.serve_jwks(&[key_b()]).await;
    // The cached verdict notices the stale set and refreshes it in the background.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answer = app.bearer(&token).await;
        if answer.status == 401 {
            assert_eq!(answer.code(), "jwk-kid-mismatch");
            break;
        }
        assert_eq!(answer.status, 200);
        assert!(
            Instant::now() < deadline,
            "the removed key is still trusted"
        );
    }
    assert_eq!(
        app.bearer(&key_b().sign(&claims(&user_id()))).await.status,
        200
    );
}

#[tokio::test]
async fn a_refused_token_is_refused_again_from_memory() {
    let (_fake, app) = clerk_app().await;
    let forged = key_b().sign_with_header(&json!({ "kid": key_a().kid }), &claims(&user_id()));
    for _ in 0..3 {
        let answer = app.bearer(&forged).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, "token-invalid-signature")
        );
    }
}

backend_tests!(
    a_webhook_change_is_served_on_the_next_request_here,
    bans_deletions_and_revocations_reach_another_instance_within_the_bound,
);

async fn two_instances(backend: &Backend) -> (FakeClerk, TestApp, TestApp) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let receiver = Settings::clerk(&fake)
        .on(backend)
        .with_webhook_secret()
        .start()
        .await;
    let other = Settings::clerk(&fake)
        .on_database(&receiver.database_url)
        .with_webhook_secret()
        .start()
        .await;
    (fake, receiver, other)
}

async fn a_webhook_change_is_served_on_the_next_request_here(backend: Backend) {
    let (_fake, app, _other) = two_instances(&backend).await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    assert_eq!(
        app.get_as("/api/users/me", &token).await.body["first_name"],
        json!(null)
    );
    let mut changed = clerk_user(&user, &format!("{user}@example.test"), (now() - 1) * 1000);
    changed["first_name"] = json!("Grace");
    let delivered = app
        .deliver(
            &unique("msg"),
            &clerk_event("user.updated", changed.clone()),
        )
        .await;
    assert_eq!(delivered.status, 200);
    assert_eq!(
        app.get_as("/api/users/me", &token).await.body["first_name"],
        "Grace"
    );

    changed["banned"] = json!(true);
    changed["updated_at"] = json!(now() * 1000);
    app.deliver(&unique("msg"), &clerk_event("user.updated", changed))
        .await;
    let refused = app.bearer(&token).await;
    assert_eq!((refused.status, refused.code()), (403, "user-banned"));
}

async fn bans_deletions_and_revocations_reach_another_instance_within_the_bound(backend: Backend) {
    let (_fake, receiver, other) = two_instances(&backend).await;
    let [banned, deleted, revoked] = [user_id(), user_id(), user_id()];
    let tokens: Vec<String> = [&banned, &deleted, &revoked]
        .iter()
        .map(|user| key_a().sign(&claims(user)))
        .collect();
    for token in &tokens {
        assert_eq!(receiver.bearer(token).await.status, 200);
        assert_eq!(other.bearer(token).await.status, 200, "now cached there");
    }

    let mut ban = clerk_user(&banned, &format!("{banned}@example.test"), now() * 1000);
    ban["banned"] = json!(true);
    let session = json!({ "id": format!("sess_{revoked}"), "object": "session",
                          "user_id": revoked, "status": "revoked",
                          "expire_at": (now() + 3600) * 1000 });
    for event in [
        clerk_event("user.updated", ban),
        clerk_event(
            "user.deleted",
            json!({ "id": deleted, "object": "user", "deleted": true }),
        ),
        clerk_event("session.revoked", session),
    ] {
        assert_eq!(receiver.deliver(&unique("msg"), &event).await.status, 200);
    }
    let expected = [
        (403, "user-banned"),
        (401, "user-deleted"),
        (401, "session-revoked"),
    ];
    for (token, (status, code)) in tokens.iter().zip(expected) {
        let here = receiver.bearer(token).await;
        assert_eq!(
            (here.status, here.code()),
            (status, code),
            "at once where received"
        );
    }
    let since = Instant::now();
    for (token, (status, code)) in tokens.iter().zip(expected) {
        loop {
            let there = other.bearer(token).await;
            if there.status == status {
                assert_eq!(there.code(), code);
                break;
            }
            assert_eq!(there.status, 200);
            assert!(
                since.elapsed() < OTHER_INSTANCE_BOUND,
                "{code}: still served by the other instance after {:?}",
                since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
