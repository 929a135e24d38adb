//! Server-rendered pages: guards, the session refresh (handshake and interstitial), local-mode
//! sign-in, escaping, headers.

use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

const DOCUMENT: (&str, &str) = ("Sec-Fetch-Dest", "document");
const HOST: (&str, &str) = ("Host", "app.example.test");

/// A Clerk-mode app whose publishable key names the fake's issuer host.
async fn clerk_pages(secret: bool, live: bool) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| {
        let settings = settings
            .unset("jwt_issuer")
            .set("publishable_key", &publishable_key(ISSUER_HOST, live));
        if secret {
            settings.set("secret_key", "sk_test_pages")
        } else {
            settings
        }
    })
    .await
}

fn session_cookies(token: &str, client_uat: i64) -> String {
    format!("__session={token}; __client_uat={client_uat}; __clerk_db_jwt=dvb_test")
}

#[tokio::test]
async fn local_mode_sign_in_profile_and_sign_out() {
    let app = local_app().await;
    let home = app.get_html("/").await;
    assert_eq!(home.status, 200);
    let html = home.text();
    assert!(html.contains("Local mode"), "the banner");
    assert!(html.contains("href=\"/sign-in\""));
    assert!(
        !html.contains("clerk.browser.js"),
        "no ClerkJS in local mode"
    );

    let profile = app.get_html("/profile").await;
    assert_eq!(profile.status, 303);
    assert_eq!(
        profile.header("Location"),
        Some("/sign-in?redirect_url=%2Fprofile")
    );
    let sign_in = app.get_html("/sign-in?redirect_url=%2Fprofile").await;
    assert_eq!(
        (sign_in.status, sign_in.header("Location")),
        (303, Some("/dev/sign-in?redirect_url=%2Fprofile"))
    );
    let form = app.get_html("/dev/sign-in?redirect_url=%2Fprofile").await;
    assert_eq!(form.status, 200);
    assert!(
        form.text()
            .contains("name=\"redirect_url\" value=\"&#x2F;profile\""),
        "{}",
        form.text()
    );

    let bad = app
        .post_form(
            "/dev/sign-in",
            "email=not-an-email&redirect_url=%2Fprofile",
            &[],
        )
        .await;
    assert_eq!(bad.status, 200);
    assert!(bad.text().contains("Enter an email address"));
    assert!(bad.set_cookie("__session").is_none());

    let signed = app
        .post_form(
            "/dev/sign-in",
            "email=ada%40example.com&first_name=Ada&last_name=Lovelace&redirect_url=%2Fprofile",
            // Local sign-in answers a loopback Host only (DNS rebinding).
            &[("Host", "127.0.0.1:8000")],
        )
        .await;
    assert_eq!(
        (signed.status, signed.header("Location")),
        (303, Some("/profile"))
    );
    let token = signed.set_cookie("__session").expect("the session cookie");
    let cookie_line = signed
        .all("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("__session="))
        .unwrap()
        .to_owned();
    assert!(
        cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Lax"),
        "{cookie_line}"
    );

    let profile = app
        .get(
            "/profile",
            &[ACCEPT_HTML, ("Cookie", &format!("__session={token}"))],
        )
        .await;
    assert_eq!(profile.status, 200);
    let html = profile.text();
    assert!(
        html.contains("ada@example.com") && html.contains("Ada Lovelace"),
        "{html}"
    );
    assert!(html.contains("sess_local_"), "the session id");
    assert!(
        !html.contains("href=\"/admin/users\""),
        "no admin link for a member"
    );
    assert_eq!(profile.header("Cache-Control"), Some("no-store"));
    assert_eq!(profile.header("Vary"), Some("Authorization, Cookie"));

    let out = app
        .post_form(
            "/dev/sign-out",
            "",
            &[("Cookie", &format!("__session={token}"))],
        )
        .await;
    assert_eq!((out.status, out.header("Location")), (303, Some("/")));
    let removal = out
        .all("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("__session="))
        .expect("a removal cookie")
        .to_owned();
    assert!(
        removal.starts_with("__session=;") && removal.contains("Max-Age=0"),
        "{removal}"
    );
}

#[tokio::test]
async fn admin_link_only_for_admins() {
    let app = local_app().await;
    let signed = app
        .post_form("/dev/sign-in", "email=boss%40example.com&admin=true", &[])
        .await;
    let token = signed.set_cookie("__session").unwrap();
    let home = app
        .get(
            "/",
            &[ACCEPT_HTML, ("Cookie", &format!("__session={token}"))],
        )
        .await;
    // The nav's Admin link leads to the dashboard, which links to the users table.
    assert!(home.text().contains("<a href=\"/admin\">Admin</a>"));
    assert!(home.text().contains("Welcome back, boss@example.com"));
}

#[tokio::test]
async fn names_are_escaped() {
    let app = local_app().await;
    let signed = app
        .post_form(
            "/dev/sign-in",
            "email=x%40example.com&first_name=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            &[],
        )
        .await;
    let token = signed.set_cookie("__session").unwrap();
    let html = app
        .get(
            "/profile",
            &[ACCEPT_HTML, ("Cookie", &format!("__session={token}"))],
        )
        .await
        .text();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"));
}

#[tokio::test]
async fn dev_sign_in_redirects_only_to_same_origin_paths() {
    let app = local_app().await;
    for (attempt, expected) in [
        ("%2F%2Fevil.test", "/"),
        ("%2F%5Cevil.test", "/"),
        ("https%3A%2F%2Fevil.test", "/"),
        ("javascript%3Aalert(1)", "/"),
        ("%2Fok%0D%0ASet-Cookie%3A%20x%3Dy", "/"),
        ("%2F%252F%252Fevil.test", "/"),
        ("%2Fprofile%3Ftab%3D1", "/profile?tab=1"),
    ] {
        let answer = app
            .post_form(
                "/dev/sign-in",
                &format!("email=a%40b.test&redirect_url={attempt}"),
                &[],
            )
            .await;
        assert_eq!(
            (answer.status, answer.header("Location")),
            (303, Some(expected)),
            "{attempt}"
        );
    }
}

#[tokio::test]
async fn errors_are_html_for_pages_and_json_for_the_api() {
    let app = local_app().await;
    let page = app.get_html("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page
        .header("Content-Type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().contains("Not found"));
    let api = app.get_html("/api/no/such/route").await;
    assert_eq!((api.status, api.code()), (404, "not-found"));
}

#[tokio::test]
async fn security_headers_on_pages() {
    let (_fake, app) = clerk_pages(false, false).await;
    let page = app.get_html("/sign-in").await;
    assert_eq!(page.status, 200);
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains("script-src 'self' https://clerk.example.test"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://clerk.example.test"),
        "{csp}"
    );
    assert!(
        csp.contains("img-src 'self' https://img.clerk.com"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("'unsafe-inline'; worker")
            || !csp.contains("script-src 'self' 'unsafe-inline'"),
        "no inline scripts"
    );
    assert_eq!(page.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(
        page.header("Referrer-Policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert!(
        !page.text().contains("<script>"),
        "no inline script element"
    );
}

#[tokio::test]
async fn sign_in_page_loads_clerk_js_from_the_frontend_api() {
    let (_fake, app) = clerk_pages(false, false).await;
    let html = app
        .get_html("/sign-in?redirect_url=%2Fprofile")
        .await
        .text();
    let pk = publishable_key(ISSUER_HOST, false);
    assert!(html.contains("src=\"https:&#x2F;&#x2F;clerk.example.test&#x2F;npm&#x2F;@clerk&#x2F;clerk-js@6&#x2F;dist&#x2F;clerk.browser.js\"")
        || html.contains("src=\"https://clerk.example.test/npm/@clerk/clerk-js@6/dist/clerk.browser.js\""), "{html}");
    assert!(html.contains("clerk.example.test") && html.contains("ui.browser.js"));
    assert!(
        html.contains(&format!("data-clerk-publishable-key=\"{pk}\"")),
        "{html}"
    );
    assert!(html.contains("id=\"clerk-sign-in\""));
    assert!(
        html.contains("data-redirect-url=\"&#x2F;profile\""),
        "{html}"
    );

    let evil = app
        .get_html("/sign-in?redirect_url=%2F%2Fevil.test")
        .await
        .text();
    assert!(evil.contains("data-redirect-url=\"&#x2F;\""), "{evil}");
    assert_eq!(
        app.get_html("/dev/sign-in").await.status,
        404,
        "no local sign-in with Clerk"
    );
}

#[tokio::test]
async fn a_valid_cookie_session_renders_the_profile() {
    let (_fake, app) = clerk_pages(true, false).await;
    let user = user_id();
    let token = key_a().sign(&with(
        claims(&user),
        json!({ "first_name": "Grace", "last_name": "Hopper" }),
    ));
    let page = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                ("Cookie", &session_cookies(&token, now() - 30)),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Grace Hopper") && page.text().contains(&user));
    assert!(page.text().contains("id=\"clerk-user-button\""));

    let signed_out = app.get("/profile", &[ACCEPT_HTML, DOCUMENT]).await;
    assert_eq!(
        (signed_out.status, signed_out.header("Location")),
        (303, Some("/sign-in?redirect_url=%2Fprofile"))
    );
}

#[tokio::test]
async fn an_expired_cookie_with_a_live_client_starts_the_handshake() {
    let (_fake, app) = clerk_pages(true, false).await;
    let token = key_a().sign(&with(
        claims(&user_id()),
        json!({ "iat": now() - 120, "exp": now() - 60 }),
    ));
    let page = app
        .get(
            "/profile?tab=1",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", &session_cookies(&token, now() - 300)),
            ],
        )
        .await;
    assert_eq!(page.status, 307, "{}", page.text());
    let location = page.header("Location").unwrap();
    let expected = format!(
        "https://{ISSUER_HOST}/v1/client/handshake?redirect_url=http%3A%2F%2Fapp.example.test%2Fprofile%3Ftab%3D1\
         &__clerk_api_version=2026-05-12&suffixed_cookies=false&__clerk_hs_reason=session-token-expired-refresh-non-eligible-no-refresh-cookie&format=nonce&__session={token}&__clerk_db_jwt=dvb_test"
    );
    assert_eq!(location, expected);
    assert_eq!(page.header("Cache-Control"), Some("no-store"));
    let counter = page
        .all("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("__clerk_redirect_count="))
        .unwrap()
        .to_owned();
    assert!(
        counter.starts_with("__clerk_redirect_count=1;")
            && counter.contains("Max-Age=2")
            && counter.contains("HttpOnly"),
        "{counter}"
    );

    // Behind a proxy the public URL is rebuilt from X-Forwarded-*.
    let proxied = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "www.example.test, inner"),
                ("Cookie", &session_cookies(&token, now() - 300)),
            ],
        )
        .await;
    assert!(proxied
        .header("Location")
        .unwrap()
        .contains("redirect_url=https%3A%2F%2Fwww.example.test%2Fprofile&"));
}

#[tokio::test]
async fn handshake_reasons_follow_clerks_cookie_rules() {
    let (_fake, app) = clerk_pages(true, false).await;
    let reason = |answer: &Answer| {
        let location = answer.header("Location").unwrap_or_default();
        reqwest::Url::parse(location).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "__clerk_hs_reason")
                .map(|(_, v)| v.into_owned())
        })
    };
    let fresh = key_a().sign(&claims(&user_id()));

    let no_token = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                (
                    "Cookie",
                    &format!("__client_uat={}; __clerk_db_jwt=dvb_test", now()),
                ),
            ],
        )
        .await;
    assert_eq!(
        reason(&no_token).as_deref(),
        Some("client-uat-but-no-session-token")
    );

    let no_uat = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                (
                    "Cookie",
                    &format!("__session={fresh}; __clerk_db_jwt=dvb_test"),
                ),
            ],
        )
        .await;
    assert_eq!(
        reason(&no_uat).as_deref(),
        Some("session-token-but-no-client-uat")
    );

    let older = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", &session_cookies(&fresh, now() + 3)),
            ],
        )
        .await;
    assert_eq!(
        reason(&older).as_deref(),
        Some("session-token-iat-before-client-uat"),
        "the session changed elsewhere"
    );

    let signed_out_client = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", "__client_uat=0; __clerk_db_jwt=dvb_test"),
            ],
        )
        .await;
    assert_eq!(
        signed_out_client.status, 303,
        "no client, no token: plainly signed out"
    );

    let forged = format!("{fresh}x");
    let bad_signature = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", &session_cookies(&forged, now() - 5)),
            ],
        )
        .await;
    assert_eq!(
        bad_signature.status, 303,
        "a bad signature is not refreshed: signed out"
    );
}

