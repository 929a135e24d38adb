//! Machine clients: M2M tokens, OAuth access tokens and API keys, opaque (verified by the
//! Backend API, here the fake) and JWT (verified with the instance keys); which routes accept
//! which type; the cache bound; and what random tokens may cost.

use clerk_rocket::auth::{Any, ApiKeyOnly, Auth, MachineOnly, OAuthOnly, SessionOnly};
use clerk_rocket::clerk::machine::TokenType;
use rocket::serde::json::Json;
use serde_json::{json, Value};

use crate::common::*;

const SECRET_KEY: &str = "sk_test_machines";

#[rocket::get("/machine-only")]
fn machine_only(auth: Auth<MachineOnly>) -> Json<Value> {
    Json(json!({ "type": auth.object.token_type().name() }))
}

#[rocket::get("/api-key-only")]
fn api_key_only(auth: Auth<ApiKeyOnly>) -> Json<Value> {
    Json(json!({ "type": auth.object.token_type().name() }))
}

#[rocket::get("/oauth-only")]
fn oauth_only(auth: Auth<OAuthOnly>) -> Json<Value> {
    Json(json!({ "type": auth.object.token_type().name() }))
}

#[rocket::get("/session-only")]
fn session_only(auth: Auth<SessionOnly>) -> Json<Value> {
    Json(json!({ "type": auth.object.token_type().name() }))
}

#[rocket::get("/any")]
fn any(auth: Auth<Any>) -> Json<Value> {
    Json(json!({ "type": auth.object.token_type().name() }))
}

fn test_routes() -> Vec<rocket::Route> {
    rocket::routes![machine_only, api_key_only, oauth_only, session_only, any]
}

/// A fake Clerk and an app with a secret key (opaque tokens are verified) and the test routes.
async fn machine_app(
    backend: &Backend,
    configure: impl FnOnce(Settings) -> Settings,
) -> (FakeClerk, TestApp) {
    let backend = backend.clone();
    clerk_app_with(|settings| {
        configure(
            settings
                .on(&backend)
                .set("secret_key", SECRET_KEY)
                .mount(test_routes()),
        )
    })
    .await
}

/// One valid token of every type, opaque ones served by `fake`.
async fn tokens(fake: &FakeClerk) -> Vec<(TokenType, &'static str, String)> {
    let user = user_id();
    let mut tokens = vec![
        (
            TokenType::SessionToken,
            "session",
            key_a().sign(&claims(&user)),
        ),
        (
            TokenType::M2mToken,
            "jwt",
            key_a().sign_m2m(&m2m_claims("mch_caller", &["mch_server"])),
        ),
        (
            TokenType::OAuthToken,
            "jwt",
            key_a().sign_oauth(&oauth_claims(&user, "client_1", &["read"])),
        ),
    ];
    for (kind, subject) in [
        (TokenType::M2mToken, "mch_caller"),
        (TokenType::OAuthToken, user.as_str()),
        (TokenType::ApiKey, user.as_str()),
    ] {
        let token = opaque_token(kind);
        fake.serve_machine_token(kind, &token, verified_json(kind, subject, &["read"]))
            .await;
        tokens.push((kind, "opaque", token));
    }
    tokens
}

backend_tests!(each_type_is_accepted_where_allowed_and_refused_elsewhere);

