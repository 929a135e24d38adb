//! Impersonation and agent sessions (Clerk's `act` claim): shown in `/api/whoami`, on every page
//! (a banner), in the access log (the actor's id) and in the audit trail (the real actor beside
//! the administrator acted as); administrators' actions from such a session are refused and
//! audited unless `CLERK_ADMIN_ALLOW_IMPERSONATED` is set.

use serde_json::{json, Value};

use crate::admin_actions::{audit_of, post_as, SECRET_KEY};
use crate::common::*;

backend_tests!(
    impersonated_admin_actions_are_refused_and_audited,
    allowed_impersonated_actions_record_the_real_actor,
);

const MEMBER: &str = "user_dashboard_member";

fn impersonation() -> Value {
    json!({ "sub": MEMBER, "sid": "sess_member", "iss": "https://dashboard.clerk.com" })
}

fn acted(user: &str, act: &Value) -> String {
    key_a().sign(&with(claims(user), json!({ "act": act })))
}

async fn app_on(backend: &Backend, admin: &str, allow: bool) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| {
        let settings = settings
            .on(backend)
            .set("secret_key", SECRET_KEY)
            .set("admin_user_ids", admin);
        if allow {
            settings.set("admin_allow_impersonated", "true")
        } else {
            settings
        }
    })
    .await
}

#[tokio::test]
async fn whoami_names_the_actor() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let own = app
        .get_as("/api/whoami", &key_a().sign(&claims(&user)))
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["actor"], Value::Null);
    let member = app
        .get_as("/api/whoami", &acted(&user, &impersonation()))
        .await;
    assert_eq!(
        member.body["actor"],
        json!({ "sub": MEMBER, "sid": "sess_member", "iss": "https://dashboard.clerk.com", "type": null })
    );
    assert_eq!(member.body["user_id"], user.as_str());
    let agent = app
        .get_as(
            "/api/whoami",
            &acted(&user, &json!({ "sub": "agt_helper", "type": "agent" })),
        )
        .await;
    assert_eq!(agent.body["actor"]["type"], "agent");
    // Unverified text: only printable ASCII comes out.
    let evil = app
        .get_as(
            "/api/whoami",
            &acted(
                &user,
                &json!({ "sub": "user_x\r\nSet-Cookie: a=b <script>é" }),
            ),
        )
        .await;
    assert_eq!(
        evil.body["actor"]["sub"],
        "user_x??Set-Cookie:?a=b?<script>?"
    );
}

#[tokio::test]
async fn every_page_shows_who_is_acting() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let cookie = |token: &str| {
        format!(
            "__session={token}; __client_uat={}; __clerk_db_jwt=dvb_t",
            now() - 20
        )
    };
    let get = |token: String, path: &'static str| {
        let app = app.clone();
        let cookie = cookie(&token);
        async move {
            app.get(
                path,
                &[
                    ACCEPT_HTML,
                    ("Host", "app.example.test"),
                    ("Cookie", &cookie),
                ],
            )
            .await
        }
    };
    let plain = get(key_a().sign(&claims(&user)), "/profile").await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert!(!plain.text().contains("acting-banner"));
    for path in ["/profile", "/"] {
        let page = get(acted(&user, &json!({ "sub": "user_<b>evil</b>" })), path).await;
        let html = page.text();
        assert_eq!(page.status, 200, "{html}");
        assert!(html.contains("id=\"acting-banner\""), "{path}: {html}");
        assert!(html.contains("Impersonation: acting as"), "{html}");
        assert!(
            html.contains("user_&lt;b&gt;evil&lt;&#x2F;b&gt;"),
            "escaped: {html}"
        );
        assert!(!html.contains("<b>evil"), "{html}");
    }
    let agent = get(
        acted(&user, &json!({ "sub": "agt_helper", "type": "agent" })),
        "/profile",
    )
    .await;
    assert!(
        agent.text().contains("An agent session"),
        "{}",
        agent.text()
    );
}

#[tokio::test]
async fn the_access_log_names_the_actor_never_the_token() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let dir = scratch_dir();
    let key_file = dir.join("actor-key.pem");
    clerk_rocket::clerk::local::LocalIssuer::load_or_create(&key_file).unwrap();
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let t = now();
    let claims = json!({
        "iss": clerk_rocket::config::LOCAL_ISSUER, "sub": "user_local_acted", "sid": "sess_local_acted",
        "iat": t, "nbf": t - 5, "exp": t + 600, "v": 2, "email": "acted@example.com",
        "fva": [0, -1], "act": { "sub": "user_member\nforged=1", "type": "agent" },
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("local-dev".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let key = key_file.display().to_string();
    let bearer = format!("Bearer {token}");
    let out = crate::observability::served_output(
        &[("CLERK_LOCAL_KEY_FILE", key.as_str())],
        &[
            ("/api/users/me", Some(bearer.as_str())),
            ("/api/users/me", None),
        ],
    )
    .await;
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("/api/users/me"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" 200 ") && l.ends_with(" actor=user_member?forged=1")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" 401 ") && !l.contains("actor=")),
        "{out}"
    );
    assert!(!out.contains(&token), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("forged")), "{out}");
}

