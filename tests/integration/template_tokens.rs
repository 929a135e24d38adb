//! `GET /api/tokens/<template>`: tokens of a JWT template for the signed-in session, minted by
//! the Backend API and kept until shortly before they expire; in local mode, signed here.

use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

/// A JWT-shaped answer of Clerk's: only its `exp` is read here.
fn minted(exp: i64) -> String {
    key_b().sign(&json!({ "sub": "user_x", "exp": exp, "aud": "supabase" }))
}

async fn app_with_secret() -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| settings.set("secret_key", "sk_test_templates")).await
}

#[tokio::test]
async fn a_template_token_is_minted_by_clerk_for_the_session_and_kept_until_near_its_expiry() {
    let (fake, app) = app_with_secret().await;
    let user = user_id();
    let sid = format!("sess_{user}");
    let jwt = minted(now() + 3600);
    Mock::given(method("POST"))
        .and(path(format!("/v1/sessions/{sid}/tokens/supabase")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "object": "token", "jwt": jwt })),
        )
        .mount(&fake.server)
        .await;
    let token = key_a().sign(&claims(&user));

    let first = app.get_as("/api/tokens/supabase", &token).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["jwt"], jwt.as_str());
    assert_eq!(first.body["object"], "token");
    assert_eq!(first.body["template"], "supabase");
    assert!(first.body["expires_at"].as_i64().unwrap() > now() + 3000);
    assert_eq!(first.header("cache-control"), Some("no-store"));

    let again = app.get_as("/api/tokens/supabase", &token).await;
    assert_eq!(again.body["jwt"], jwt.as_str());
    let calls = format!("/v1/sessions/{sid}/tokens/supabase");
    assert_eq!(
        fake.hits(&calls).await,
        1,
        "the second answer is the kept token"
    );

    // Another session of the same user gets its own token.
    let other = key_a().sign(&with(claims(&user), json!({ "sid": "sess_other" })));
    Mock::given(method("POST"))
        .and(path("/v1/sessions/sess_other/tokens/supabase"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "object": "token", "jwt": minted(now() + 60) })),
        )
        .mount(&fake.server)
        .await;
    let theirs = app.get_as("/api/tokens/supabase", &other).await;
    assert_eq!(theirs.status, 200, "{:?}", theirs.body);
    assert_ne!(theirs.body["jwt"], jwt.as_str());
}

#[tokio::test]
async fn a_lifetime_is_sent_to_clerk_and_a_token_about_to_expire_is_minted_again() {
    let (fake, app) = app_with_secret().await;
    let user = user_id();
    let sid = format!("sess_{user}");
    // Clerk answers a token already inside the renewal margin: never kept.
    Mock::given(method("POST"))
        .and(path(format!("/v1/sessions/{sid}/tokens/hasura")))
        .and(body_json(json!({ "expires_in_seconds": 45 })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "object": "token", "jwt": minted(now() + 5) })),
        )
        .mount(&fake.server)
        .await;
    let token = key_a().sign(&claims(&user));
    for _ in 0..2 {
        let answer = app
            .get_as("/api/tokens/hasura?expires_in_seconds=45", &token)
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let calls = format!("/v1/sessions/{sid}/tokens/hasura");
    assert_eq!(
        fake.hits(&calls).await,
        2,
        "a nearly expired token is not kept"
    );
}