async fn each_type_is_accepted_where_allowed_and_refused_elsewhere(backend: Backend) {
    let (fake, app) = machine_app(&backend, |s| s).await;
    let routes = [
        ("/api/test/session-only", TokenType::SessionToken),
        ("/api/test/machine-only", TokenType::M2mToken),
        ("/api/test/oauth-only", TokenType::OAuthToken),
        ("/api/test/api-key-only", TokenType::ApiKey),
    ];
    for (kind, form, token) in tokens(&fake).await {
        for (route, accepted) in routes {
            let answer = app.get_as(route, &token).await;
            if kind == accepted {
                assert_eq!(
                    answer.status, 200,
                    "{route} {form} {kind:?}: {:?}",
                    answer.body
                );
                assert_eq!(answer.body["type"], kind.name());
            } else {
                assert_eq!(
                    answer.status, 401,
                    "{route} {form} {kind:?}: {:?}",
                    answer.body
                );
                assert_eq!(
                    answer.code(),
                    "token-type-mismatch",
                    "{route} {form} {kind:?}"
                );
                let challenge = answer.header("WWW-Authenticate").unwrap_or_default();
                assert!(challenge.contains("token-type-mismatch"), "{challenge}");
            }
        }
        let answer = app.get_as("/api/test/any", &token).await;
        assert_eq!(answer.status, 200, "any {form} {kind:?}: {:?}", answer.body);
        assert_eq!(answer.body["type"], kind.name());
        // Every route that existed before accepts sessions only.
        for route in ["/api/users/me", "/api/users/clerk-test/"] {
            let answer = app.get_as(route, &token).await;
            if kind == TokenType::SessionToken {
                assert_eq!(answer.status, 200, "{route}: {:?}", answer.body);
            } else {
                assert_eq!(answer.status, 401, "{route} {form} {kind:?}");
                assert_eq!(
                    answer.code(),
                    "token-type-mismatch",
                    "{route} {form} {kind:?}"
                );
                assert!(answer.header("WWW-Authenticate").is_some());
            }
        }
    }
    // Nothing at all: a machine-only route asks for a header token.
    let answer = app.get("/api/test/machine-only", &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "session-token-missing");
}

backend_tests!(whoami_answers_the_auth_object_of_every_type);

async fn whoami_answers_the_auth_object_of_every_type(backend: Backend) {
    let (fake, app) = machine_app(&backend, |s| s).await;
    let user = user_id();
    let session = app
        .get_as("/api/whoami", &key_a().sign(&claims(&user)))
        .await;
    assert_eq!(session.status, 200, "{:?}", session.body);
    assert_eq!(session.body["token_type"], "session_token");
    assert_eq!(session.body["user_id"], user.as_str());
    assert_eq!(session.body["session_id"], format!("sess_{user}"));
    assert_eq!(session.body["machine_id"], Value::Null);
    assert_eq!(session.body["scopes"], json!([]));

    let m2m = app
        .get_as(
            "/api/whoami",
            &key_a().sign_m2m(&m2m_claims("mch_caller", &["mch_a", "mch_b"])),
        )
        .await;
    assert_eq!(m2m.status, 200, "{:?}", m2m.body);
    assert_eq!(m2m.body["token_type"], "m2m_token");
    assert_eq!(m2m.body["subject"], "mch_caller");
    assert_eq!(m2m.body["machine_id"], "mch_caller");
    assert_eq!(m2m.body["user_id"], Value::Null);
    assert_eq!(m2m.body["session_id"], Value::Null);
    assert_eq!(m2m.body["scopes"], json!(["mch_a", "mch_b"]));

    let oauth = app
        .get_as(
            "/api/whoami",
            &key_a().sign_oauth(&oauth_claims(&user, "client_9", &["email", "profile"])),
        )
        .await;
    assert_eq!(oauth.status, 200, "{:?}", oauth.body);
    assert_eq!(oauth.body["token_type"], "oauth_token");
    assert_eq!(oauth.body["user_id"], user.as_str());
    assert_eq!(oauth.body["client_id"], "client_9");
    assert_eq!(oauth.body["scopes"], json!(["email", "profile"]));

    let key = opaque_token(TokenType::ApiKey);
    let mut body = verified_json(TokenType::ApiKey, "org_acme", &["reports:read"]);
    body["name"] = json!("nightly export");
    fake.serve_machine_token(TokenType::ApiKey, &key, body)
        .await;
    let api_key = app.get_as("/api/whoami", &key).await;
    assert_eq!(api_key.status, 200, "{:?}", api_key.body);
    assert_eq!(api_key.body["token_type"], "api_key");
    assert_eq!(api_key.body["name"], "nightly export");
    assert_eq!(api_key.body["org_id"], "org_acme");
    assert_eq!(api_key.body["user_id"], Value::Null);
    assert_eq!(api_key.body["scopes"], json!(["reports:read"]));
    // The verify call carried the instance's secret key and the token under its own name.
    assert_eq!(
        fake.verify_keys(TokenType::ApiKey).await,
        [format!("Bearer {SECRET_KEY}")]
    );
}

