//! The Backend API budget under attack: floods of made-up handshake nonces and API keys cannot
//! spend the calls that signed-in users, administrators and `sync` need; a nonce is resolved only
//! for a browser with a Clerk client and no valid session, once per client per window; Clerk's
//! own 429 is waited out, never taken for an outage. The fake Clerk is a real HTTP server on
//! 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use clerk_rocket::clerk::backend_api::NONCE_WINDOW;
use clerk_rocket::clerk::machine::TokenType;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

const SECRET: &str = "sk_test_budget0123456789";
const PAYLOAD: &str = "/v1/clients/handshake_payload";
const HOST: (&str, &str) = ("Host", "app.example.test");
const DOCUMENT: (&str, &str) = ("Sec-Fetch-Dest", "document");

fn peer(last: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, last], 40_000))
}

/// An app of a `live` (production) or development instance with the secret key, `admin` in
/// `CLERK_ADMIN_USER_IDS`, and a budget of 100 calls per 10 s (Clerk's limit of a development
/// instance).
async fn budget_app(live: bool, admin: &str) -> (FakeClerk, TestApp) {
    clerk_app_with(|s| {
        s.unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, live))
            .set("secret_key", SECRET)
            .set("admin_user_ids", admin)
            .set("backend_api_budget", "100")
            .set("trusted_proxies", "127.0.0.1")
    })
    .await
}

async fn serve_payload(fake: &FakeClerk, nonce: &str, directives: &[String]) {
    Mock::given(method("GET"))
        .and(path(PAYLOAD))
        .and(query_param("nonce", nonce))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "directives": directives })))
        .mount(&fake.server)
        .await;
}

/// Every request that reached the fake's Backend API paths (`/v1/…` and the verify endpoints).
async fn backend_calls(fake: &FakeClerk) -> usize {
    fake.server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() != "/.well-known/jwks.json")
        .count()
}

/// The cookies a returning browser of a production instance carries: the nonce, and the
/// `__client_uat` that Clerk's frontend API sets with it (a stranger sends both just as well).
fn nonce_cookie(nonce: &str) -> String {
    format!("__clerk_handshake_nonce={nonce}; __client_uat={}", now())
}