#[tokio::test]
async fn only_document_gets_are_redirected_to_the_handshake() {
    let (_fake, app) = clerk_pages(true, false).await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 60 })));
    let cookies = session_cookies(&token, now() - 300);
    let fetch = app
        .get(
            "/profile",
            &[
                ("Sec-Fetch-Dest", "empty"),
                ("Accept", "*/*"),
                HOST,
                ("Cookie", &cookies),
            ],
        )
        .await;
    assert_eq!(
        fetch.status, 303,
        "a fetch is treated as signed out, never sent to Clerk"
    );
    let api = app
        .get(
            "/api/users/me",
            &[ACCEPT_HTML, DOCUMENT, HOST, ("Cookie", &cookies)],
        )
        .await;
    // A browser's document request to the API is decided as any page's (Clerk's SDK does the
    // same): it goes through the handshake; a fetch never does.
    assert_eq!(api.status, 307, "{}", api.text());
    assert!(api.header("Location").unwrap().contains(
        "__clerk_hs_reason=session-token-expired-refresh-non-eligible-no-refresh-cookie"
    ));
}

#[tokio::test]
async fn the_redirect_loop_guard_stops_at_three() {
    let (_fake, app) = clerk_pages(true, false).await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 60 })));
    let twice = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                (
                    "Cookie",
                    &format!(
                        "{}; __clerk_redirect_count=2",
                        session_cookies(&token, now() - 300)
                    ),
                ),
            ],
        )
        .await;
    assert_eq!(twice.status, 307);
    assert_eq!(
        twice.set_cookie("__clerk_redirect_count").as_deref(),
        Some("3")
    );
    let thrice = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                (
                    "Cookie",
                    &format!(
                        "{}; __clerk_redirect_count=3",
                        session_cookies(&token, now() - 300)
                    ),
                ),
            ],
        )
        .await;
    assert_eq!(
        thrice.status, 303,
        "after three handshakes in a row: signed out, no loop"
    );
}