#[tokio::test]
async fn machine_tokens_in_a_cookie_are_refused() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    let key = opaque_token(TokenType::ApiKey);
    fake.serve_machine_token(
        TokenType::ApiKey,
        &key,
        verified_json(TokenType::ApiKey, "user_x", &[]),
    )
    .await;
    let m2m = key_a().sign_m2m(&m2m_claims("mch_caller", &[]));
    for token in [key.as_str(), m2m.as_str()] {
        let cookie = browser_cookies(token);
        for route in [
            "/api/whoami",
            "/api/test/machine-only",
            "/api/test/api-key-only",
        ] {
            let answer = app.get(route, &[("Cookie", &cookie)]).await;
            assert_eq!(answer.status, 401, "{route}: {:?}", answer.body);
            // Clerk's cookie path: an opaque key is no JWT at all, an M2M JWT is another class.
            let expected = if token == key.as_str() {
                "token-invalid"
            } else {
                "token-type-mismatch"
            };
            assert!(
                [expected, "token-type-mismatch"].contains(&answer.code()),
                "{route}: {}",
                answer.code()
            );
        }
    }
    // The same key in the header works: the cookie was the problem.
    assert_eq!(app.get_as("/api/whoami", &key).await.status, 200);
    assert_eq!(
        fake.verify_calls(TokenType::ApiKey).await,
        1,
        "cookies never reach Clerk"
    );
}

#[tokio::test]
async fn revoked_or_expired_machine_tokens_are_refused_even_on_a_200() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    let past = (now() - 10) * 1000;
    for kind in [
        TokenType::ApiKey,
        TokenType::M2mToken,
        TokenType::OAuthToken,
    ] {
        let subject = if kind == TokenType::M2mToken {
            "mch_a"
        } else {
            "user_a"
        };
        for (change, code) in [
            (
                json!({ "revoked": true, "revocation_reason": "leaked" }),
                "token-revoked",
            ),
            (json!({ "expired": true }), "token-expired"),
            (json!({ "expiration": past }), "token-expired"),
        ] {
            let token = opaque_token(kind);
            let body = with(verified_json(kind, subject, &[]), change.clone());
            fake.serve_machine_token(kind, &token, body).await;
            let answer = app.get_as("/api/whoami", &token).await;
            assert_eq!(answer.status, 401, "{kind:?} {change}: {:?}", answer.body);
            assert_eq!(answer.code(), code, "{kind:?} {change}");
        }
    }
    // Unknown to Clerk (404).
    let answer = app
        .get_as("/api/whoami", &opaque_token(TokenType::ApiKey))
        .await;
    assert_eq!(answer.code(), "token-invalid");
}

