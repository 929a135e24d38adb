//! Hostile and odd inputs, one class of the hardening issue per section: every bad input gets a
//! clear 4xx (JSON under `/api`), never a 5xx; nothing is created for a refused request.

use clerk_rocket::auth::CurrentUser;
use serde_json::json;
use wiremock::matchers::{bearer_token, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

const DOCUMENT: (&str, &str) = ("Sec-Fetch-Dest", "document");
const HOST: (&str, &str) = ("Host", "app.example.test");

/// A 4xx with this JSON error code, and a `WWW-Authenticate` header when it is a 401.
fn assert_refused(answer: &Answer, status: u16, code: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (status, code),
        "{:?}",
        answer.body
    );
    if status == 401 {
        assert!(
            answer.header("WWW-Authenticate").is_some(),
            "a 401 names its scheme"
        );
    }
}

// Class 6: answers never echo the configured issuer, authorized parties or audience.

#[tokio::test]
async fn refusals_do_not_echo_the_configuration() {
    let (_fake, app) = clerk_app_with(|s| {
        s.set("authorized_parties", "https://secret-party.example.test")
            .set("jwt_audience", "secret-audience")
    })
    .await;
    let user = user_id();
    let base = with(
        claims(&user),
        json!({ "azp": "https://secret-party.example.test", "aud": "secret-audience" }),
    );
    for (changes, code) in [
        (
            json!({ "iss": "https://evil.example" }),
            "token-invalid-issuer",
        ),
        // Near misses of the configured values: echoing the token's own would show them.
        (
            json!({ "iss": format!("http://{ISSUER_HOST}") }),
            "token-invalid-issuer",
        ),
        (
            json!({ "iss": format!("https://{ISSUER_HOST}/") }),
            "token-invalid-issuer",
        ),
        (
            json!({ "azp": "https://secret-party.example.test/" }),
            "token-invalid-authorized-parties",
        ),
        (
            json!({ "azp": "https://evil.example" }),
            "token-invalid-authorized-parties",
        ),
        (json!({ "aud": "evil" }), "token-verification-failed"),
    ] {
        let answer = app
            .bearer(&key_a().sign(&with(base.clone(), changes)))
            .await;
        assert_refused(&answer, 401, code);
        let everything = format!("{:?} {:?}", answer.body, answer.headers);
        for secret in ["secret-party", "secret-audience", ISSUER_HOST] {
            assert!(
                !everything.contains(secret),
                "{code} echoes {secret}: {everything}"
            );
        }
    }
    assert_eq!(app.count_users(&user).await, 0);
}

// Class 14: /ready, hosts with bad ports, redirect_url values a Location header cannot hold.

#[tokio::test]
async fn ready_does_not_print_configured_urls() {
    let fake = FakeClerk::start().await; // no JWKS served: the keys never load
    let app = Settings::clerk(&fake)
        .set("secret_key", "sk_test_ready")
        .start()
        .await;
    let ready = app.get("/ready", &[]).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["missing"], json!(["keys"]));
    let text = ready.text();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("http") && !text.contains("jwks"),
        "{text}"
    );
}

