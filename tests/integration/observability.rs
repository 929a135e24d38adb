//! Request ids, Clerk's auth headers, and Prometheus metrics.

use serde_json::json;

use crate::common::*;

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn request_ids_are_kept_or_made() {
    let (_fake, app) = clerk_app().await;
    let kept = app.get("/health", &[("x-request-id", "req-42.abc")]).await;
    assert_eq!(kept.header("x-request-id"), Some("req-42.abc"));
    let made = app.get("/health", &[]).await;
    let id = made.header("x-request-id").unwrap();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = app.get("/health", &[]).await;
    assert_ne!(
        other.header("x-request-id"),
        Some(id),
        "a new id per request"
    );
    let long = "x".repeat(200);
    for bad in [long.as_str(), "has space", ""] {
        let replaced = app.get("/health", &[("x-request-id", bad)]).await;
        assert_ne!(replaced.header("x-request-id"), Some(bad));
        assert_eq!(replaced.header("x-request-id").unwrap().len(), 24);
    }
    let refused = app
        .get("/api/users/me", &[("x-request-id", "trace-me")])
        .await;
    assert_eq!(
        refused.header("x-request-id"),
        Some("trace-me"),
        "errors carry it too"
    );
}

#[tokio::test]
async fn auth_status_headers_as_clerk_sets_them() {
    let (_fake, app) = clerk_app().await;
    let good = app.bearer(&key_a().sign(&claims(&user_id()))).await;
    assert_eq!(good.header("x-clerk-auth-status"), Some("signed-in"));
    assert_eq!(good.header("x-clerk-auth-reason"), None);
    let expired = app
        .bearer(&key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 60 }))))
        .await;
    assert_eq!(expired.header("x-clerk-auth-status"), Some("signed-out"));
    // Clerk's request reason; the body keeps the token's own (`token-expired`).
    assert_eq!(
        expired.header("x-clerk-auth-reason"),
        Some("session-token-expired-refresh-non-eligible-no-refresh-cookie")
    );
    assert_eq!(expired.code(), "token-expired");
    let missing_email = app
        .bearer(&key_a().sign(&with(claims(&user_id()), json!({ "email": null }))))
        .await;
    assert_eq!(
        missing_email.header("x-clerk-auth-reason"),
        Some("email-claim-missing")
    );
    assert_eq!(
        app.get("/health", &[]).await.header("x-clerk-auth-status"),
        None,
        "no guard, no claim"
    );
}

