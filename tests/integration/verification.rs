//! Token sources and claim checks, through `/api/users/clerk-test/`.

use base64::Engine as _;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn header_and_cookie_are_accepted() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));

    let by_header = app.bearer(&token).await;
    assert_eq!(by_header.status, 200, "{:?}", by_header.body);
    assert_eq!(
        by_header.body["message"],
        "Clerk authentication successful!"
    );
    assert_eq!(by_header.body["user"]["clerk_id"], user.as_str());
    assert_eq!(
        by_header.body["user"]["email"],
        format!("{user}@example.test")
    );
    assert_eq!(
        by_header.body["user"]["username"],
        format!("{user}@example.test")
    );
    assert!(by_header.body["user"]["id"].as_i64().unwrap() > 0);
    let keys: Vec<_> = by_header.body["user"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        ["clerk_id", "email", "id", "username"],
        "the seed's four fields, no more"
    );

    let by_cookie = app.cookie(&token).await;
    assert_eq!(by_cookie.status, 200);
    assert_eq!(by_cookie.body, by_header.body);

    let lower = app
        .get(
            "/api/users/clerk-test",
            &[("Authorization", &format!("bearer {token}"))],
        )
        .await;
    assert_eq!(
        lower.status, 200,
        "scheme is case-insensitive, final slash optional"
    );
}

#[tokio::test]
async fn header_wins_over_cookie_and_never_falls_back() {
    let (_fake, app) = clerk_app().await;
    let good = key_a().sign(&claims(&user_id()));
    let expired = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 100 })));

    let answer = app
        .get(
            "/api/users/clerk-test/",
            &[
                ("Authorization", &format!("Bearer {expired}")),
                ("Cookie", &browser_cookies(&good)),
            ],
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "token-expired");

    let other = user_id();
    let header_user = key_a().sign(&claims(&other));
    let answer = app
        .get(
            "/api/users/clerk-test/",
            &[
                ("Authorization", &format!("Bearer {header_user}")),
                ("Cookie", &browser_cookies(&good)),
            ],
        )
        .await;
    assert_eq!(answer.body["user"]["clerk_id"], other.as_str());

    // A non-Bearer scheme is not a session token: the cookie still signs the request in.
    let answer = app
        .get(
            "/api/users/clerk-test/",
            &[
                ("Authorization", "Basic dXNlcjpwYXNz"),
                ("Cookie", &browser_cookies(&good)),
            ],
        )
        .await;
    assert_eq!(answer.status, 200);

    let answer = app
        .get(
            "/api/users/clerk-test/",
            &[
                ("Authorization", "Bearer "),
                ("Cookie", &browser_cookies(&good)),
            ],
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "token-invalid");
}

#[tokio::test]
async fn expiry_is_checked_with_five_seconds_of_skew() {
    let (_fake, app) = clerk_app().await;
    // Expired already (refused without skew), and accepted 3 s more at least: room for a slow
    // request.
    let within = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 1 })));
    assert_eq!(app.bearer(&within).await.status, 200);

    let beyond = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 10 })));
    let answer = app.bearer(&beyond).await;
    assert_eq!((answer.status, answer.code()), (401, "token-expired"));

    let missing = key_a().sign(&with(claims(&user_id()), json!({ "exp": null })));
    assert_eq!(
        app.bearer(&missing).await.code(),
        "token-verification-failed"
    );
}

#[tokio::test]
async fn future_nbf_and_iat_are_refused_beyond_skew() {
    let (_fake, app) = clerk_app().await;
    let nbf = key_a().sign(&with(claims(&user_id()), json!({ "nbf": now() + 30 })));
    assert_eq!(app.bearer(&nbf).await.code(), "token-not-active-yet");
    let iat = key_a().sign(&with(claims(&user_id()), json!({ "iat": now() + 30 })));
    assert_eq!(app.bearer(&iat).await.code(), "token-iat-in-the-future");
    let slightly = key_a().sign(&with(
        claims(&user_id()),
        json!({ "iat": now() + 3, "nbf": now() + 3 }),
    ));
    assert_eq!(app.bearer(&slightly).await.status, 200, "within the skew");
}