#[tokio::test]
async fn without_a_secret_key_an_interstitial_lets_clerk_js_refresh() {
    let (_fake, app) = clerk_pages(false, false).await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 60 })));
    let page = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", &session_cookies(&token, now() - 300)),
            ],
        )
        .await;
    assert_eq!(page.status, 401);
    let html = page.text();
    assert!(
        html.contains("id=\"clerk-interstitial\"") && html.contains("clerk.browser.js"),
        "{html}"
    );
    assert_eq!(page.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        page.set_cookie("__clerk_redirect_count").as_deref(),
        Some("1")
    );
    let home = app
        .get(
            "/",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", &session_cookies(&token, now() - 300)),
            ],
        )
        .await;
    assert_eq!(
        home.status, 401,
        "even the home page refreshes first instead of showing a false signed-out state"
    );
}

async fn serve_handshake_payload(fake: &FakeClerk, nonce: &str, directives: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/v1/clients/handshake_payload"))
        .and(query_param("nonce", nonce))
        .and(wiremock::matchers::bearer_token("sk_test_pages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "directives": directives })))
        .mount(&fake.server)
        .await;
}

#[tokio::test]
async fn the_handshake_comes_back_with_a_nonce_in_development() {
    let (fake, app) = clerk_pages(true, false).await;
    let user = user_id();
    let fresh = key_a().sign(&claims(&user));
    serve_handshake_payload(
        &fake,
        "nonce-1",
        json!([
            format!("__session={fresh}; Path=/; SameSite=Lax"),
            format!("__client_uat={}; Path=/; SameSite=Strict", now()),
        ]),
    )
    .await;
    let back = app
        .get(
            "/profile?tab=2&__clerk_handshake_nonce=nonce-1",
            // The dev browser that the handshake carries back.
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", "__clerk_db_jwt=dvb_test"),
            ],
        )
        .await;
    assert_eq!(back.status, 307, "{}", back.text());
    assert_eq!(
        back.header("Location"),
        Some("http://app.example.test/profile?tab=2")
    );
    assert_eq!(back.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        back.set_cookie("__session").as_deref(),
        Some(fresh.as_str())
    );
    assert!(back.set_cookie("__client_uat").is_some());

    // A nonce the Backend API does not know is ignored: the request goes on as it came.
    let unknown = app
        .get(
            "/profile?__clerk_handshake_nonce=nope",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", "__clerk_db_jwt=dvb_test"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 303);
}

#[tokio::test]
async fn the_handshake_comes_back_with_a_nonce_cookie_in_production() {
    let (fake, app) = clerk_pages(true, true).await;
    let user = user_id();
    let fresh = key_a().sign(&claims(&user));
    serve_handshake_payload(
        &fake,
        "nonce-2",
        json!([format!("__session={fresh}; Path=/; Secure; SameSite=Lax")]),
    )
    .await;
    let page = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                // Clerk's frontend API sets the live client's `__client_uat` with the nonce.
                (
                    "Cookie",
                    &format!("__clerk_handshake_nonce=nonce-2; __client_uat={}", now()),
                ),
            ],
        )
        .await;
    assert_eq!(
        page.status, 200,
        "production renders with the new cookies, no redirect"
    );
    assert!(page.text().contains(&user));
    assert_eq!(
        page.set_cookie("__session").as_deref(),
        Some(fresh.as_str())
    );

    serve_handshake_payload(&fake, "nonce-3", json!(["__session=; Path=/; Max-Age=0"])).await;
    let out = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                HOST,
                ("Cookie", "__clerk_handshake_nonce=nonce-3"),
            ],
        )
        .await;
    assert_eq!(out.status, 303, "the handshake signed the browser out");
}

