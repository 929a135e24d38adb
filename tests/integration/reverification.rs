//! Reverification: administrators' actions need a recent factor verification
//! (`CLERK_ADMIN_REVERIFICATION`, Clerk's `strict` by default), refused with Clerk's own 403 body
//! (byte for byte) on the JSON API and with a page that re-posts the form on the admin pages;
//! Clerk's presets and custom `{level, afterMinutes}` read from `fva`; local mode's sign-in records
//! a verification.

use serde_json::{json, Value};

use crate::admin_actions::{csrf_of, post_as, SECRET_KEY};
use crate::common::*;

backend_tests!(
    an_old_verification_gets_clerk_s_body_and_nothing_happens,
    the_setting_chooses_the_requirement,
    forms_answer_a_page_that_verifies_and_posts_again,
    local_mode_sign_in_records_the_verification,
);

const STRICT_BODY: &str = r#"{"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":{"level":"second_factor","afterMinutes":10}}}}"#;

/// A token of `user`, an administrator by `CLERK_ADMIN_USER_IDS`, whose factors were verified
/// `fva` minutes before it was issued `age` seconds ago.
fn token(user: &str, fva: Value, age: i64) -> String {
    let t = now() - age;
    key_a().sign(&with(
        claims(user),
        json!({ "fva": fva, "iat": t, "nbf": t - 10, "exp": now() + 60 }),
    ))
}

/// `POST uri` with the token; the answer's status, `Content-Type` and exact body.
async fn post_raw(app: &TestApp, uri: &str, token: &str) -> (u16, String, String) {
    let response = app
        .client
        .post(uri.to_owned())
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ))
        .dispatch()
        .await;
    let status = response.status().code;
    let content_type = response
        .headers()
        .get_one("Content-Type")
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.into_string().await.unwrap_or_default(),
    )
}

async fn app_with(backend: &Backend, admin: &str, setting: Option<&str>) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| {
        let settings = settings
            .on(backend)
            .set("secret_key", SECRET_KEY)
            .set("admin_user_ids", admin);
        match setting {
            Some(value) => settings.set("admin_reverification", value),
            None => settings,
        }
    })
    .await
}

async fn an_old_verification_gets_clerk_s_body_and_nothing_happens(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = app_with(&backend, &admin, None).await;
    let target_tok = key_a().sign(&claims(&target));
    assert_eq!(app.get_as("/api/users/me", &target_tok).await.status, 200);
    fake.serve_user_admin(&target, &[]).await;
    let uri = format!("/api/admin/users/{target}/ban");

    // Verified 10 minutes ago (strict wants under 10), or never: Clerk's body, exactly; nothing
    // reaches Clerk, nothing is audited, the user is not banned.
    for fva in [
        json!([10, -1]),
        json!([1, 10]),
        json!([-1, -1]),
        Value::Null,
    ] {
        let (status, content_type, body) = post_raw(&app, &uri, &token(&admin, fva, 0)).await;
        assert_eq!(status, 403);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, STRICT_BODY);
    }
    // 9 minutes when the token was issued, 2 minutes ago: 11 minutes now.
    let (status, _, body) = post_raw(&app, &uri, &token(&admin, json!([9, -1]), 120)).await;
    assert_eq!((status, body.as_str()), (403, STRICT_BODY));
    assert!(fake.requests_to("/v1/users").await.is_empty());
    assert_eq!(app.count_rows("audit_events").await, 0);
    assert_eq!(app.user_row(&target).await.unwrap()["banned"], false);

    // A recent second factor (or a recent first one, with none enrolled) passes.
    for fva in [json!([100, 9]), json!([9, -1])] {
        let done = post_as(&app, &uri, &token(&admin, fva, 0)).await;
        assert_eq!(done.status, 200, "{:?}", done.body);
    }
    assert_eq!(app.count_rows("audit_events").await, 2);
}

