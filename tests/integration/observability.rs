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
    assert_eq!(expired.header("x-clerk-auth-reason"), Some("token-expired"));
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
            "clerk_auth_outcomes_total{reason=\"token-expired\",status=\"signed-out\"}"
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
