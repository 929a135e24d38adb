//! The Frontend API through this server (`CLERK_PROXY_URL`): what is forwarded, what comes back,
//! what is refused, and how pages and handshakes follow the proxy. A real HTTP server on
//! 127.0.0.1 stands in for the Frontend API.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

const SECRET: &str = "sk_test_proxy_secret";
const HOST: (&str, &str) = ("Host", "app.test");

/// A stand-in Frontend API (the fake Clerk's server), and an app proxying `/__clerk` to it.
async fn proxied() -> (FakeClerk, TestApp) {
    proxied_with(|settings| settings).await
}

async fn proxied_with(configure: impl FnOnce(Settings) -> Settings) -> (FakeClerk, TestApp) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let settings = Settings::clerk(&fake)
        .set("secret_key", SECRET)
        .set("proxy_url", "/__clerk")
        .set("fapi_url", &fake.api_url());
    let app = configure(settings).start().await;
    (fake, app)
}

#[tokio::test]
async fn requests_are_forwarded_with_clerk_s_headers_and_without_hop_by_hop_ones() {
    let (fake, app) = proxied().await;
    Mock::given(method("POST"))
        .and(path("/v1/client/sign_ins"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-fapi", "yes")
                .append_header("set-cookie", "__client=a; Path=/")
                .append_header("set-cookie", "__client_uat=1; Path=/")
                .insert_header("x-echo", SECRET)
                .set_body_json(json!({ "response": { "object": "sign_in_attempt" } })),
        )
        .mount(&fake.server)
        .await;
    let answer = app
        .post(
            "/__clerk/v1/client/sign_ins?_clerk_js_version=6.1.0&a=%20b",
            &[
                HOST,
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", "__client=old"),
                ("Clerk-Secret-Key", "sk_test_forged"),
                ("Clerk-Proxy-Url", "https://evil.test"),
                ("Proxy-Authorization", "Basic eA=="),
                ("Connection", "x-private"),
                ("X-Private", "hop"),
                ("Accept-Encoding", "gzip"),
                ("X-Real-IP", "198.51.100.66"),
                ("X-Forwarded-For", "198.51.100.67"),
            ],
            b"identifier=ada%40example.test".to_vec(),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(answer.body["response"]["object"], "sign_in_attempt");
    assert_eq!(answer.header("x-fapi"), Some("yes"));
    assert_eq!(answer.all("set-cookie").len(), 2, "{:?}", answer.headers);
    assert!(
        answer.headers.iter().all(|(_, v)| !v.contains(SECRET)),
        "the secret key never comes back: {:?}",
        answer.headers
    );

    let received = fake.server.received_requests().await.unwrap();
    let forwarded = received
        .iter()
        .find(|r| r.url.path() == "/v1/client/sign_ins")
        .expect("the request reached the Frontend API");
    assert_eq!(
        forwarded.url.query(),
        Some("_clerk_js_version=6.1.0&a=%20b"),
        "the query as sent"
    );
    assert_eq!(forwarded.body, b"identifier=ada%40example.test");
    let header = |name: &str| {
        forwarded
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("clerk-secret-key").as_deref(), Some(SECRET));
    assert_eq!(
        header("clerk-proxy-url").as_deref(),
        Some("http://app.test/__clerk")
    );
    assert_eq!(header("accept-encoding").as_deref(), Some("identity"));
    assert_eq!(header("x-forwarded-host").as_deref(), Some("app.test"));
    assert_eq!(header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(header("cookie").as_deref(), Some("__client=old"));
    assert_eq!(header("proxy-authorization"), None);
    assert_eq!(
        header("x-forwarded-for").as_deref(),
        Some("127.0.0.1"),
        "the peer, not what the client wrote"
    );
    assert_eq!(header("x-private"), None, "named by Connection: hop-by-hop");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_frontend_api_s_location_points_at_the_proxy() {
    let (fake, app) = proxied().await;
    let fapi = fake.api_url();
    Mock::given(method("GET"))
        .and(path("/v1/client/handshake"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{fapi}/v1/client/sync?x=1#f").as_str()),
        )
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/elsewhere"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "https://app.test/done?y=2"),
        )
        .mount(&fake.server)
        .await;
    let own = app
        .get("/__clerk/v1/client/handshake?redirect_url=x", &[HOST])
        .await;
    assert_eq!(own.status, 307);
    assert_eq!(
        own.header("location"),
        Some("http://app.test/__clerk/v1/client/sync?x=1#f")
    );
    let other = app.get("/__clerk/v1/elsewhere", &[HOST]).await;
    assert_eq!(other.status, 302);
    assert_eq!(other.header("location"), Some("https://app.test/done?y=2"));
    assert_eq!(fake.hits("/v1/client/sync").await, 0, "never followed");
}

#[tokio::test]
async fn paths_that_would_leave_the_frontend_api_are_refused_before_anything_is_sent() {
    let (fake, app) = proxied().await;
    for uri in [
        "/__clerk/..%2F..%2Fadmin",
        "/__clerk/%2e%2e/v1/jwks",
        "/__clerk/v1/%2E%2E/x",
        "/__clerk/a%5Cb",
        "/__clerk/a%2fb",
    ] {
        let answer = app.get(uri, &[HOST]).await;
        assert_eq!(answer.status, 400, "{uri}: {:?}", answer.body);
        assert_eq!(
            answer.body["errors"][0]["code"], "proxy_request_failed",
            "{uri}"
        );
    }
    // Only the app's own key fetches reached the stand-in (it serves the JWKS too).
    let reached: Vec<String> = fake
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| !p.ends_with("jwks.json") && p != "/v1/jwks")
        .collect();
    assert!(reached.is_empty(), "{reached:?}");
}

#[tokio::test]
async fn bodies_are_bounded_and_large_answers_are_streamed_whole() {
    let (fake, app) = proxied().await;
    let bundle = "x".repeat(3 * 1024 * 1024);
    Mock::given(method("GET"))
        .and(path("/npm/@clerk/clerk-js@6/dist/clerk.browser.js"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/javascript")
                .set_body_string(bundle.clone()),
        )
        .mount(&fake.server)
        .await;
    let script = app
        .get(
            "/__clerk/npm/@clerk/clerk-js@6/dist/clerk.browser.js",
            &[HOST],
        )
        .await;
    assert_eq!(script.status, 200);
    assert_eq!(script.text().len(), bundle.len());

    let too_large = vec![b'a'; 1024 * 1024 + 1];
    let answer = app
        .post("/__clerk/v1/client/sign_ins", &[HOST], too_large)
        .await;
    assert_eq!(answer.status, 413, "{:?}", answer.body);
    assert_eq!(answer.body["errors"][0]["code"], "proxy_request_too_large");
    assert_eq!(fake.hits("/v1/client/sign_ins").await, 0);
}

#[tokio::test]
async fn an_unreachable_frontend_api_is_a_502_in_clerk_s_error_shape() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_fake, app) = proxied_with(|settings| settings.set("fapi_url", &url)).await;
    let answer = app.get("/__clerk/v1/environment", &[HOST]).await;
    assert_eq!(answer.status, 502, "{:?}", answer.body);
    assert_eq!(answer.body["errors"][0]["code"], "proxy_request_failed");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn pages_load_clerkjs_through_the_proxy_and_handshakes_go_through_it() {
    let pk = publishable_key(ISSUER_HOST, false);
    let (_fake, app) = proxied_with(|settings| settings.set("publishable_key", &pk)).await;
    // A development instance's browser, known by its `__clerk_db_jwt`.
    let page = app
        .get(
            "/sign-in",
            &[HOST, ACCEPT_HTML, ("Cookie", "__clerk_db_jwt=dvb_test")],
        )
        .await;
    assert_eq!(page.status, 200, "{:?}", page.headers);
    // Tera escapes `/` in attributes (`&#x2F;`), which browsers read back as `/`.
    let html = page.text().replace("&#x2F;", "/");
    assert!(
        html.contains(r#"data-clerk-proxy-url="/__clerk""#)
            && html.contains(r#"src="/__clerk/npm/@clerk/clerk-js@"#),
        "{html}"
    );
    assert!(
        !html.contains(&format!("https://{ISSUER_HOST}/npm/")),
        "{html}"
    );

    // An expired cookie token with a live client: Clerk's handshake, through the proxy.
    let expired = key_a().sign(&with(
        claims(&user_id()),
        json!({ "iat": now() - 120, "nbf": now() - 120, "exp": now() - 60 }),
    ));
    let cookies = format!("__session={expired}; __client_uat=1; __clerk_db_jwt=dvb_test");
    let answer = app
        .get(
            "/profile",
            &[
                HOST,
                ACCEPT_HTML,
                ("Sec-Fetch-Dest", "document"),
                ("Cookie", &cookies),
            ],
        )
        .await;
    assert_eq!(answer.status, 307, "{:?}", answer.body);
    let location = answer.header("location").unwrap_or_default();
    assert!(
        location.starts_with("http://app.test/__clerk/v1/client/handshake?"),
        "{location}"
    );
}