async fn the_setting_chooses_the_requirement(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    for (setting, passes, fails, level, minutes) in [
        ("off", vec![json!([-1, -1]), Value::Null], vec![], "", 0),
        (
            "lax",
            vec![json!([1439, -1])],
            vec![json!([1440, -1])],
            "second_factor",
            1440,
        ),
        (
            "moderate",
            vec![json!([100, 59])],
            vec![json!([1, 60])],
            "second_factor",
            60,
        ),
        (
            "strict_mfa",
            vec![json!([9, 9]), json!([9, -1])],
            vec![json!([10, 1]), json!([-1, 1])],
            "multi_factor",
            10,
        ),
        (
            "first_factor:3",
            vec![json!([2, -1]), json!([2, 100])],
            vec![json!([3, 0]), json!([-1, 0])],
            "first_factor",
            3,
        ),
        (
            "multi_factor:30",
            vec![json!([29, 29])],
            vec![json!([29, 30])],
            "multi_factor",
            30,
        ),
    ] {
        let (fake, app) = app_with(&backend, &admin, Some(setting)).await;
        let target_tok = key_a().sign(&claims(&target));
        assert_eq!(app.get_as("/api/users/me", &target_tok).await.status, 200);
        fake.serve_user_admin(&target, &[]).await;
        let uri = format!("/api/admin/users/{target}/revoke-sessions");
        for fva in passes {
            let answer = post_as(&app, &uri, &token(&admin, fva.clone(), 0)).await;
            assert_eq!(answer.status, 200, "{setting} {fva}: {:?}", answer.body);
        }
        for fva in fails {
            let (status, _, body) = post_raw(&app, &uri, &token(&admin, fva.clone(), 0)).await;
            assert_eq!(status, 403, "{setting} {fva}");
            assert_eq!(
                body,
                format!(
                    r#"{{"clerk_error":{{"type":"forbidden","reason":"reverification-error","metadata":{{"reverification":{{"level":"{level}","afterMinutes":{minutes}}}}}}}}}"#
                ),
                "{setting} {fva}"
            );
        }
    }
}

fn browser_headers(token: &str) -> Vec<(&'static str, String)> {
    vec![
        (ACCEPT_HTML.0, ACCEPT_HTML.1.to_owned()),
        ("Host", "app.example.test".to_owned()),
        ("Origin", "http://app.example.test".to_owned()),
        (
            "Cookie",
            format!(
                "__session={token}; __client_uat={}; __clerk_db_jwt=dvb_test",
                now() - 20
            ),
        ),
    ]
}

fn refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn forms_answer_a_page_that_verifies_and_posts_again(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = app_with(&backend, &admin, None).await;
    let target_tok = key_a().sign(&claims(&target));
    assert_eq!(app.get_as("/api/users/me", &target_tok).await.status, 200);
    fake.serve_user_admin(&target, &[]).await;
    let old = token(&admin, json!([30, -1]), 0);
    let page = app
        .get(
            &format!("/admin/users/{target}"),
            &refs(&browser_headers(&old)),
        )
        .await;
    assert_eq!(page.status, 200, "reading needs no verification");
    let csrf = csrf_of(&page.text());

    let form = format!("csrf={csrf}&role=admin");
    let uri = format!("/admin/users/{target}/role");
    let answer = app
        .post_form(&uri, &form, &refs(&browser_headers(&old)))
        .await;
    assert_eq!(answer.status, 403);
    let html = answer.text();
    // Clerk's body for app.js, HTML-escaped in its attribute; the same form to post again.
    let attribute = STRICT_BODY.replace('"', "&quot;");
    assert!(
        html.contains(&format!("data-clerk-error=\"{attribute}\"")),
        "{html}"
    );
    assert!(html.contains("id=\"reverify-retry\""), "{html}");
    assert!(html.contains(&format!(
        "action=\"&#x2F;admin&#x2F;users&#x2F;{target}&#x2F;role\""
    )));
    assert_eq!(csrf_of(&html), csrf);
    assert!(html.contains("name=\"role\" value=\"admin\""));
    assert!(html.contains("id=\"reverify-open\""));
    assert_eq!(app.user_row(&target).await.unwrap()["role"], Value::Null);

    // Verified again (the same session, a fresh token): the same form goes through.
    let fresh = token(&admin, json!([0, -1]), 0);
    let done = app
        .post_form(&uri, &form, &refs(&browser_headers(&fresh)))
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(
        done.header("Location"),
        Some(format!("/admin/users/{target}?done=set-role").as_str())
    );
}