#[tokio::test]
async fn skew_is_configurable() {
    let (_fake, app) = clerk_app_with(|settings| settings.set("clock_skew_secs", "0")).await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 2 })));
    assert_eq!(app.bearer(&token).await.code(), "token-expired");
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let (_fake, app) = clerk_app().await;
    for iss in [
        "https://clerk.other.test",
        "https://clerk.example.test/",
        "http://clerk.example.test",
    ] {
        let token = key_a().sign(&with(claims(&user_id()), json!({ "iss": iss })));
        let answer = app.bearer(&token).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, "token-invalid-issuer"),
            "{iss}"
        );
    }
    let token = key_a().sign(&with(claims(&user_id()), json!({ "iss": null })));
    assert_eq!(app.bearer(&token).await.code(), "token-invalid-issuer");
}

#[tokio::test]
async fn authorized_parties_when_configured() {
    let (_fake, app) = clerk_app_with(|settings| {
        settings.set(
            "authorized_parties",
            &format!("https://other.test, {ORIGIN}"),
        )
    })
    .await;

    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        200
    );
    let wrong = key_a().sign(&with(
        claims(&user_id()),
        json!({ "azp": "https://evil.test" }),
    ));
    assert_eq!(
        app.bearer(&wrong).await.code(),
        "token-invalid-authorized-parties"
    );
    let missing = key_a().sign(&with(claims(&user_id()), json!({ "azp": null })));
    assert_eq!(
        app.bearer(&missing).await.code(),
        "token-invalid-authorized-parties"
    );

    // Without parties configured, azp is not checked.
    let (_fake2, lax) = clerk_app().await;
    assert_eq!(lax.bearer(&wrong).await.status, 200);
}

#[tokio::test]
async fn audience_only_when_configured() {
    let (_fake, app) = clerk_app().await;
    let with_aud = key_a().sign(&with(claims(&user_id()), json!({ "aud": "someone-else" })));
    // RFC 7519 §4.1.3: a token made for an audience is not for an API that names none (a JWT
    // template token for another service, signed with the same keys).
    let refused = app.bearer(&with_aud).await;
    assert_eq!(
        (refused.status, refused.code()),
        (401, "token-verification-failed"),
        "aud refused when not configured"
    );

    let (_fake, strict) = clerk_app_with(|settings| settings.set("jwt_audience", "my-api")).await;
    assert_eq!(
        strict.bearer(&with_aud).await.code(),
        "token-verification-failed"
    );
    let listed = key_a().sign(&with(claims(&user_id()), json!({ "aud": ["x", "my-api"] })));
    assert_eq!(strict.bearer(&listed).await.status, 200);
    assert_eq!(
        strict
            .bearer(&key_a().sign(&claims(&user_id())))
            .await
            .code(),
        "token-verification-failed"
    );
}

#[tokio::test]
async fn algorithm_attacks_are_refused() {
    let (_fake, app) = clerk_app().await;
    let body = claims(&user_id());

    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&body)
    );
    assert_eq!(app.bearer(&none).await.code(), "token-invalid-algorithm");

    // HS256 "signed" with the instance's public key, the classic confusion attack.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key_a().kid.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &body,
        &jsonwebtoken::EncodingKey::from_secret(key_a().public_pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(app.bearer(&hs).await.code(), "token-invalid-algorithm");

    let rs384 = key_a().sign_with_header(&json!({ "alg": "RS384" }), &body);
    assert_eq!(app.bearer(&rs384).await.code(), "token-invalid-algorithm");
}

#[tokio::test]
async fn tampered_and_foreign_signatures_are_refused() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let parts: Vec<&str> = token.split('.').collect();

    // The payload changed after signing: another user.
    let forged = format!("{}.{}.{}", parts[0], b64(&claims(&user_id())), parts[2]);
    assert_eq!(app.bearer(&forged).await.code(), "token-invalid-signature");

    let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    signature[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    );
    assert_eq!(app.bearer(&flipped).await.code(), "token-invalid-signature");

    // Signed by another key that claims key A's kid.
    let header = json!({ "kid": key_a().kid });
    let impostor = key_b().sign_with_header(&header, &claims(&user));
    assert_eq!(
        app.bearer(&impostor).await.code(),
        "token-invalid-signature"
    );
    assert_eq!(
        app.count_users(&user).await,
        0,
        "nothing is written for a refused token"
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_a_500() {
    let (_fake, app) = clerk_app().await;
    let long = "a".repeat(9000);
    for token in [
        "abc",
        "a.b",
        "a.b.c.d",
        "....",
        "eyJ.eyJ.sig",
        "%%%.%%%.%%%",
        long.as_str(),
    ] {
        let answer = app.bearer(token).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, "token-invalid"),
            "{}",
            &token[..token.len().min(20)]
        );
    }
    let payload_not_object = key_a().sign(&json!([1, 2, 3]));
    assert_eq!(
        app.bearer(&payload_not_object).await.code(),
        "token-invalid"
    );
}