/// Runs `clerk-rocket migrate` with `env` on a scratch database: exit 2 and one line naming
/// `variable` when a setting is refused.
fn refused_at_start(env: &[(&str, &str)], variable: &str) -> String {
    let dir = scratch_dir();
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let mut env = env.to_vec();
    env.push(("DATABASE_URL", &url));
    let out = run(&dir, &["migrate"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {variable}: ")),
        "{stderr}"
    );
    stderr
}

#[test]
fn a_bad_port_in_the_frontend_api_stops_the_start() {
    let pk = publishable_key("clerk.example.test:99999", false);
    refused_at_start(&[("CLERK_PUBLISHABLE_KEY", &pk)], "CLERK_PUBLISHABLE_KEY");
    for host in [
        "clerk.example.test:99999",
        "clerk.example.test:x",
        "clerk.example.test:",
    ] {
        refused_at_start(&[("CLERK_FRONTEND_API", host)], "CLERK_FRONTEND_API");
    }
}

#[tokio::test]
async fn redirect_urls_a_location_header_cannot_hold_fall_back_to_root() {
    let app = local_app().await;
    for bad in ["/caf%C3%A9", "/a%20b", "/a%7Fb", "/a%22b", "/a%3Cb%3E"] {
        // The form decodes them: "/café", "/a b", …
        let signed_in = app
            .post_form(
                "/dev/sign-in",
                &format!("email=ada%40example.com&redirect_url={bad}"),
                &[],
            )
            .await;
        assert_eq!(signed_in.status, 303, "{bad}: {}", signed_in.text());
        assert_eq!(signed_in.header("Location"), Some("/"), "{bad}");
    }
    let token = app
        .post_form("/dev/sign-in", "email=ada%40example.com", &[])
        .await;
    let token = token.set_cookie("__session").unwrap();
    for bad in ["/caf%C3%A9", "%2Fa%20b", "/a%09b"] {
        let page = app
            .get(
                &format!("/sign-in?redirect_url={bad}"),
                &[ACCEPT_HTML, ("Cookie", &browser_cookies(&token))],
            )
            .await;
        assert_eq!(page.status, 303, "{bad}: {}", page.text());
        assert_eq!(page.header("Location"), Some("/"), "{bad}");
    }
}

// Class 7: JWKS integrity.

/// Serves `response` for the JWKS path of `fake`, above everything served before.
async fn serve_jwks_answer(fake: &FakeClerk, priority: u8, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(response)
        .with_priority(priority)
        .mount(&fake.server)
        .await;
}

#[tokio::test]
async fn a_jwks_redirect_to_another_origin_is_not_followed() {
    let (fake, app) = clerk_app_with(|s| s.set("jwks_cooldown_secs", "0")).await;
    app.ready().await;
    let elsewhere = FakeClerk::start().await;
    elsewhere.serve_jwks(&[key_b()]).await;
    serve_jwks_answer(
        &fake,
        1,
        ResponseTemplate::new(302).insert_header("Location", elsewhere.jwks_url().as_str()),
    )
    .await;
    let before = fake.hits("/.well-known/jwks.json").await;
    let intruder = user_id();
    let refused = app.bearer(&key_b().sign(&claims(&intruder))).await;
    assert_refused(&refused, 401, "jwk-kid-mismatch");
    assert!(
        fake.hits("/.well-known/jwks.json").await > before,
        "the unknown kid made a refetch"
    );
    assert_eq!(
        elsewhere.hits("/.well-known/jwks.json").await,
        0,
        "never followed"
    );
    assert_eq!(app.count_users(&intruder).await, 0);
    let user = user_id();
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user))).await.status,
        200,
        "old keys kept"
    );
}

#[tokio::test]
async fn odd_jwks_answers_never_replace_the_last_good_keys() {
    let (fake, app) = clerk_app_with(|s| s.set("jwks_cooldown_secs", "0")).await;
    app.ready().await;
    let good = serde_json::to_string(&json!({ "keys": [key_b().jwk.clone()] })).unwrap();
    let odd = [
        ResponseTemplate::new(200).set_body_raw(
            "<html><body>Sign in to the Wi-Fi</body></html>",
            "text/html",
        ),
        ResponseTemplate::new(200).set_body_raw(&good[..good.len() / 2], "application/json"),
        ResponseTemplate::new(200).set_body_json(json!({ "keys": [
            { "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AAAA", "y": "AAAA" },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }
        ] })),
        ResponseTemplate::new(200).set_body_json(json!({ "keys": [] })),
        ResponseTemplate::new(200).set_body_json(json!({ "not": "a jwks" })),
        ResponseTemplate::new(200).set_body_raw(
            format!("{{\"keys\":[{}{}]}}", " ".repeat(300 * 1024), key_b().jwk),
            "application/json",
        ),
        ResponseTemplate::new(500),
    ];
    for (i, response) in odd.into_iter().enumerate() {
        serve_jwks_answer(&fake, 50 - u8::try_from(i).unwrap(), response).await;
        let before = fake.hits("/.well-known/jwks.json").await;
        let intruder = user_id();
        let refused = app.bearer(&key_b().sign(&claims(&intruder))).await;
        assert_refused(&refused, 401, "jwk-kid-mismatch");
        assert!(
            fake.hits("/.well-known/jwks.json").await > before,
            "answer {i} fetched"
        );
        assert_eq!(app.count_users(&intruder).await, 0);
        let user = user_id();
        let kept = app.bearer(&key_a().sign(&claims(&user))).await;
        assert_eq!(
            kept.status, 200,
            "answer {i} replaced the good keys: {:?}",
            kept.body
        );
    }
}

#[test]
fn jwks_and_backend_api_urls_must_be_https() {
    let pk = publishable_key(ISSUER_HOST, false);
    for (variable, value) in [
        (
            "CLERK_JWKS_URL",
            "http://clerk.example.test/.well-known/jwks.json",
        ),
        ("CLERK_API_URL", "http://api.clerk.test"),
        ("CLERK_JWT_ISSUER", "http://clerk.example.test"),
    ] {
        let stderr = refused_at_start(
            &[("CLERK_PUBLISHABLE_KEY", &pk), (variable, value)],
            variable,
        );
        assert!(stderr.contains("https"), "{stderr}");
    }
    refused_at_start(
        &[("CLERK_FRONTEND_API", "http://clerk.example.test")],
        "CLERK_FRONTEND_API",
    );
}

// Class 12: answers that depend on the caller are never cached.

fn assert_not_cached(answer: &Answer, what: &str) {
    assert_eq!(answer.header("Cache-Control"), Some("no-store"), "{what}");
    assert_eq!(
        answer.header("Vary"),
        Some("Authorization, Cookie"),
        "{what}"
    );
}