/// Issue 20's weak answers: a verification answer that does not say the token is not revoked, or
/// names a subject of the wrong kind, is no acceptance.
#[tokio::test]
async fn odd_verification_answers_are_refused() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    for (kind, subject, wrong_subjects) in [
        (
            TokenType::M2mToken,
            "mch_a",
            vec!["user_a", "org_a", "mch_", "x"],
        ),
        (TokenType::OAuthToken, "user_a", vec!["mch_a", "org_a"]),
        (TokenType::ApiKey, "user_a", vec!["mch_a", "sess_a", ""]),
    ] {
        let peer = format!("192.0.2.{}:4711", kind as u8 + 1);
        let mut without_revoked = verified_json(kind, subject, &[]);
        without_revoked.as_object_mut().unwrap().remove("revoked");
        let mut null_revoked = verified_json(kind, subject, &[]);
        null_revoked["revoked"] = Value::Null;
        let mut bodies = vec![without_revoked, null_revoked];
        for wrong in wrong_subjects {
            bodies.push(verified_json(kind, wrong, &[]));
        }
        for body in bodies {
            let token = opaque_token(kind);
            fake.serve_machine_token(kind, &token, body.clone()).await;
            // A client of its own per kind: one client has 10 refused tokens a minute.
            let bearer = format!("Bearer {token}");
            let answer = app
                .get_from(&peer, "/api/whoami", &[("Authorization", &bearer)])
                .await;
            assert_eq!(
                (answer.status, answer.code()),
                (401, "token-verification-failed"),
                "{kind:?} {body}: {:?}",
                answer.body
            );
        }
        let token = opaque_token(kind);
        fake.serve_machine_token(kind, &token, verified_json(kind, subject, &[]))
            .await;
        let bearer = format!("Bearer {token}");
        assert_eq!(
            app.get_from(&peer, "/api/whoami", &[("Authorization", &bearer)])
                .await
                .status,
            200,
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_the_cache_bound() {
    let (fake, app) =
        machine_app(&Backend::Sqlite, |s| s.set("machine_token_cache_secs", "1")).await;
    let key = opaque_token(TokenType::ApiKey);
    let valid = verified_json(TokenType::ApiKey, "user_a", &[]);
    fake.serve_machine_token(TokenType::ApiKey, &key, valid.clone())
        .await;
    for _ in 0..3 {
        assert_eq!(app.get_as("/api/whoami", &key).await.status, 200);
    }
    assert_eq!(
        fake.verify_calls(TokenType::ApiKey).await,
        1,
        "kept, not asked again"
    );
    fake.serve_machine_token(
        TokenType::ApiKey,
        &key,
        with(valid, json!({ "revoked": true })),
    )
    .await;
    rocket::tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let answer = app.get_as("/api/whoami", &key).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    assert_eq!(answer.code(), "token-revoked");
    // The refusal is kept in turn.
    app.get_as("/api/whoami", &key).await;
    assert_eq!(fake.verify_calls(TokenType::ApiKey).await, 2);
}

#[tokio::test]
async fn random_opaque_tokens_spend_no_more_than_the_budget() {
    // A budget of 8 per 10 s: machine tokens may spend two fifths of it (3 calls).
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s.set("backend_api_budget", "8")).await;
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let answer = app
            .get_as("/api/whoami", &opaque_token(TokenType::ApiKey))
            .await;
        statuses.push((answer.status, answer.code().to_owned()));
    }
    // The share refills one call per 3.3 s: a slow machine may have earned a few more.
    let elapsed = started.elapsed();
    let allowed = 3 + usize::try_from(elapsed.as_millis() / 3_333).unwrap();
    let calls = fake.verify_calls(TokenType::ApiKey).await;
    assert!(calls <= allowed, "{calls} calls in {elapsed:?}");
    assert!(
        statuses.contains(&(401, "token-invalid".to_owned())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(503, "rate-limited".to_owned())),
        "a spent budget is a rate limit, not a refusal: {statuses:?}"
    );
    // A refused token is remembered: sending it again costs nothing.
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    let again = opaque_token(TokenType::ApiKey);
    assert_eq!(
        app.get_as("/api/whoami", &again).await.code(),
        "token-invalid"
    );
    let before = fake.verify_calls(TokenType::ApiKey).await;
    for _ in 0..5 {
        assert_eq!(
            app.get_as("/api/whoami", &again).await.code(),
            "token-invalid"
        );
    }
    assert_eq!(fake.verify_calls(TokenType::ApiKey).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_concurrent_look_ups_make_one_call() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    let key = opaque_token(TokenType::ApiKey);
    fake.serve_machine_token(
        TokenType::ApiKey,
        &key,
        verified_json(TokenType::ApiKey, "user_a", &[]),
    )
    .await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            let key = key.clone();
            rocket::tokio::spawn(async move { app.get_as("/api/whoami", &key).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(fake.verify_calls(TokenType::ApiKey).await, 1);
}

#[tokio::test]
async fn malformed_opaque_tokens_never_reach_the_backend_api() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    let long = format!("ak_{}", "a".repeat(300));
    for token in [
        "ak_short",
        "mt_tiny",
        "oat_a~b~c~d~e",
        "ak_a/b+c/d+e/f",
        long.as_str(),
    ] {
        let answer = app.get_as("/api/whoami", token).await;
        assert_eq!(answer.status, 401, "{token}: {:?}", answer.body);
        assert_eq!(answer.code(), "token-invalid", "{token}");
    }
    for kind in [
        TokenType::ApiKey,
        TokenType::M2mToken,
        TokenType::OAuthToken,
    ] {
        assert_eq!(fake.verify_calls(kind).await, 0, "{kind:?}");
    }
}

#[tokio::test]
async fn m2m_tokens_must_name_this_machine_when_it_has_an_id() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s.set("machine_id", "mch_me")).await;
    let jwt = |scopes: &[&str]| key_a().sign_m2m(&m2m_claims("mch_caller", scopes));
    assert_eq!(
        app.get_as("/api/whoami", &jwt(&["mch_other", "mch_me"]))
            .await
            .status,
        200
    );
    for token in [jwt(&["mch_other"]), jwt(&[])] {
        let answer = app.get_as("/api/whoami", &token).await;
        assert_eq!(answer.status, 401, "{:?}", answer.body);
        assert_eq!(answer.code(), "token-audience-mismatch");
    }
    for (scopes, status) in [(["mch_me"], 200), (["mch_other"], 401)] {
        let token = opaque_token(TokenType::M2mToken);
        fake.serve_machine_token(
            TokenType::M2mToken,
            &token,
            verified_json(TokenType::M2mToken, "mch_caller", &scopes),
        )
        .await;
        let answer = app.get_as("/api/whoami", &token).await;
        assert_eq!(answer.status, status, "{scopes:?}: {:?}", answer.body);
        if status == 401 {
            assert_eq!(answer.code(), "token-audience-mismatch");
        }
    }
    // Other types are not addressed to machines.
    let user = user_id();
    assert_eq!(
        app.get_as("/api/whoami", &key_a().sign(&claims(&user)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn m2m_verification_uses_the_machine_secret_key_when_set() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| {
        s.set("machine_secret_key", "ak_machine_secret_key")
    })
    .await;
    let m2m = opaque_token(TokenType::M2mToken);
    fake.serve_machine_token(
        TokenType::M2mToken,
        &m2m,
        verified_json(TokenType::M2mToken, "mch_a", &[]),
    )
    .await;
    let key = opaque_token(TokenType::ApiKey);
    fake.serve_machine_token(
        TokenType::ApiKey,
        &key,
        verified_json(TokenType::ApiKey, "user_a", &[]),
    )
    .await;
    assert_eq!(app.get_as("/api/whoami", &m2m).await.status, 200);
    assert_eq!(app.get_as("/api/whoami", &key).await.status, 200);
    assert_eq!(
        fake.verify_keys(TokenType::M2mToken).await,
        ["Bearer ak_machine_secret_key"]
    );
    assert_eq!(
        fake.verify_keys(TokenType::ApiKey).await,
        [format!("Bearer {SECRET_KEY}")]
    );
}

#[tokio::test]
async fn jwt_machine_tokens_pass_the_session_verifier_rules() {
    let (_fake, app) = machine_app(&Backend::Sqlite, |s| s).await;
    let base = m2m_claims("mch_caller", &[]);
    let cases = [
        (
            key_a().sign_m2m(&with(base.clone(), json!({ "exp": now() - 60 }))),
            "token-expired",
        ),
        (
            key_a().sign_m2m(&with(base.clone(), json!({ "iss": "https://evil.test" }))),
            "token-invalid-issuer",
        ),
        (
            key_a().sign_m2m(&with(base.clone(), json!({ "nbf": now() + 600 }))),
            "token-not-active-yet",
        ),
        (
            key_a().sign_m2m(&with(base.clone(), json!({ "exp": now() + 10 * 86_400 }))),
            "token-verification-failed",
        ),
        (key_b().sign_m2m(&base), "jwk-kid-mismatch"),
        (
            key_a().sign_with_header(&json!({ "cat": "cl_other" }), &base),
            "token-invalid",
        ),
        (
            key_a().sign_with_header(&json!({ "crit": ["exp"] }), &base),
            "token-invalid",
        ),
        (
            key_a().sign_oauth(&with(
                oauth_claims("user_a", "c", &[]),
                json!({ "exp": now() - 60 }),
            )),
            "token-expired",
        ),
    ];
    for (token, code) in cases {
        let answer = app.get_as("/api/whoami", &token).await;
        assert_eq!(answer.code(), code, "{:?}", answer.body);
        assert_ne!(answer.status, 200);
    }
}

#[tokio::test]
async fn the_openapi_document_declares_each_route_s_token_types() {
    let (_fake, app) = clerk_app().await;
    let doc = app.get("/api/openapi.json", &[]).await.body;
    let schemes = &doc["components"]["securitySchemes"];
    for name in ["m2m_token", "oauth_token", "api_key"] {
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    let names = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["security"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s.as_object().unwrap().keys().cloned())
            .collect()
    };
    assert_eq!(
        names("/api/whoami"),
        [
            "bearer",
            "session_cookie",
            "m2m_token",
            "oauth_token",
            "api_key"
        ]
    );
    assert_eq!(names("/api/orgs/current"), ["bearer", "session_cookie"]);
    assert_eq!(names("/api/users/me"), ["bearer", "session_cookie"]);
    let whoami = &doc["components"]["schemas"]["WhoAmI"]["properties"];
    for key in [
        "token_type",
        "subject",
        "user_id",
        "session_id",
        "org_id",
        "org_slug",
        "org_role",
        "org_permissions",
        "features",
        "scopes",
        "machine_id",
        "client_id",
        "name",
    ] {
        assert!(whoami.get(key).is_some(), "{key}");
    }
    assert!(doc["paths"]["/api/orgs/current"]["get"]["responses"]["404"].is_object());
}

#[tokio::test]
async fn jwt_machine_tokens_whose_key_left_the_jwks_are_refused_after_the_refresh() {
    let (fake, app) = machine_app(&Backend::Sqlite, |s| s.set("jwks_cache_secs", "1")).await;
    let tokens = [
        key_a().sign_m2m(&m2m_claims("mch_caller", &[])),
        key_a().sign_oauth(&oauth_claims(&user_id(), "client_1", &[])),
    ];
    for token in &tokens {
        assert_eq!(app.get_as("/api/whoami", token).await.status, 200);
    }
    fake.serve_jwks(&[key_b()]).await;
    // As for sessions: the kept verdict notices the stale set and refreshes it in the background.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for token in &tokens {
        loop {
            rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let answer = app.get_as("/api/whoami", token).await;
            if answer.status == 401 {
                assert_eq!(answer.code(), "jwk-kid-mismatch");
                break;
            }
            assert_eq!(answer.status, 200, "{:?}", answer.body);
            assert!(
                std::time::Instant::now() < deadline,
                "the removed key is still trusted"
            );
        }
    }
    let rotated = key_b().sign_m2m(&m2m_claims("mch_caller", &[]));
    assert_eq!(app.get_as("/api/whoami", &rotated).await.status, 200);
}

#[tokio::test]
async fn a_kept_jwt_machine_token_is_refused_at_its_exp() {
    let (_fake, app) = machine_app(&Backend::Sqlite, |s| s.set("clock_skew_secs", "0")).await;
    // Seconds enough to be verified and cached before exp on a slow machine.
    let exp = now() + 5;
    let token = key_a().sign_m2m(&with(m2m_claims("mch_caller", &[]), json!({ "exp": exp })));
    for _ in 0..2 {
        assert_eq!(app.get_as("/api/whoami", &token).await.status, 200);
    }
    // Without skew the server refuses once its `now()` (the same clock) reaches exp.
    while now() < exp {
        rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let answer = app.get_as("/api/whoami", &token).await;
    assert_eq!((answer.status, answer.code()), (401, "token-expired"));
}
