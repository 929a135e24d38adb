//! Local mode: the app as its own issuer, with the same verifier as for Clerk.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn local_tokens_round_trip() {
    let dir = scratch_dir();
    let key_file = dir.join("keys/local.pem");
    let app = Settings::local(&key_file).start().await;
    assert!(key_file.exists(), "the key is created on first start");

    let issuer = clerk_rocket::clerk::local::LocalIssuer::load_or_create(&key_file).unwrap();
    let user = clerk_rocket::clerk::local::LocalUser {
        email: "you@example.com".into(),
        ..Default::default()
    };
    let token = issuer.mint(&user, "http://localhost:8000", 60);
    let answer = app.bearer(&token).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["user"]["email"], "you@example.com");
    assert_eq!(
        answer.body["user"]["clerk_id"],
        clerk_rocket::clerk::local::user_id_for("you@example.com")
    );

    let jwks = app.get("/.well-known/jwks.json", &[]).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.body["keys"][0]["kid"], "local-dev");
    assert_eq!(jwks.body["keys"][0]["kty"], "RSA");
    assert!(
        jwks.body["keys"][0].get("d").is_none(),
        "no private part is published"
    );

    // Tokens of another key, or of Clerk's shape but another issuer, are refused.
    let foreign = key_a().sign(&with(
        claims(&user_id()),
        json!({ "iss": clerk_rocket::config::LOCAL_ISSUER }),
    ));
    assert_eq!(app.bearer(&foreign).await.code(), "token-invalid-signature");

    let admin = clerk_rocket::clerk::local::LocalUser {
        email: "boss@example.com".into(),
        admin: true,
        ..Default::default()
    };
    let me = app
        .get_as("/api/users/me", &issuer.mint(&admin, "x", 60))
        .await;
    assert_eq!(me.body["role"], "admin");
}

#[tokio::test]
async fn jwks_route_is_absent_outside_local_mode() {
    let (_fake, app) = clerk_app().await;
    assert_eq!(app.get("/.well-known/jwks.json", &[]).await.status, 404);
}

#[tokio::test]
async fn the_key_survives_a_restart() {
    let dir = scratch_dir();
    let key_file = dir.join("local.pem");
    let first = Settings::local(&key_file).start().await;
    let issuer = clerk_rocket::clerk::local::LocalIssuer::load_or_create(&key_file).unwrap();
    let token = issuer.mint(
        &clerk_rocket::clerk::local::LocalUser {
            email: "a@b.test".into(),
            ..Default::default()
        },
        "x",
        60,
    );
    assert_eq!(first.bearer(&token).await.status, 200);
    let second = Settings::local(&key_file).start().await;
    assert_eq!(
        second.bearer(&token).await.status,
        200,
        "tokens outlive a restart"
    );
}

#[test]
fn processes_racing_to_create_the_key_agree_on_one() {
    // The server and `clerk-rocket token` may both start on a fresh checkout.
    let key_file = scratch_dir().join("race/local.pem");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let key_file = key_file.clone();
            std::thread::spawn(move || {
                clerk_rocket::clerk::local::LocalIssuer::load_or_create(&key_file).map(|i| i.jwks())
            })
        })
        .collect();
    let sets: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("every caller gets the key"))
        .collect();
    let first = serde_json::to_value(&sets[0]).unwrap();
    for set in &sets[1..] {
        assert_eq!(
            serde_json::to_value(set).unwrap(),
            first,
            "one key, whoever made it"
        );
    }
    let leftovers = std::fs::read_dir(key_file.parent().unwrap())
        .unwrap()
        .count();
    assert_eq!(leftovers, 1, "no temporary files left behind");
}