#[tokio::test]
async fn personal_answers_are_never_cached() {
    let (_fake, app) = clerk_app().await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    assert_not_cached(&app.get_as("/api/users/me", &token).await, "bearer JSON");
    assert_not_cached(&app.cookie(&token).await, "cookie JSON");
    let refused = app.get("/api/users/me", &[]).await;
    assert_refused(&refused, 401, "session-token-missing");
    assert_not_cached(&refused, "a JSON error");
    let expired = app
        .bearer(&key_a().sign(&with(claims(&user), json!({ "exp": now() - 60 }))))
        .await;
    assert_refused(&expired, 401, "token-expired");
    assert_not_cached(&expired, "a JSON refusal");
    let missing = app.get_as("/api/no/such/route", &token).await;
    assert_refused(&missing, 404, "not-found");
    assert_not_cached(&missing, "a JSON 404");
    assert_not_cached(&app.get_html_as("/profile", &token).await, "a page");
    assert_not_cached(&app.get_html("/").await, "a signed-out page");
}

#[tokio::test]
async fn every_401_names_its_scheme() {
    // Without a secret key a stale session gets ClerkJS's interstitial page, a 401.
    let (_fake, app) = clerk_app_with(|s| {
        s.unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, false))
    })
    .await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 60 })));
    let cookies = format!("__session={token}; __client_uat={}", now() - 300);
    let page = app
        .get(
            "/profile",
            &[ACCEPT_HTML, DOCUMENT, HOST, ("Cookie", &cookies)],
        )
        .await;
    assert_eq!(page.status, 401, "{:?} {}", page.headers, page.text());
    assert!(page.header("WWW-Authenticate").is_some());
    assert_not_cached(&page, "the interstitial");
}

// Class 13: cross-site writes.

#[rocket::post("/notes")]
fn post_note(user: CurrentUser) -> String {
    user.user.clerk_id.clone()
}

#[rocket::delete("/notes")]
fn delete_note(user: CurrentUser) -> String {
    user.user.clerk_id.clone()
}

/// An app whose `/api` has writes signed in by any token source, as a route added to it would.
async fn app_with_writes(fake: &FakeClerk) -> TestApp {
    let (figment, database_url) = Settings::clerk(fake)
        .set("authorized_parties", ORIGIN)
        .with_webhook_secret()
        .figment()
        .await;
    let rocket =
        clerk_rocket::build(figment).mount("/api", rocket::routes![post_note, delete_note]);
    TestApp {
        client: std::sync::Arc::new(
            rocket::local::asynchronous::Client::untracked(rocket)
                .await
                .unwrap(),
        ),
        database_url,
    }
}

#[tokio::test]
async fn cookie_writes_must_come_from_an_allowed_origin() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = app_with_writes(&fake).await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let cookie = browser_cookies(&token);
    let host = ("Host", "api.example.test");
    for headers in [
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
        vec![("Origin", "http://api.example.test.evil.example")],
        vec![("Origin", "https://api.example.test:8443")],
        vec![("Referer", "https://evil.example/page")],
        vec![],
    ] {
        let mut headers = headers;
        headers.extend([host, ("Cookie", cookie.as_str())]);
        for answer in [
            app.post("/api/notes", &headers, vec![]).await,
            app.delete("/api/notes", &headers).await,
        ] {
            assert_refused(&answer, 403, "origin-not-allowed");
            assert!(
                !answer.text().contains("app.example.test"),
                "no parties echoed"
            );
        }
        assert_eq!(app.count_users(&user).await, 0, "{headers:?}");
    }
    for headers in [
        vec![("Origin", ORIGIN)],
        vec![
            ("Origin", "https://api.example.test"),
            ("X-Forwarded-Proto", "https"),
        ],
        vec![("Origin", "http://api.example.test")],
        vec![("Referer", "http://api.example.test/profile?x=1")],
        vec![
            ("Origin", "https://evil.example"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "https"),
        ],
    ] {
        let mut headers = headers;
        headers.extend([host, ("Cookie", cookie.as_str())]);
        let answer = app.post("/api/notes", &headers, vec![]).await;
        assert_eq!(answer.status, 200, "{headers:?}: {:?}", answer.body);
    }
    // A bearer token is not sent by browsers on their own: any origin may write with one.
    let bearer = format!("Bearer {}", key_a().sign(&claims(&user_id())));
    let answer = app
        .post(
            "/api/notes",
            &[
                ("Origin", "https://evil.example"),
                ("Authorization", &bearer),
            ],
            vec![],
        )
        .await;
    assert_eq!(answer.status, 200);
    // Reads are not writes.
    let read = app
        .get(
            "/api/users/me",
            &[("Origin", "https://evil.example"), ("Cookie", &cookie)],
        )
        .await;
    assert_eq!(read.status, 200);
    // Webhooks are signed by Svix, not by a cookie: unaffected.
    let body = clerk_event(
        "user.created",
        clerk_user(&user_id(), "w@example.test", now() * 1000),
    );
    let ts = now();
    let signature = sign_webhook(WEBHOOK_SECRET, "msg_origin", ts, &body);
    let delivered = app
        .post(
            "/api/webhooks/clerk",
            &[
                ("svix-id", "msg_origin"),
                ("svix-timestamp", &ts.to_string()),
                ("svix-signature", &signature),
                ("Content-Type", "application/json"),
                ("Origin", "https://evil.example"),
                ("Cookie", &cookie),
            ],
            body,
        )
        .await;
    assert!(delivered.status < 300, "{:?}", delivered.body);
}