async fn local_mode_sign_in_records_the_verification(backend: Backend) {
    use clerk_rocket::clerk::local::user_id_for;
    let app = Settings::local(&scratch_dir().join("local.pem"))
        .on(&backend)
        .start()
        .await;
    let sign_in = |email: &str, extra: &str| {
        let form = format!("email={email}&admin=true&redirect_url=%2Fprofile{extra}");
        let app = app.clone();
        async move {
            let answer = app
                .post_form(
                    "/dev/sign-in",
                    &form,
                    &[
                        ("Host", "localhost:8000"),
                        ("Origin", "http://localhost:8000"),
                    ],
                )
                .await;
            assert_eq!(answer.status, 303, "{}", answer.text());
            answer.set_cookie("__session").expect("a session cookie")
        }
    };
    let target = sign_in("ada%40example.com", "").await;
    assert_eq!(app.get_as("/api/users/me", &target).await.status, 200);
    let old = sign_in("boss%40example.com", "&verified_minutes_ago=30").await;
    let claims = clerk_rocket::clerk::token::unverified_claims(&old).unwrap();
    assert_eq!(claims["fva"], json!([30, -1]));
    assert_eq!(
        clerk_rocket::clerk::token::unverified_claims(&target).unwrap()["fva"],
        json!([0, -1])
    );
    let headers = |token: &str| {
        vec![
            (ACCEPT_HTML.0, ACCEPT_HTML.1.to_owned()),
            ("Host", "localhost:8000".to_owned()),
            ("Origin", "http://localhost:8000".to_owned()),
            ("Cookie", format!("__session={token}")),
        ]
    };
    let ada = user_id_for("ada@example.com");
    let page = app
        .get(&format!("/admin/users/{ada}"), &refs(&headers(&old)))
        .await;
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.text());
    let uri = format!("/admin/users/{ada}/ban");
    let refused = app
        .post_form(&uri, &format!("csrf={csrf}"), &refs(&headers(&old)))
        .await;
    assert_eq!(refused.status, 403);
    let html = refused.text();
    // No ClerkJS here: signing in again records a new verification.
    assert!(html.contains("id=\"reverify-sign-in\""), "{html}");
    assert!(
        html.contains("name=\"email\" value=\"boss@example.com\""),
        "{html}"
    );
    assert!(!html.contains("reverify-open"));
    let fresh = sign_in("boss%40example.com", "").await;
    let page = app
        .get(&format!("/admin/users/{ada}"), &refs(&headers(&fresh)))
        .await;
    let csrf = csrf_of(&page.text());
    let done = app
        .post_form(&uri, &format!("csrf={csrf}"), &refs(&headers(&fresh)))
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(app.user_row(&ada).await.unwrap()["banned"], true);
}

#[tokio::test]
async fn the_openapi_document_describes_clerk_s_answer() {
    let (_fake, app) = clerk_app().await;
    let doc = app.get("/api/openapi.json", &[]).await.body;
    let refused = &doc["paths"]["/api/admin/users/{id}/ban"]["post"]["responses"]["403"];
    assert!(
        refused["description"]
            .as_str()
            .is_some_and(|d| d.contains("reverification-error")),
        "{refused}"
    );
    let text = doc.to_string();
    assert!(
        text.contains("afterMinutes") && text.contains("clerk_error"),
        "{refused}"
    );
}