#[tokio::test]
async fn bad_names_lifetimes_unknown_templates_and_clerk_failures_get_clear_answers() {
    let (fake, app) = app_with_secret().await;
    let user = user_id();
    let sid = format!("sess_{user}");
    let token = key_a().sign(&claims(&user));
    Mock::given(method("POST"))
        .and(path(format!("/v1/sessions/{sid}/tokens/nosuch")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errors": [{ "code": "resource_not_found", "message": "not found" }]
        })))
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/sessions/{sid}/tokens/broken")))
        .respond_with(ResponseTemplate::new(500))
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/sessions/{sid}/tokens/garbled")))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"jwt\": 7}"))
        .mount(&fake.server)
        .await;

    let cases = [
        ("/api/tokens/nosuch", 404, "jwt-template-not-found"),
        ("/api/tokens/broken", 502, "clerk-backend-api-error"),
        ("/api/tokens/garbled", 502, "clerk-backend-api-error"),
        ("/api/tokens/a%20b", 400, "bad-request"),
        ("/api/tokens/..", 400, "bad-request"),
        ("/api/tokens/%2E%2E", 400, "bad-request"),
        ("/api/tokens/a%2Fb", 400, "bad-request"),
        (
            &format!("/api/tokens/{}", "a".repeat(65)),
            400,
            "bad-request",
        ),
        ("/api/tokens/ok?expires_in_seconds=29", 400, "bad-request"),
        ("/api/tokens/ok?expires_in_seconds=-1", 400, "bad-request"),
        ("/api/tokens/ok?expires_in_seconds=x", 400, "bad-request"),
        (
            "/api/tokens/ok?expires_in_seconds=99999999999",
            400,
            "bad-request",
        ),
    ];
    for (uri, status, code) in cases {
        let answer = app.get_as(uri, &token).await;
        assert_eq!(answer.status, status, "{uri}: {:?}", answer.body);
        assert_eq!(answer.code(), code, "{uri}");
    }
    // Nothing malformed reached Clerk.
    let reached: Vec<String> = fake
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.contains("/tokens/"))
        .collect();
    assert_eq!(reached.len(), 3, "{reached:?}");

    // Signed out, or a machine credential: no template token.
    assert_eq!(app.get("/api/tokens/nosuch", &[]).await.status, 401);
}

#[tokio::test]
async fn without_a_secret_key_clerk_mode_says_the_backend_api_is_not_configured() {
    let (_fake, app) = clerk_app().await;
    let token = key_a().sign(&claims(&user_id()));
    let answer = app.get_as("/api/tokens/supabase", &token).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.code(), "backend-api-not-configured");
}

#[tokio::test]
async fn local_mode_signs_template_tokens_that_its_own_jwks_verifies() {
    let dir = scratch_dir();
    let key_file = dir.join("local.pem");
    let app = Settings::local(&key_file).start().await;
    let issuer = clerk_rocket::clerk::local::LocalIssuer::load_or_create(&key_file).unwrap();
    let user = clerk_rocket::clerk::local::LocalUser {
        email: "you@example.com".into(),
        ..Default::default()
    };
    let session = issuer.mint(&user, "http://localhost:8000", 60);
    let answer = app
        .get_as("/api/tokens/convex?expires_in_seconds=600", &session)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let jwt = answer.body["jwt"].as_str().unwrap();
    let claims = clerk_rocket::clerk::token::unverified_claims(jwt).unwrap();
    assert_eq!(claims["tpl"], "convex");
    assert_eq!(
        claims["sub"],
        clerk_rocket::clerk::local::user_id_for("you@example.com")
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 600);
    // Signed with the key the JWKS publishes.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[clerk_rocket::config::LOCAL_ISSUER]);
    let decoded =
        jsonwebtoken::decode::<serde_json::Value>(jwt, &issuer.decoding_key(), &validation);
    assert!(decoded.is_ok(), "{decoded:?}");
}

#[tokio::test]
async fn one_session_cannot_spend_the_backend_api_on_new_lifetimes() {
    let (fake, app) = app_with_secret().await;
    let user = user_id();
    let sid = format!("sess_{user}");
    Mock::given(method("POST"))
        .and(path(format!("/v1/sessions/{sid}/tokens/supabase")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "object": "token", "jwt": minted(now() + 3600) })),
        )
        .mount(&fake.server)
        .await;
    let token = key_a().sign(&claims(&user));
    let limit = clerk_rocket::clerk::template_tokens::MINTS_PER_SESSION;
    for secs in 0..limit {
        let uri = format!("/api/tokens/supabase?expires_in_seconds={}", 100 + secs);
        assert_eq!(app.get_as(&uri, &token).await.status, 200, "{uri}");
    }
    let over = app
        .get_as("/api/tokens/supabase?expires_in_seconds=999", &token)
        .await;
    assert_eq!(over.status, 503, "{:?}", over.body);
    assert_eq!(over.code(), "rate-limited");
    assert!(over.header("retry-after").is_some());
    let calls = format!("/v1/sessions/{sid}/tokens/supabase");
    assert_eq!(
        fake.hits(&calls).await,
        limit as usize,
        "the extra one never reached Clerk"
    );
    // A kept token is still answered: only new mints count.
    let kept = app
        .get_as("/api/tokens/supabase?expires_in_seconds=100", &token)
        .await;
    assert_eq!(kept.status, 200);
}