#[tokio::test]
async fn no_answer_reflects_an_origin_with_credentials() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = app_with_writes(&fake).await;
    let token = key_a().sign(&claims(&user_id()));
    let cookie = browser_cookies(&token);
    let evil = ("Origin", "https://evil.example");
    let mut answers = Vec::new();
    for uri in [
        "/api/users/me",
        "/api/users/clerk-test/",
        "/",
        "/profile",
        "/health",
        "/ready",
        "/api/openapi.json",
        "/api/no/such",
    ] {
        answers.push(app.get(uri, &[evil, ("Cookie", &cookie)]).await);
        answers.push(
            app.options(uri, &[evil, ("Access-Control-Request-Method", "POST")])
                .await,
        );
    }
    answers.push(
        app.post("/api/notes", &[evil, ("Cookie", &cookie)], vec![])
            .await,
    );
    for answer in &answers {
        let allowed = answer.all("Access-Control-Allow-Origin");
        assert!(
            allowed
                .iter()
                .all(|o| *o != "https://evil.example" && *o != "null"),
            "{:?}",
            answer.headers
        );
        assert!(
            answer.header("Access-Control-Allow-Credentials").is_none(),
            "{:?}",
            answer.headers
        );
        assert!(answer.status < 500, "{:?}", answer.headers);
    }
}

// Class 10: every Set-Cookie directive of a handshake reaches the browser, in order, as it came.

const SECRET: &str = "sk_test_adversarial";

/// A Clerk-mode app with a publishable key and a secret key (the handshake), `live` or not.
async fn handshake_app(
    live: bool,
    configure: impl FnOnce(Settings) -> Settings,
) -> (FakeClerk, TestApp) {
    clerk_app_with(|s| {
        configure(
            s.unset("jwt_issuer")
                .set("publishable_key", &publishable_key(ISSUER_HOST, live))
                .set("secret_key", SECRET),
        )
    })
    .await
}

async fn serve_handshake_payload(fake: &FakeClerk, nonce: &str, directives: &[String]) {
    Mock::given(method("GET"))
        .and(path("/v1/clients/handshake_payload"))
        .and(query_param("nonce", nonce))
        .and(bearer_token(SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "directives": directives })))
        .mount(&fake.server)
        .await;
}

/// Clerk's payload when a host-only cookie gives way to a domain cookie of the same name.
fn same_name_twice(token: &str) -> Vec<String> {
    vec![
        "__session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0".to_owned(),
        format!("__session={token}; Path=/; Domain=app.example.test; Secure; SameSite=Lax"),
        format!(
            "__client_uat={}; Path=/; Domain=app.example.test; Max-Age=31536000",
            now()
        ),
        "__clerk_db_jwt=; Path=/; Max-Age=0".to_owned(),
    ]
}

fn handshake_set_cookies(answer: &Answer) -> Vec<&str> {
    answer
        .all("Set-Cookie")
        .into_iter()
        .filter(|c| {
            !c.starts_with("__clerk_handshake_nonce=") && !c.starts_with("__clerk_redirect_count=")
        })
        .collect()
}

#[tokio::test]
async fn every_handshake_cookie_reaches_the_browser_in_order() {
    for live in [false, true] {
        let (fake, app) = handshake_app(live, |s| s).await;
        let user = user_id();
        let directives = same_name_twice(&key_a().sign(&claims(&user)));
        serve_handshake_payload(&fake, "nonce-twice", &directives).await;
        let answer = if live {
            let cookie = format!(
                "__clerk_handshake_nonce=nonce-twice; __client_uat={}",
                now()
            );
            app.get(
                "/profile",
                &[ACCEPT_HTML, DOCUMENT, HOST, ("Cookie", &cookie)],
            )
            .await
        } else {
            // The dev browser that the handshake carries back.
            let uri = "/profile?__clerk_handshake_nonce=nonce-twice";
            let dev_browser = ("Cookie", "__clerk_db_jwt=dvb_test");
            app.get(uri, &[ACCEPT_HTML, DOCUMENT, HOST, dev_browser])
                .await
        };
        assert_eq!(
            answer.status,
            if live { 200 } else { 307 },
            "{}",
            answer.text()
        );
        assert_eq!(handshake_set_cookies(&answer), directives, "live: {live}");
    }
}