/// Floods the app with `n` random nonces and `n` random API keys, from `clients` addresses in
/// turn; every answer is below 500 or a 503 with `Retry-After`.
async fn flood(app: &TestApp, n: usize, clients: usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let app = app.clone();
        let from = SocketAddr::from(([203, 0, 113, u8::try_from(i % clients).unwrap()], 50_000));
        tasks.push(tokio::spawn(async move {
            let cookie = nonce_cookie(&unique("nonce"));
            let page = app
                .get_from(
                    from,
                    "/profile",
                    &[ACCEPT_HTML, DOCUMENT, HOST, ("Cookie", &cookie)],
                )
                .await;
            assert!(page.status < 500, "{}", page.status);
            let key = opaque_token(TokenType::ApiKey);
            let authorization = format!("Bearer {key}");
            let answer = app
                .get_from(from, "/api/whoami", &[("Authorization", &authorization)])
                .await;
            // Refused, or told to come back (the code is `rate-limited`: see below).
            assert!(
                answer.status == 401 || answer.status == 503,
                "{}: {:?}",
                answer.status,
                answer.body
            );
            assert!(answer.status == 401 || answer.header("Retry-After").is_some());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_flood_a_new_api_key_a_first_sign_in_and_an_admin_action_succeed() {
    let admin = user_id();
    let (fake, app) = budget_app(true, &admin).await;
    app.ready().await;
    let target = user_id();
    let target_tok = key_a().sign(&claims(&target));
    assert_eq!(app.bearer(&target_tok).await.status, 200);
    fake.serve_user_admin(&target, &[]).await;
    let before = backend_calls(&fake).await;

    // 150 made-up nonces and 150 made-up API keys from one address: today's budget of 100
    // would be gone after the first 100 nonces.
    flood(&app, 150, 1).await;
    let nonce_calls = fake.hits(PAYLOAD).await;
    let key_calls = fake.verify_calls(TokenType::ApiKey).await;
    // Shown with `cargo test budget:: -- --nocapture`.
    println!("one address: {nonce_calls} nonce calls, {key_calls} API key calls");
    assert!(
        nonce_calls <= 2,
        "one nonce per client per window: {nonce_calls}"
    );
    assert!(
        key_calls <= 10,
        "the client's allowance of unknown keys: {key_calls}"
    );

    // A valid API key never seen before, from another client.
    let key = opaque_token(TokenType::ApiKey);
    fake.serve_machine_token(
        TokenType::ApiKey,
        &key,
        verified_json(TokenType::ApiKey, &user_id(), &[]),
    )
    .await;
    let authorization = format!("Bearer {key}");
    let machine = app
        .get_from(peer(1), "/api/whoami", &[("Authorization", &authorization)])
        .await;
    assert_eq!(machine.status, 200, "{:?}", machine.body);

    // A first sign-in whose token has no email claim: the Backend API's user look-up.
    let newcomer = user_id();
    fake.serve_user(&newcomer, "newcomer@example.test").await;
    let token = key_a().sign(&with(claims(&newcomer), json!({ "email": null })));
    let signed_in = app.bearer(&token).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(app.count_users(&newcomer).await, 1);

    // An administrator's action.
    let admin_tok = key_a().sign(&claims(&admin));
    let banned = app
        .post(
            &format!("/api/admin/users/{target}/ban"),
            &[("Authorization", &format!("Bearer {admin_tok}"))],
            Vec::new(),
        )
        .await;
    assert_eq!(banned.status, 200, "{:?}", banned.body);
    assert!(backend_calls(&fake).await - before <= 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_many_addresses_spends_its_shares_never_the_reserve() {
    let admin = user_id();
    let (fake, app) = budget_app(true, &admin).await;
    app.ready().await;
    let target = user_id();
    assert_eq!(
        app.bearer(&key_a().sign(&claims(&target))).await.status,
        200
    );
    fake.serve_user_admin(&target, &[]).await;
    let started = std::time::Instant::now();

    // 200 nonces and 200 keys from 200 addresses: every client is new each time.
    flood(&app, 200, 200).await;
    // The shares of 100: 20 for nonces, 40 for machine tokens (plus what refilled meanwhile,
    // 2 and 4 a second).
    let secs = usize::try_from(started.elapsed().as_secs()).unwrap() + 1;
    let nonce_calls = fake.hits(PAYLOAD).await;
    let key_calls = fake.verify_calls(TokenType::ApiKey).await;
    println!("200 addresses: {nonce_calls} nonce calls, {key_calls} API key calls in {secs} s");
    assert!(nonce_calls <= 20 + 2 * secs, "{nonce_calls} nonce calls");
    assert!(key_calls <= 40 + 4 * secs, "{key_calls} key calls");

    // The reserve is untouched: a first sign-in and an admin action are served.
    let newcomer = user_id();
    fake.serve_user(&newcomer, "many@example.test").await;
    let token = key_a().sign(&with(claims(&newcomer), json!({ "email": null })));
    let signed_in = app.bearer(&token).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let admin_tok = key_a().sign(&claims(&admin));
    let banned = app
        .post(
            &format!("/api/admin/users/{target}/ban"),
            &[("Authorization", &format!("Bearer {admin_tok}"))],
            Vec::new(),
        )
        .await;
    assert_eq!(banned.status, 200, "{:?}", banned.body);
}

#[tokio::test]
async fn a_nonce_is_resolved_only_for_a_clerk_client_without_a_valid_session() {
    // A development instance, where the nonce comes in the URL.
    let (fake, app) = budget_app(false, "user_nobody").await;
    let user = user_id();
    let fresh = key_a().sign(&claims(&user));
    let directives = vec![format!("__session={fresh}; Path=/; SameSite=Lax")];
    for nonce in ["n-bare", "n-signed-in", "n-client"] {
        serve_payload(&fake, nonce, &directives).await;
    }

    // No Clerk client at all (no `__client_uat`, no dev browser): not resolved.
    let bare = app
        .get_from(
            peer(10),
            "/profile?__clerk_handshake_nonce=n-bare",
            &[ACCEPT_HTML, DOCUMENT, HOST],
        )
        .await;
    assert!(bare.status < 500);
    assert_eq!(fake.hits(PAYLOAD).await, 0, "no Clerk client: no call");

    // A session that verifies: nothing to resolve.
    let signed_in = key_a().sign(&claims(&user_id()));
    let cookies = browser_cookies(&signed_in);
    let page = app
        .get_from(
            peer(11),
            "/profile?__clerk_handshake_nonce=n-signed-in",
            &[ACCEPT_HTML, DOCUMENT, HOST, ("Cookie", &cookies)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(fake.hits(PAYLOAD).await, 0, "a valid session: no call");

    // A Clerk client without a session: resolved.
    let back = app
        .get_from(
            peer(12),
            "/profile?__clerk_handshake_nonce=n-client",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", "__client_uat=0; __clerk_db_jwt=dvb_test"),
            ],
        )
        .await;
    assert_eq!(back.status, 307, "{}", back.text());
    assert_eq!(
        back.set_cookie("__session").as_deref(),
        Some(fresh.as_str())
    );
    assert_eq!(fake.hits(PAYLOAD).await, 1);
}

#[tokio::test]
async fn one_nonce_per_client_per_window_and_the_client_is_the_first_untrusted_address() {
    let (fake, app) = budget_app(true, "user_nobody").await;
    let ask = |from: SocketAddr, forwarded: Option<&'static str>| {
        let app = app.clone();
        async move {
            let cookie = nonce_cookie(&unique("nonce"));
            let mut headers = vec![ACCEPT_HTML, DOCUMENT, HOST, ("Cookie", cookie.as_str())];
            if let Some(forwarded) = forwarded {
                headers.push(("X-Forwarded-For", forwarded));
            }
            assert!(app.get_from(from, "/profile", &headers).await.status < 500);
        }
    };
    let calls = || async { fake.hits(PAYLOAD).await };

    ask(peer(20), None).await;
    assert_eq!(calls().await, 1);
    ask(peer(20), None).await;
    assert_eq!(calls().await, 1, "the same client within the window");
    ask(peer(21), None).await;
    assert_eq!(calls().await, 2, "another client");

    // Behind the trusted proxy (127.0.0.1), the client is the address the proxy forwards…
    let proxy = SocketAddr::from(([127, 0, 0, 1], 41_000));
    ask(proxy, Some("192.0.2.5")).await;
    assert_eq!(calls().await, 3);
    ask(proxy, Some("192.0.2.5")).await;
    assert_eq!(calls().await, 3, "the forwarded client's window");
    // …never what the client wrote left of it,
    ask(proxy, Some("10.9.9.9, 192.0.2.5")).await;
    assert_eq!(
        calls().await,
        3,
        "a made-up entry does not make a new client"
    );
    // and an untrusted peer's X-Forwarded-For is not read at all.
    ask(peer(20), Some("192.0.2.77")).await;
    assert_eq!(calls().await, 3, "still the peer 198.51.100.20");

    tokio::time::sleep(NONCE_WINDOW + Duration::from_millis(200)).await;
    ask(peer(20), None).await;
    assert_eq!(calls().await, 4, "the window passed");
}

#[tokio::test]
async fn clerks_429_is_a_rate_limit_waited_out_by_everyone() {
    let (fake, app) = budget_app(false, "user_nobody").await;
    let user = user_id();
    Mock::given(method("GET"))
        .and(path(format!("/v1/users/{user}")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3")
                .set_body_json(json!({ "errors": [{ "code": "too_many_requests" }] })),
        )
        .mount(&fake.server)
        .await;
    let token = key_a().sign(&with(claims(&user), json!({ "email": null })));
    let refused = app.bearer(&token).await;
    assert_eq!(
        (refused.status, refused.code()),
        (503, "rate-limited"),
        "{:?}",
        refused.body
    );
    let retry_after: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
    assert!((3..=4).contains(&retry_after), "{retry_after}");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{:?}",
        refused.body
    );
    // While Clerk's pause lasts nobody calls: another look-up, an API key.
    let other = user_id();
    let again = app
        .bearer(&key_a().sign(&with(claims(&other), json!({ "email": null }))))
        .await;
    assert_eq!((again.status, again.code()), (503, "rate-limited"));
    let key = opaque_token(TokenType::ApiKey);
    let machine = app.get_as("/api/whoami", &key).await;
    assert_eq!((machine.status, machine.code()), (503, "rate-limited"));
    assert!(machine.header("Retry-After").is_some());
    assert_eq!(fake.hits(&format!("/v1/users/{user}")).await, 1);
    assert_eq!(fake.hits(&format!("/v1/users/{other}")).await, 0);
    assert_eq!(fake.verify_calls(TokenType::ApiKey).await, 0);
}

#[tokio::test]
async fn sync_waits_out_clerks_429_and_goes_on() {
    let fake = FakeClerk::start().await;
    let users: Vec<serde_json::Value> = (0..2)
        .map(|i| clerk_user(&user_id(), &format!("limited{i}@example.test"), 1_000))
        .collect();
    // The first three listings are refused with Retry-After: 1 (more than a retry of an outage
    // would wait through), the next one answered.
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(users)))
        .mount(&fake.server)
        .await;
    fake.serve_organizations_turned_off().await;
    let dir = scratch_dir();
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let api_url = fake.api_url();
    let env: Vec<(String, String)> = [
        ("CLERK_JWT_ISSUER", "https://clerk.example.test"),
        ("CLERK_SECRET_KEY", SECRET),
        ("CLERK_API_URL", api_url.as_str()),
        ("DATABASE_URL", url.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run(&dir, &["sync"], &env)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 users in Clerk"), "{stdout}");
    assert!(stdout.contains("2 created"), "{stdout}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Retry-After was waited out"
    );
    assert_eq!(fake.hits("/v1/users").await, 4);
}