#[tokio::test]
async fn only_session_tokens_are_accepted() {
    let (_fake, app) = clerk_app().await;
    let body = claims(&user_id());
    let oauth = key_a().sign_with_header(&json!({ "typ": "at+jwt" }), &body);
    assert_eq!(app.bearer(&oauth).await.code(), "token-type-mismatch");
    let template = key_a().sign_with_header(&json!({ "cat": "cl_B7d4PD222AAA" }), &body);
    assert_eq!(app.bearer(&template).await.code(), "token-type-mismatch");
    let session_cat = key_a().sign_with_header(&json!({ "cat": "cl_B7d4PD111AAA" }), &body);
    assert_eq!(app.bearer(&session_cat).await.status, 200);
    let odd_typ = key_a().sign_with_header(&json!({ "typ": "JOSE" }), &body);
    assert_eq!(app.bearer(&odd_typ).await.code(), "token-invalid");
    let machine = key_a().sign(&with(body.clone(), json!({ "sub": "mch_123" })));
    assert_eq!(app.bearer(&machine).await.code(), "token-type-mismatch");
    let not_user = key_a().sign(&with(body.clone(), json!({ "sub": "org_123" })));
    assert_eq!(
        app.bearer(&not_user).await.code(),
        "token-verification-failed"
    );
    let no_sid = key_a().sign(&with(body.clone(), json!({ "sid": null })));
    assert_eq!(
        app.bearer(&no_sid).await.code(),
        "token-verification-failed"
    );
    let pending = key_a().sign(&with(body, json!({ "sts": "pending" })));
    assert_eq!(app.bearer(&pending).await.code(), "session-pending");
}

#[tokio::test]
async fn errors_are_json_with_www_authenticate_and_no_secrets() {
    let (_fake, app) = clerk_app().await;
    let missing = app.get("/api/users/me", &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.code(), "session-token-missing");
    assert!(missing.body["error"]["message"].as_str().unwrap().len() > 10);
    assert_eq!(
        missing.header("WWW-Authenticate"),
        Some("Bearer realm=\"clerk-rocket\"")
    );
    assert_eq!(missing.header("Content-Type"), Some("application/json"));

    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 100 })));
    let expired = app.get_as("/api/users/me", &token).await;
    let www = expired.header("WWW-Authenticate").unwrap();
    assert!(
        www.starts_with("Bearer realm=\"clerk-rocket\", error=\"invalid_token\""),
        "{www}"
    );
    assert!(www.contains("token-expired"));
    let text = expired.body.to_string();
    assert!(
        !text.contains(&token[..40]) && !text.contains(&token[token.len() - 20..]),
        "the token is not echoed"
    );
    assert_eq!(
        expired.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["error"]
    );

    let unknown = app.get("/api/no/such/route", &[]).await;
    assert_eq!((unknown.status, unknown.code()), (404, "not-found"));
    assert_eq!(unknown.header("Content-Type"), Some("application/json"));
}

#[tokio::test]
async fn suffixed_cookie_is_read_when_a_publishable_key_is_known() {
    let pk = publishable_key(ISSUER_HOST, false);
    let suffix = clerk_rocket::config::cookie_suffix(&pk);
    let (_fake, app) =
        clerk_app_with(|settings| settings.unset("jwt_issuer").set("publishable_key", &pk)).await;
    let user = user_id();
    let ours = key_a().sign(&claims(&user));
    let foreign = key_a().sign(&with(
        claims(&user_id()),
        json!({ "iss": "https://clerk.sibling.test" }),
    ));

    let answer = app
        .get(
            "/api/users/clerk-test/",
            &[(
                "Cookie",
                &format!("__session={foreign}; __session_{suffix}={ours}; __client_uat_{suffix}=1; __clerk_db_jwt_{suffix}=dvb_test"),
            )],
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["user"]["clerk_id"], user.as_str());

    let answer = app
        .get(
            "/api/users/clerk-test/",
            &[(
                "Cookie",
                &format!("__session_{suffix}={ours}; __client_uat_{suffix}=1; __clerk_db_jwt_{suffix}=dvb_test"),
            )],
        )
        .await;
    assert_eq!(answer.status, 200);
}