#[tokio::test]
async fn metrics_count_outcomes_fetches_and_latency() {
    let (_fake, app) = clerk_app().await;
    app.ready().await;
    for _ in 0..3 {
        app.bearer(&key_a().sign(&with(claims(&user_id()), json!({ "exp": now() - 60 }))))
            .await;
    }
    app.bearer(&key_a().sign(&claims(&user_id()))).await;
    let scrape = app.get("/metrics", &[]).await;
    assert_eq!(scrape.status, 200);
    assert!(scrape
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain"));
    let text = scrape.text();
    assert_eq!(
        metric(
            &text,
            "clerk_auth_outcomes_total{reason=\"session-token-expired-refresh-non-eligible-no-refresh-cookie\",status=\"signed-out\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "clerk_auth_outcomes_total{reason=\"\",status=\"signed-in\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "clerk_jwks_fetches_total{result=\"ok\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "clerk_jwks_fetches_total{result=\"error\"}"),
        Some(0.0)
    );
    let age = metric(&text, "clerk_jwks_key_age_seconds").unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(metric(&text, "db_pool_connections{state=\"idle\"}").is_some());
    let count = metric(&text, "http_request_duration_seconds_count{method=\"GET\",route=\"/api/users/clerk-test\",status=\"401\"}");
    assert_eq!(count, Some(3.0), "{text}");

    // Counters move as more requests are refused.
    app.bearer("garbage").await;
    let again = app.get("/metrics", &[]).await.text();
    assert_eq!(
        metric(
            &again,
            "clerk_auth_outcomes_total{reason=\"token-invalid\",status=\"signed-out\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn metrics_count_webhook_events_by_type_and_result() {
    let (_fake, app) = clerk_app_with(Settings::with_webhook_secret).await;
    let user = user_id();
    let body = clerk_event(
        "user.created",
        clerk_user(&user, "m@example.test", now() * 1000),
    );
    assert_eq!(app.deliver("msg_metrics_1", &body).await.status, 200);
    assert_eq!(app.deliver("msg_metrics_1", &body).await.status, 200);
    let forged = app
        .post(
            "/api/webhooks/clerk",
            &[
                ("svix-id", "msg_x"),
                ("svix-timestamp", &now().to_string()),
                ("svix-signature", "v1,AAAA"),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(forged.status, 400);
    let text = app.get("/metrics", &[]).await.text();
    assert_eq!(
        metric(
            &text,
            "clerk_webhook_events_total{result=\"applied\",type=\"user.created\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "clerk_webhook_events_total{result=\"duplicate\",type=\"user.created\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "clerk_webhook_events_total{result=\"invalid\",type=\"unverified\"}"
        ),
        Some(1.0)
    );
}

/// Serves the binary in local mode on a free loopback port with `env`, makes `paths` requests
/// (with their `Authorization`), and returns what it wrote to standard output.
pub(crate) async fn served_output(
    env: &[(&str, &str)],
    requests: &[(&str, Option<&str>)],
) -> String {
    let requests: Vec<(&str, Vec<(&str, &str)>)> = requests
        .iter()
        .map(|(path, authorization)| {
            let headers = authorization.map(|a| ("Authorization", a));
            (*path, headers.into_iter().collect())
        })
        .collect();
    served_output_with(env, &requests).await
}

/// [`served_output`] with any headers on each request.
async fn served_output_with(
    env: &[(&str, &str)],
    requests: &[(&str, Vec<(&str, &str)>)],
) -> String {
    let dir = scratch_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let database = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let key = dir.join("key.pem").display().to_string();
    let mut all_env = vec![
        ("CLERK_LOCAL_MODE", "true"),
        ("CLERK_LOCAL_KEY_FILE", key.as_str()),
        ("ROCKET_ADDRESS", "127.0.0.1"),
        ("ROCKET_PORT", port.as_str()),
        ("DATABASE_URL", database.as_str()),
    ];
    all_env.extend_from_slice(env);
    // In the project folder, for its templates and static files.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_clerk-rocket"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .envs(all_env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for (path, headers) in requests {
        let mut request = http.get(format!("{base}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap()
}

const LOGGED: [(&str, Option<&str>); 3] = [
    ("/health?token=secret-in-query", None),
    ("/api/users/me", None),
    ("/api/users/me", Some("Bearer not.a.token")),
];

#[tokio::test]
async fn one_line_per_request_and_none_of_rockets_notes() {
    let out = served_output(&[], &LOGGED).await;
    let requests: Vec<&str> = out.lines().filter(|l| l.contains("request_id=")).collect();
    assert_eq!(
        requests.len(),
        4,
        "the start-up probe and three requests:\n{out}"
    );
    assert!(
        requests.iter().any(|l| l.starts_with("GET /health 200 ")),
        "{out}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.starts_with("GET /api/users/me 401 ")
                && l.contains("reason=session-token-missing")),
        "{out}"
    );
    assert!(
        requests.iter().any(|l| l.contains("reason=token-invalid")),
        "{out}"
    );
    for noise in [
        ">>",
        "Request guard",
        "catcher",
        "secret-in-query",
        "not.a.token",
    ] {
        assert!(!out.contains(noise), "{noise:?} in:\n{out}");
    }
}

#[tokio::test]
async fn json_lines_for_log_aggregators() {
    let out = served_output(&[("CLERK_LOG_FORMAT", "json")], &LOGGED).await;
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.get("request_id").is_some())
        .collect();
    assert_eq!(requests.len(), 4, "{out}");
    let refused = requests
        .iter()
        .find(|l| l["reason"] == "token-invalid")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(refused["method"], "GET");
    assert_eq!(refused["path"], "/api/users/me");
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["auth"], "signed-out");
    assert!(refused["ms"].is_number() && refused["ts"].is_string());
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "warning" || l["level"] == "warn"),
        "the local-mode warning is a JSON line too:\n{out}"
    );
    assert!(!out.contains("secret-in-query") && !out.contains("not.a.token"));
}

/// Issue 20: with Clerk unreachable, a flood of unresolved handshake nonces wrote one warning per
/// request, holding the nonce. Now: no line holds a nonce, and no line but the access line is
/// written per request (the metrics count them).
#[tokio::test]
async fn unresolved_nonces_are_never_logged() {
    let publishable = publishable_key(ISSUER_HOST, false);
    let env = [
        ("CLERK_LOCAL_MODE", "false"),
        ("CLERK_PUBLISHABLE_KEY", publishable.as_str()),
        ("CLERK_SECRET_KEY", "sk_test_unreachable"),
        ("CLERK_JWT_KEY", key_a().public_pem.as_str()),
        // A closed port: every look-up fails to connect.
        ("CLERK_API_URL", "http://127.0.0.1:9"),
    ];
    let nonces: Vec<String> = (0..5)
        .map(|i| format!("secret-nonce-{i}-{}", unique("n")))
        .collect();
    let paths: Vec<String> = nonces
        .iter()
        .map(|n| format!("/?__clerk_handshake_nonce={n}"))
        .collect();
    let document = vec![
        ("Sec-Fetch-Dest", "document"),
        ("Accept", "text/html"),
        ("Cookie", "__clerk_db_jwt=dvb_test"),
    ];
    let requests: Vec<(&str, Vec<(&str, &str)>)> = paths
        .iter()
        .map(|path| (path.as_str(), document.clone()))
        .collect();
    let out = served_output_with(&env, &requests).await;
    for nonce in &nonces {
        assert!(!out.contains(nonce.as_str()), "{nonce} logged:\n{out}");
    }
    let per_request = out
        .lines()
        .filter(|l| !l.contains("request_id=") && l.contains("Warning"))
        .count();
    assert!(per_request < nonces.len(), "a warning per nonce:\n{out}");
    assert!(
        out.lines().filter(|l| l.starts_with("GET / ")).count() >= nonces.len(),
        "{out}"
    );
}