async fn impersonated_admin_actions_are_refused_and_audited(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = app_on(&backend, &admin, false).await;
    let own_tok = key_a().sign(&claims(&admin));
    assert_eq!(
        app.get_as("/api/users/me", &key_a().sign(&claims(&target)))
            .await
            .status,
        200
    );
    fake.serve_user_admin(&target, &[]).await;
    let uri = format!("/api/admin/users/{target}/ban");
    for (act, kind) in [
        (impersonation(), "impersonator"),
        (json!({ "sub": "agt_helper", "type": "agent" }), "agent"),
    ] {
        let refused = post_as(&app, &uri, &acted(&admin, &act)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "impersonated-session"),
            "{kind}: {:?}",
            refused.body
        );
        let events = audit_of(&app, &own_tok, &target).await;
        let event = &events[0];
        assert_eq!(event["result"], "impersonated-session");
        assert_eq!(event["actor"], act["sub"]);
        assert_eq!(event["acted_as"], admin.as_str());
        assert_eq!(event["actor_type"], kind);
        assert_eq!(event["clerk_outcome"], "not-asked");
    }
    assert!(fake.requests_to("/v1/users").await.is_empty());
    assert_eq!(app.user_row(&target).await.unwrap()["banned"], false);
    // Reading is allowed; the admin's own session acts, recorded as their own.
    assert_eq!(
        app.get_as("/api/admin/users", &acted(&admin, &impersonation()))
            .await
            .status,
        200
    );
    assert_eq!(post_as(&app, &uri, &own_tok).await.status, 200);
    let events = audit_of(&app, &own_tok, &target).await;
    assert_eq!(events[0]["actor"], admin.as_str());
    assert_eq!(
        (&events[0]["acted_as"], &events[0]["actor_type"]),
        (&Value::Null, &Value::Null)
    );

    // The page's form answers with the refusal's sentence.
    let cookie = format!(
        "__session={}; __client_uat={}; __clerk_db_jwt=dvb_t",
        acted(&admin, &impersonation()),
        now() - 20
    );
    let headers = [
        ACCEPT_HTML,
        ("Host", "app.example.test"),
        ("Origin", "http://app.example.test"),
        ("Cookie", cookie.as_str()),
    ];
    let page = app.get(&format!("/admin/users/{target}"), &headers).await;
    let csrf = crate::admin_actions::csrf_of(&page.text());
    let answer = app
        .post_form(
            &format!("/admin/users/{target}/unban"),
            &format!("csrf={csrf}"),
            &headers,
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.text());
    assert_eq!(
        answer.header("Location"),
        Some(format!("/admin/users/{target}?refused=impersonated-session").as_str())
    );
    let back = app
        .get(
            &format!("/admin/users/{target}?refused=impersonated-session"),
            &headers,
        )
        .await;
    assert!(back
        .text()
        .contains("Someone else is acting as this session"));
}

async fn allowed_impersonated_actions_record_the_real_actor(backend: Backend) {
    let admin = user_id();
    let target = user_id();
    let (fake, app) = app_on(&backend, &admin, true).await;
    assert_eq!(
        app.get_as("/api/users/me", &key_a().sign(&claims(&target)))
            .await
            .status,
        200
    );
    fake.serve_user_admin(&target, &[]).await;
    let done = post_as(
        &app,
        &format!("/api/admin/users/{target}/ban"),
        &acted(&admin, &impersonation()),
    )
    .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let events = audit_of(&app, &key_a().sign(&claims(&admin)), &target).await;
    assert_eq!(
        (
            &events[0]["result"],
            &events[0]["actor"],
            &events[0]["acted_as"],
            &events[0]["actor_type"]
        ),
        (
            &json!("ok"),
            &json!(MEMBER),
            &json!(admin),
            &json!("impersonator")
        )
    );
    // The trail's filter finds the real actor.
    let by_member = app
        .get_as(
            &format!("/api/admin/audit?actor={MEMBER}"),
            &key_a().sign(&claims(&admin)),
        )
        .await;
    assert_eq!(by_member.body["events"].as_array().unwrap().len(), 1);
}
