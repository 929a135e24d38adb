//! Tokens an attacker would try, one class per test (the hardening issue's classes 1–5): each is
//! refused with a 401, its reason code and `WWW-Authenticate`, and no user row is written.

use serde_json::{json, Value};

use crate::common::*;

/// Sends `token` as a Bearer token for a fresh user and checks the refusal.
async fn refused(app: &TestApp, user: &str, token: &str, code: &str, case: &str) {
    let answer = app.bearer(token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, code),
        "{case}: {:?}",
        answer.body
    );
    assert!(answer.header("WWW-Authenticate").is_some(), "{case}");
    assert_eq!(app.count_users(user).await, 0, "{case}: a row was written");
    assert_eq!(
        app.count_rows("users").await,
        0,
        "{case}: a row was written"
    );
}

#[tokio::test]
async fn header_parameters_we_do_not_understand_are_refused() {
    let (_fake, app) = clerk_app().await;
    for (name, value) in [
        ("crit", json!([])),
        ("crit", json!(["exp"])),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jwk", json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" })),
        ("x5c", json!(["MIIB"])),
        ("x5t", json!("abc")),
        ("b64", json!(false)),
        ("zip", json!("DEF")),
        ("cty", json!("JWT")),
        ("enc", json!("A128GCM")),
    ] {
        let user = user_id();
        let token = key_a().sign_with_header(&json!({ name: value }), &claims(&user));
        refused(&app, &user, &token, "token-invalid", name).await;
    }
}

#[tokio::test]
async fn registered_claims_of_the_wrong_type_or_range_are_refused() {
    let (_fake, app) = clerk_app().await;
    let now = now();
    let failed = "token-verification-failed";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "string nbf",
            json!({ "nbf": (now - 10).to_string() }),
            failed,
        ),
        ("string iat", json!({ "iat": now.to_string() }), failed),
        (
            "string exp",
            json!({ "exp": (now + 60).to_string() }),
            failed,
        ),
        ("exp beyond i64", json!({ "exp": 1e20 }), failed),
        ("exp u64::MAX", json!({ "exp": u64::MAX }), failed),
        ("negative iat", json!({ "iat": -1 }), failed),
        ("boolean exp", json!({ "exp": true }), failed),
        ("sub with a NUL", json!({ "sub": "user_a\u{0}b" }), failed),
        (
            "sub with a bidi override",
            json!({ "sub": "user_a\u{202e}b" }),
            failed,
        ),
        (
            "sub with SQL",
            json!({ "sub": "user_x' OR '1'='1" }),
            failed,
        ),
        ("non-ASCII sub", json!({ "sub": "user_é" }), failed),
        (
            "long sub",
            json!({ "sub": format!("user_{}", "a".repeat(300)) }),
            failed,
        ),
        ("numeric sub", json!({ "sub": 42 }), failed),
        ("sid not a session id", json!({ "sid": "x" }), failed),
        ("sid an object", json!({ "sid": {} }), failed),
        (
            "iss a list",
            json!({ "iss": [format!("https://{ISSUER_HOST}")] }),
            "token-invalid-issuer",
        ),
        (
            "azp a number",
            json!({ "azp": 1 }),
            "token-invalid-authorized-parties",
        ),
        ("sts a number", json!({ "sts": 1 }), failed),
    ];
    for (case, changes, code) in cases {
        let user = user_id();
        let mut body = with(claims(&user), changes.clone());
        // Ids that are themselves the attack replace the fresh user's id; keep counting that one.
        if changes.get("sub").is_none() {
            body["sub"] = json!(user);
        }
        refused(&app, &user, &key_a().sign(&body), code, case).await;
    }
}

#[tokio::test]
async fn a_token_made_for_another_audience_is_refused() {
    let (_fake, app) = clerk_app().await;
    for aud in [json!("https://other.example"), json!(["a", "b"]), json!("")] {
        let user = user_id();
        let token = key_a().sign(&with(claims(&user), json!({ "aud": aud })));
        refused(
            &app,
            &user,
            &token,
            "token-verification-failed",
            &aud.to_string(),
        )
        .await;
    }
}