#[tokio::test]
async fn missing_email_shows_an_error_page_not_a_sign_in_loop() {
    let (_fake, app) = clerk_pages(false, false).await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "email": null })));
    let page = app
        .get(
            "/profile",
            &[
                ACCEPT_HTML,
                DOCUMENT,
                ("Cookie", &session_cookies(&token, now() - 30)),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.text().contains("email-claim-missing"));
}

#[tokio::test]
async fn signed_in_visitors_skip_the_sign_in_pages_and_are_greeted() {
    let (_fake, app) = clerk_pages(true, false).await;
    let token = key_a().sign(&with(claims(&user_id()), json!({ "first_name": "Grace" })));
    let cookies = session_cookies(&token, now() - 30);
    for page in [
        "/sign-in?redirect_url=%2Fprofile",
        "/sign-up?redirect_url=%2Fprofile",
    ] {
        let answer = app
            .get(page, &[ACCEPT_HTML, DOCUMENT, ("Cookie", &cookies)])
            .await;
        assert_eq!(
            (answer.status, answer.header("Location")),
            (303, Some("/profile")),
            "{page}"
        );
    }
    let home = app
        .get("/", &[ACCEPT_HTML, DOCUMENT, ("Cookie", &cookies)])
        .await;
    assert_eq!(home.status, 200);
    assert!(
        home.text().contains("Welcome back, Grace"),
        "{}",
        home.text()
    );
    let signed_out_home = app.get("/", &[ACCEPT_HTML, DOCUMENT]).await;
    assert!(
        signed_out_home.text().contains("href=\"/sign-in\"")
            && signed_out_home.text().contains("href=\"/sign-up\"")
    );
    let sign_up = app
        .get_html("/sign-up?redirect_url=%2Fprofile")
        .await
        .text();
    assert!(
        sign_up.contains("id=\"clerk-sign-up\"")
            && sign_up.contains("data-sign-in-url=\"/sign-in?redirect_url=%2Fprofile\""),
        "{sign_up}"
    );
}