#[tokio::test]
async fn directives_a_header_cannot_carry_are_dropped() {
    let (fake, app) = handshake_app(false, |s| s).await;
    let token = key_a().sign(&claims(&user_id()));
    let directives = vec![
        format!("__session={token}; Path=/"),
        "x=1; Path=/\r\nLocation: https://evil.example".to_owned(),
        "ünïcode=1".to_owned(),
        "not a cookie".to_owned(),
    ];
    serve_handshake_payload(&fake, "nonce-odd", &directives).await;
    let answer = app
        .get(
            "/profile?__clerk_handshake_nonce=nonce-odd",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", "__clerk_db_jwt=dvb_test"),
            ],
        )
        .await;
    assert_eq!(answer.status, 307, "{}", answer.text());
    assert_eq!(handshake_set_cookies(&answer), directives[..1].to_vec());
    assert_eq!(
        answer.header("Location"),
        Some("http://app.example.test/profile")
    );
}

// Class 9: handshake nonces cannot be used to make the server call the Backend API at will.

const PAYLOAD: &str = "/v1/clients/handshake_payload";
/// The dev browser cookie a development instance's browser carries.
const DEV_BROWSER: (&str, &str) = ("Cookie", "__clerk_db_jwt=dvb_test");

#[tokio::test]
async fn nonces_are_resolved_only_for_document_gets_of_a_sane_shape() {
    let (fake, app) = handshake_app(false, |s| s).await;
    let long = "n".repeat(300);
    for (uri, headers) in [
        // Not a document: a fetch, an image, a JSON client.
        (
            "/?__clerk_handshake_nonce=n1",
            vec![("Sec-Fetch-Dest", "empty")],
        ),
        (
            "/?__clerk_handshake_nonce=n2",
            vec![("Accept", "application/json")],
        ),
        (
            "/?__clerk_handshake_nonce=n3",
            vec![("Sec-Fetch-Dest", "image"), ACCEPT_HTML],
        ),
        (
            "/api/users/me?__clerk_handshake_nonce=n4",
            vec![("Sec-Fetch-Dest", "empty"), ACCEPT_HTML],
        ),
        // Not a nonce Clerk would issue.
        (
            "/?__clerk_handshake_nonce=a%20b",
            vec![DOCUMENT, ACCEPT_HTML],
        ),
        (
            "/?__clerk_handshake_nonce=%3Cscript%3E",
            vec![DOCUMENT, ACCEPT_HTML],
        ),
        (
            "/?__clerk_handshake_nonce=a%2F..%2Fb",
            vec![DOCUMENT, ACCEPT_HTML],
        ),
        (
            &format!("/?__clerk_handshake_nonce={long}"),
            vec![DOCUMENT, ACCEPT_HTML],
        ),
    ] {
        let mut headers = headers;
        headers.push(HOST);
        headers.push(("Cookie", "__clerk_db_jwt=dvb_test"));
        let answer = app.get(uri, &headers).await;
        assert!(answer.status < 500, "{uri}: {}", answer.status);
        if uri.starts_with("/api") {
            assert_refused(&answer, 401, "session-token-missing");
        }
    }
    let posted = app
        .post(
            "/?__clerk_handshake_nonce=n5",
            &[DOCUMENT, ACCEPT_HTML, HOST],
            vec![],
        )
        .await;
    assert!(posted.status < 500);
    assert_eq!(fake.hits(PAYLOAD).await, 0, "no Backend API call");
}

#[tokio::test]
async fn production_instances_take_the_nonce_from_the_cookie_only() {
    let (fake, app) = handshake_app(true, |s| s).await;
    let page = app
        .get(
            "/profile?__clerk_handshake_nonce=from-the-url",
            &[DOCUMENT, ACCEPT_HTML, HOST],
        )
        .await;
    assert_eq!(page.status, 303, "signed out, nothing resolved");
    assert_eq!(fake.hits(PAYLOAD).await, 0);
}

#[tokio::test]
async fn failed_nonces_are_not_looked_up_again_and_identical_ones_fly_once() {
    let (fake, app) = handshake_app(false, |s| s).await;
    Mock::given(method("GET"))
        .and(path(PAYLOAD))
        .respond_with(ResponseTemplate::new(404).set_delay(std::time::Duration::from_millis(200)))
        .mount(&fake.server)
        .await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.get(
                    "/?__clerk_handshake_nonce=same-nonce",
                    &[DOCUMENT, ACCEPT_HTML, HOST, DEV_BROWSER],
                )
                .await
                .status
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap() < 500);
    }
    assert_eq!(
        fake.hits(PAYLOAD).await,
        1,
        "eight identical look-ups, one call"
    );
    for _ in 0..3 {
        let again = app
            .get(
                "/?__clerk_handshake_nonce=same-nonce",
                &[DOCUMENT, ACCEPT_HTML, HOST, DEV_BROWSER],
            )
            .await;
        assert!(again.status < 500);
    }
    assert_eq!(fake.hits(PAYLOAD).await, 1, "a failed nonce is remembered");
}