#[tokio::test]
async fn lifetimes_beyond_the_maximum_are_refused() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let day_and_more = with(claims(&user), json!({ "exp": now() + 86_400 + 60 }));
    refused(
        &app,
        &user,
        &key_a().sign(&day_and_more),
        "token-verification-failed",
        "default",
    )
    .await;

    let (_fake, strict) =
        clerk_app_with(|settings| settings.set("max_token_lifetime_secs", "120")).await;
    let user = user_id();
    let five_minutes = with(claims(&user), json!({ "exp": now() + 300 }));
    refused(
        &strict,
        &user,
        &key_a().sign(&five_minutes),
        "token-verification-failed",
        "120 s",
    )
    .await;
    assert_eq!(
        strict
            .bearer(&key_a().sign(&claims(&user_id())))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_authorization_header_is_read_strictly() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let good = key_a().sign(&claims(&user));
    for (case, headers) in [
        (
            "two Authorization headers",
            vec![
                ("Authorization", format!("Bearer {good}")),
                ("Authorization", format!("Bearer {good}")),
            ],
        ),
        (
            "two spaces",
            vec![("Authorization", format!("Bearer  {good}"))],
        ),
        ("a tab", vec![("Authorization", format!("Bearer\t{good}"))]),
        (
            "a trailing word",
            vec![("Authorization", format!("Bearer {good} extra"))],
        ),
        (
            "a quoted token",
            vec![("Authorization", format!("Bearer \"{good}\""))],
        ),
        ("no scheme", vec![("Authorization", good.clone())]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = app.get("/api/users/clerk-test/", &headers).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, "token-invalid"),
            "{case}"
        );
        assert!(answer.header("WWW-Authenticate").is_some(), "{case}");
    }
    assert_eq!(app.count_users(&user).await, 0);
    assert_eq!(
        app.get(
            "/api/users/clerk-test/",
            &[("Authorization", &format!("BEARER {good}"))]
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn when_a_cookie_name_repeats_the_first_one_counts() {
    let (_fake, app) = clerk_app().await;
    let good = key_a().sign(&claims(&user_id()));
    let bad = key_b().sign_with_header(&json!({ "kid": key_a().kid }), &claims(&user_id()));
    let first_good = app
        .get(
            "/api/users/clerk-test/",
            &[(
                "Cookie",
                &format!(
                    "__session={good}; __session={bad}; __client_uat=1; __clerk_db_jwt=dvb_test"
                ),
            )],
        )
        .await;
    assert_eq!(first_good.status, 200);
    let first_bad = app
        .get(
            "/api/users/clerk-test/",
            &[(
                "Cookie",
                &format!(
                    "__session={bad}; __session={good}; __client_uat=1; __clerk_db_jwt=dvb_test"
                ),
            )],
        )
        .await;
    assert_eq!(
        (first_bad.status, first_bad.code()),
        (401, "token-invalid-signature")
    );
}

/// Whether every header of `answer` and its JSON message hold printable ASCII only.
fn printable_answer(answer: &Answer) -> Result<(), String> {
    let printable = |text: &str| text.bytes().all(|b| matches!(b, b' '..=b'~'));
    for (name, value) in &answer.headers {
        if !printable(value) {
            return Err(format!("{name}: {value:?}"));
        }
    }
    let message = answer.body["error"]["message"].as_str().unwrap_or("");
    for bad in ['\r', '\n', '\u{0}', '\u{202e}', 'é'] {
        if message.contains(bad) {
            return Err(format!("message: {message:?}"));
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_token_s_own_text_comes_back_as_printable_ascii_only() {
    let (_fake, app) = clerk_app().await;
    for name in [
        "x\r\nSet-Cookie: owned=1",
        "x\nX-Injected: 1",
        "\u{0}nul",
        "bidi\u{202e}txt",
        "é",
    ] {
        let user = user_id();
        let token = key_a().sign_with_header(&json!({ name: 1 }), &claims(&user));
        let answer = app.bearer(&token).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, "token-invalid"),
            "{name:?}"
        );
        let challenge = answer.header("WWW-Authenticate").unwrap_or_default();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name:?}: {challenge}"
        );
        if let Err(found) = printable_answer(&answer) {
            panic!("{name:?} came back as {found}");
        }
        assert!(answer.header("X-Injected").is_none() && answer.set_cookie("owned").is_none());
        assert_eq!(app.count_users(&user).await, 0, "{name:?}");
    }
}