#[tokio::test]
async fn handshake_nonces_spend_their_share_of_the_budget_and_never_the_reserve() {
    // A budget of 10 per 10 s: 2 for nonces, 4 for machine tokens, 4 kept for trusted calls.
    let (fake, app) = handshake_app(false, |s| s.set("backend_api_budget", "10")).await;
    app.ready().await;
    // The nonce share refills one call per 5 s, which a slow machine may earn during the test.
    let started = std::time::Instant::now();
    for i in 0..10u8 {
        // Each from an address of its own: the per-client window does not stop them.
        let from = std::net::SocketAddr::from(([192, 0, 2, i], 1_000));
        let uri = format!("/?__clerk_handshake_nonce=random-{i}");
        let page = app
            .get_from(from, &uri, &[DOCUMENT, ACCEPT_HTML, HOST, DEV_BROWSER])
            .await;
        assert_eq!(page.status, 200, "pages just do not resolve the nonce");
    }
    let calls = fake.hits(PAYLOAD).await;
    let refills = usize::try_from(started.elapsed().as_millis() / 5_000).unwrap();
    assert!(
        (2..=2 + refills).contains(&calls),
        "{calls} calls for a share of 2"
    );
    // A first sign-in without an email claim needs a user lookup: the reserve serves it.
    let user = user_id();
    fake.serve_user(&user, "ada@example.test").await;
    let token = key_a().sign(&with(claims(&user), json!({ "email": null })));
    let served = app.bearer(&token).await;
    assert_eq!(served.status, 200, "{:?}", served.body);
    assert_eq!(fake.hits(&format!("/v1/users/{user}")).await, 1);
    assert_eq!(app.count_users(&user).await, 1);
}

// Class 11: local mode never runs beside production, nor for the network, and its forms refuse
// cross-site posts and foreign host names.

#[test]
fn local_mode_refuses_to_start_beside_a_production_key() {
    for (variable, value) in [
        ("CLERK_PUBLISHABLE_KEY", publishable_key(ISSUER_HOST, true)),
        ("CLERK_SECRET_KEY", "sk_live_stray".to_owned()),
    ] {
        let stderr = refused_at_start(
            &[("CLERK_LOCAL_MODE", "true"), (variable, &value)],
            "CLERK_LOCAL_MODE",
        );
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains(&value), "no key echoed: {stderr}");
    }
}

#[test]
fn local_mode_from_a_stray_env_file_refuses_too() {
    let dir = scratch_dir();
    std::fs::write(dir.join(".env"), "CLERK_LOCAL_MODE=true\n").unwrap();
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let out = run(
        &dir,
        &["migrate"],
        &[
            ("DATABASE_URL", &url),
            ("CLERK_SECRET_KEY", "sk_live_stray"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: CLERK_LOCAL_MODE: "), "{stderr}");
}

#[test]
fn local_mode_refuses_a_network_address_without_the_override() {
    let env = [("CLERK_LOCAL_MODE", "true"), ("ROCKET_ADDRESS", "0.0.0.0")];
    let stderr = refused_at_start(&env, "CLERK_LOCAL_MODE");
    assert!(
        stderr.contains("CLERK_LOCAL_MODE_ALLOW_NETWORK"),
        "{stderr}"
    );
    let dir = scratch_dir();
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let mut env = env.to_vec();
    env.extend([
        ("CLERK_LOCAL_MODE_ALLOW_NETWORK", "true"),
        ("DATABASE_URL", &url),
    ]);
    let out = run(&dir, &["migrate"], &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn local_sign_in_forms_refuse_cross_site_posts_and_foreign_hosts() {
    let app = local_app().await;
    let form = "email=ada%40example.com";
    let local = ("Host", "127.0.0.1:8000");
    for headers in [
        vec![local, ("Origin", "https://evil.example")],
        vec![local, ("Origin", "null")],
        vec![local, ("Origin", "http://127.0.0.1:9999")],
        vec![local, ("Referer", "https://evil.example/x")],
        // DNS rebinding: evil.example resolving to 127.0.0.1, same origin as far as the browser knows.
        vec![
            ("Host", "evil.example:8000"),
            ("Origin", "http://evil.example:8000"),
        ],
        vec![("Host", "evil.example")],
    ] {
        let signed_in = app.post_form("/dev/sign-in", form, &headers).await;
        assert_eq!(signed_in.status, 403, "{headers:?}: {}", signed_in.text());
        assert!(signed_in.set_cookie("__session").is_none(), "{headers:?}");
        let signed_out = app.post_form("/dev/sign-out", "", &headers).await;
        assert_eq!(signed_out.status, 403, "{headers:?}");
        assert!(signed_out.set_cookie("__session").is_none(), "{headers:?}");
    }
    for headers in [
        vec![local, ("Origin", "http://127.0.0.1:8000")],
        vec![
            ("Host", "localhost:8000"),
            ("Referer", "http://localhost:8000/dev/sign-in"),
        ],
        vec![("Host", "[::1]:8000"), ("Origin", "http://[::1]:8000")],
        vec![local],
        vec![],
    ] {
        let signed_in = app.post_form("/dev/sign-in", form, &headers).await;
        assert_eq!(signed_in.status, 303, "{headers:?}: {}", signed_in.text());
        assert!(signed_in.set_cookie("__session").is_some(), "{headers:?}");
    }

    let open = Settings::local(&scratch_dir().join("local.pem"))
        .set("local_mode_allow_network", "true")
        .start()
        .await;
    let lan = [
        ("Host", "devbox.lan:8000"),
        ("Origin", "http://devbox.lan:8000"),
    ];
    let signed_in = open.post_form("/dev/sign-in", form, &lan).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    let cross = [
        ("Host", "devbox.lan:8000"),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(
        open.post_form("/dev/sign-in", form, &cross).await.status,
        403
    );
}

// Issue 20: the weak answers and the smaller defects found from outside.

#[tokio::test]
async fn a_slow_jwks_holds_a_request_with_an_unknown_kid_two_seconds_at_most() {
    let (fake, app) = clerk_app_with(|s| s.set("jwks_cooldown_secs", "0")).await;
    app.ready().await;
    serve_jwks_answer(
        &fake,
        1,
        ResponseTemplate::new(200)
            .set_body_json(json!({ "keys": [] }))
            .set_delay(std::time::Duration::from_secs(8)),
    )
    .await;
    let started = std::time::Instant::now();
    let refused = app.bearer(&key_b().sign(&claims(&user_id()))).await;
    let waited = started.elapsed();
    assert_refused(&refused, 401, "jwk-kid-mismatch");
    assert!(
        waited < std::time::Duration::from_secs(4),
        "answered after {waited:?}"
    );
    // The known key is served meanwhile, without waiting for the slow fetch.
    let started = std::time::Instant::now();
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&user_id()))).await.status,
        200
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn admin_paths_with_odd_ids_are_not_bad_requests() {
    let (_fake, app) = clerk_app_with(|s| s.set("admin_user_ids", "user_admin")).await;
    let admin = key_a().sign(&claims("user_admin"));
    assert_eq!(app.get_as("/api/users/me", &admin).await.status, 200);
    let target = user_id();
    app.seed_user(&target, "t@example.test", None, None).await;
    let upper = target.replacen("user_", "USER_", 1);
    let shouted = target.to_ascii_uppercase();
    for id in [upper.as_str(), shouted.as_str(), "USER_admin", "User_Admin"] {
        let answer = app.get_as(&format!("/api/admin/users/{id}"), &admin).await;
        assert_refused(&answer, 404, "not-found");
    }
    for path in [
        "/api/admin/users/a%2Fb",
        "/api/admin/users/%2F",
        "/admin/users/a%2Fb",
    ] {
        // A page sends an anonymous visitor to sign in (303); the API answers 401.
        let anonymous = app.get(path, &[]).await;
        assert!(
            [401, 403, 404].contains(&anonymous.status)
                || (path.starts_with("/admin") && anonymous.status == 303),
            "{path}: {} {:?}",
            anonymous.status,
            anonymous.body
        );
        let signed_in = app.get_as(path, &admin).await;
        assert!(
            [403, 404].contains(&signed_in.status),
            "{path}: {} {:?}",
            signed_in.status,
            signed_in.body
        );
    }
    // The client's own text in a refusal is printable ASCII, whatever it held.
    let answer = app
        .get_as("/api/admin/users/%C3%A9%E2%80%AE%0D%0Ax", &admin)
        .await;
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"????x\""), "{message:?}");
}

#[tokio::test]
async fn an_origin_of_another_scheme_is_not_ours_and_https_gets_hsts() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = app_with_writes(&fake).await;
    let token = key_a().sign(&claims(&user_id()));
    let cookie = browser_cookies(&token);
    let host = ("Host", "api.example.test");
    let https = ("X-Forwarded-Proto", "https");
    for headers in [
        vec![("Origin", "http://api.example.test"), https],
        vec![("Referer", "http://api.example.test/profile"), https],
        vec![("Origin", "https://api.example.test")],
    ] {
        let mut headers = headers;
        headers.extend([host, ("Cookie", cookie.as_str())]);
        let answer = app.post("/api/notes", &headers, vec![]).await;
        assert_refused(&answer, 403, "origin-not-allowed");
    }
    let answer = app
        .post(
            "/api/notes",
            &[
                ("Origin", "https://api.example.test"),
                https,
                host,
                ("Cookie", &cookie),
            ],
            vec![],
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let hsts = |answer: &Answer| {
        answer
            .header("Strict-Transport-Security")
            .map(str::to_owned)
    };
    assert_eq!(
        hsts(&app.get("/health", &[https]).await).as_deref(),
        Some("max-age=31536000")
    );
    assert_eq!(hsts(&app.get("/health", &[]).await), None, "plain http");
    assert_eq!(
        hsts(&app.get("/health", &[("X-Forwarded-Proto", "http")]).await),
        None
    );
}

#[tokio::test]
async fn metrics_are_for_this_machine_or_the_metrics_token() {
    let (_fake, app) = clerk_app().await;
    assert_eq!(app.get("/metrics", &[]).await.status, 200, "this machine");
    for (peer, headers) in [
        ("203.0.113.9:4711", vec![]),
        ("127.0.0.1:4711", vec![("X-Forwarded-For", "203.0.113.9")]),
        ("127.0.0.1:4711", vec![("X-Real-IP", "203.0.113.9")]),
        (
            "127.0.0.1:4711",
            vec![("Forwarded", "for=203.0.113.9;proto=https")],
        ),
        ("[::1]:4711", vec![("X-Forwarded-For", "unknown")]),
    ] {
        let answer = app.get_from(peer, "/metrics", &headers).await;
        assert_refused(&answer, 403, "forbidden");
        assert!(!answer.text().contains("clerk_auth_outcomes_total"));
    }
    let token = "metrics-token-0123456789abcdef";
    let (_fake, app) = clerk_app_with(|s| s.set("metrics_token", token)).await;
    let elsewhere = "203.0.113.9:4711";
    let bearer = format!("Bearer {token}");
    let scraped = app
        .get_from(elsewhere, "/metrics", &[("Authorization", &bearer)])
        .await;
    assert_eq!(scraped.status, 200);
    assert!(scraped.text().contains("clerk_jwks_key_age_seconds"));
    for headers in [
        vec![],
        vec![("Authorization", "Bearer metrics-token-0123456789abcdeX")],
        vec![("Authorization", token)],
    ] {
        let answer = app.get_from(elsewhere, "/metrics", &headers).await;
        assert_refused(&answer, 401, "token-invalid");
    }
    // The token is needed from this machine too, once it is set.
    assert_eq!(app.get("/metrics", &[]).await.status, 401);
}

#[tokio::test]
async fn local_sign_in_is_for_this_machine_whatever_host_a_proxy_writes() {
    let app = local_app().await;
    let form = "email=ada%40example.com&admin=true";
    // nginx's default: Host rewritten to the upstream's, the client's address forwarded.
    let proxied = [("Host", "127.0.0.1:8000")];
    for (peer, headers) in [
        ("203.0.113.9:4711", proxied.to_vec()),
        (
            "127.0.0.1:4711",
            vec![proxied[0], ("X-Forwarded-For", "203.0.113.9")],
        ),
        (
            "127.0.0.1:4711",
            vec![proxied[0], ("X-Real-IP", "198.51.100.1")],
        ),
        (
            "127.0.0.1:4711",
            vec![proxied[0], ("Forwarded", "for=\"[2001:db8::1]:4711\"")],
        ),
    ] {
        let answer = app
            .post_form_from(peer, "/dev/sign-in", form, &headers)
            .await;
        assert_eq!(answer.status, 403, "{peer} {headers:?}: {}", answer.text());
        assert!(answer.set_cookie("__session").is_none());
    }
    let here = app
        .post_form_from(
            "127.0.0.1:4711",
            "/dev/sign-in",
            form,
            &[proxied[0], ("X-Forwarded-For", "127.0.0.1")],
        )
        .await;
    assert_eq!(here.status, 303, "{}", here.text());
    let open = Settings::local(&scratch_dir().join("local.pem"))
        .set("local_mode_allow_network", "true")
        .start()
        .await;
    let lan = open
        .post_form_from(
            "192.168.1.20:4711",
            "/dev/sign-in",
            form,
            &[("Host", "devbox.lan:8000")],
        )
        .await;
    assert_eq!(lan.status, 303, "allowed by the override: {}", lan.text());
}

#[tokio::test]
async fn unresolved_nonces_are_counted_not_logged() {
    let (fake, app) = handshake_app(false, |s| s).await;
    app.ready().await;
    for i in 0..3 {
        let uri = format!("/?__clerk_handshake_nonce=unknown-{i}");
        let dev_browser = ("Cookie", "__clerk_db_jwt=dvb_test");
        // Each from a client of its own: one client has one nonce looked up per 5 s.
        let page = app
            .get_from(
                format!("192.0.2.{}:4711", i + 1),
                &uri,
                &[DOCUMENT, ACCEPT_HTML, HOST, dev_browser],
            )
            .await;
        assert_eq!(page.status, 200);
    }
    assert_eq!(fake.hits(PAYLOAD).await, 3);
    let text = app.get("/metrics", &[]).await.text();
    assert!(
        text.contains("clerk_handshake_nonces_total{result=\"unresolved\"} 3"),
        "{text}"
    );
}
