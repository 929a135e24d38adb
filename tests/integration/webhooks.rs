//! `POST /api/webhooks/clerk`: Svix signatures over the raw body, size limits, exactly-once
//! delivery, Clerk's ordering, tombstones, bans and revoked sessions, database failures; on
//! `SQLite` and (when configured) `PostgreSQL`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

backend_tests!(
    a_message_is_applied_once_however_often_it_is_delivered,
    events_apply_in_clerks_order_whatever_the_delivery_order,
    deleted_users_stay_deleted_and_their_tokens_are_refused,
    banned_users_are_refused_with_403_until_unbanned,
    ended_removed_and_revoked_sessions_are_refused_at_once,
    a_database_failure_answers_5xx_and_the_retry_applies_once,
    old_processed_ids_and_expired_revocations_are_pruned,
    text_holding_nul_from_clerk_is_stored_without_it,
);

/// A fake Clerk, and an app on `backend` accepting webhooks signed with [`WEBHOOK_SECRET`].
async fn webhook_app(backend: &Backend) -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| settings.on(backend).with_webhook_secret()).await
}

fn msg_id() -> String {
    unique("msg")
}

/// Delivers with explicit headers (for the refusals).
async fn post_signed(app: &TestApp, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    app.post("/api/webhooks/clerk", headers, body.to_vec())
        .await
}

#[tokio::test]
async fn signatures_are_checked_on_every_delivery() {
    let (_fake, app) = webhook_app(&Backend::Sqlite).await;
    let body = clerk_event(
        "user.created",
        clerk_user(&user_id(), "a@example.test", 1000),
    );
    let id = msg_id();
    let ts = now();
    let good = sign_webhook(WEBHOOK_SECRET, &id, ts, &body);
    let ts_text = ts.to_string();
    let refuse = |answer: Answer, what: &str| {
        assert_eq!(answer.status, 400, "{what}: {:?}", answer.body);
        assert_eq!(answer.code(), "webhook-signature-invalid", "{what}");
    };

    // Missing or blank headers are named.
    let missing = post_signed(&app, &[("svix-id", &id)], &body).await;
    let message = missing.body["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    refuse(missing, "missing headers");
    assert!(
        message.contains("svix-timestamp") && message.contains("svix-signature"),
        "{message}"
    );
    let blank = post_signed(
        &app,
        &[
            ("svix-id", "  "),
            ("svix-timestamp", &ts_text),
            ("svix-signature", &good),
        ],
        &body,
    )
    .await;
    refuse(blank, "blank id");

    let other_secret = sign_webhook("whsec_c29tZW9uZSBlbHNl", &id, ts, &body);
    let truncated = good[..good.len() - 6].to_owned();
    let v2 = good.replace("v1,", "v2,");
    for (what, signature) in [
        ("another secret", other_secret.as_str()),
        ("truncated", truncated.as_str()),
        ("not v1", v2.as_str()),
        ("not base64", "v1,???"),
    ] {
        let answer = post_signed(
            &app,
            &[
                ("svix-id", &id),
                ("svix-timestamp", &ts_text),
                ("svix-signature", signature),
            ],
            &body,
        )
        .await;
        refuse(answer, what);
    }
    // Signed for another message id or timestamp.
    let answer = post_signed(
        &app,
        &[
            ("svix-id", "msg_other"),
            ("svix-timestamp", &ts_text),
            ("svix-signature", &good),
        ],
        &body,
    )
    .await;
    refuse(answer, "other id");
    assert_eq!(
        app.count_rows("webhook_events").await,
        0,
        "nothing refused is recorded"
    );

    // Several signatures (a secret rotation): one good one is enough.
    let several = format!("v1,bm9wZQ== {v2} {good} v1,Zm9v");
    let answer = post_signed(
        &app,
        &[
            ("svix-id", &id),
            ("svix-timestamp", &ts_text),
            ("svix-signature", &several),
        ],
        &body,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["outcome"], "applied");
}

#[tokio::test]
async fn timestamps_must_be_within_five_minutes() {
    let (_fake, app) = webhook_app(&Backend::Sqlite).await;
    // A margin of two seconds either side of the limit keeps the test clear of second ticks.
    for (offset, accepted) in [(-298, true), (298, true), (-302, false), (302, false)] {
        let id = msg_id();
        let body = clerk_event("user.created", clerk_user(&user_id(), "t@example.test", 1));
        let ts = now() + offset;
        let signature = sign_webhook(WEBHOOK_SECRET, &id, ts, &body);
        let answer = post_signed(
            &app,
            &[
                ("svix-id", &id),
                ("svix-timestamp", &ts.to_string()),
                ("svix-signature", &signature),
            ],
            &body,
        )
        .await;
        let expected = if accepted { 200 } else { 400 };
        assert_eq!(answer.status, expected, "{offset}: {:?}", answer.body);
    }
    let id = msg_id();
    let body = clerk_event("user.created", clerk_user(&user_id(), "t@example.test", 1));
    let signature = sign_webhook(WEBHOOK_SECRET, &id, now(), &body);
    let answer = post_signed(
        &app,
        &[
            ("svix-id", &id),
            ("svix-timestamp", "yesterday"),
            ("svix-signature", &signature),
        ],
        &body,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "webhook-signature-invalid")
    );
}

#[tokio::test]
async fn the_raw_body_is_verified_exactly_as_sent() {
    let (_fake, app) = webhook_app(&Backend::Sqlite).await;
    let user = user_id();
    // Odd spacing, escapes and key order, as another serializer might write them.
    let raw = format!(
        "{{ \"type\" :\"user.created\" ,\n  \"object\":\"event\",\t\"data\" : {{\"updated_at\": 5 , \"id\":\"{user}\", \
         \"first_name\":\"J\\u00f6rg \\\"JJ\\\" \\/ \u{1F980}\", \"email_addresses\":[{{\"id\":\"idn_1\",\"email_address\":\"j@example.test\"}}], \
         \"primary_email_address_id\":\"idn_1\", \"public_metadata\":{{\"role\" : \"admin\"}}}} }}\r\n"
    );
    let answer = app.deliver(&msg_id(), raw.as_bytes()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let row = app.user_row(&user).await.unwrap();
    assert_eq!(row["first_name"], "Jörg \"JJ\" / \u{1F980}");
    assert_eq!(row["email"], "j@example.test");
    assert_eq!(row["role"], "admin");

    // The same JSON re-serialised is other bytes: its signature no longer matches.
    let id = msg_id();
    let ts = now();
    let signature = sign_webhook(WEBHOOK_SECRET, &id, ts, raw.as_bytes());
    let compact = serde_json::from_str::<Value>(&raw).unwrap().to_string();
    let answer = post_signed(
        &app,
        &[
            ("svix-id", &id),
            ("svix-timestamp", &ts.to_string()),
            ("svix-signature", &signature),
        ],
        compact.as_bytes(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "webhook-signature-invalid")
    );
}

#[tokio::test]
async fn bodies_up_to_one_mebibyte_are_accepted_and_larger_ones_refused_with_413() {
    let (_fake, app) = webhook_app(&Backend::Sqlite).await;
    let user = user_id();
    let mut data = clerk_user(&user, "big@example.test", 10);
    data["private_metadata"] = json!({ "notes": "x".repeat(64 * 1024) });
    let body = clerk_event("user.updated", data);
    assert!(body.len() > 64 * 1024);
    let answer = app.deliver(&msg_id(), &body).await;
    assert_eq!(answer.status, 200, "64 KiB: {:?}", answer.body);
    assert_eq!(app.count_users(&user).await, 1);

    for size in [1024 * 1024 + 1, 2 * 1024 * 1024] {
        let mut data = clerk_user(&user_id(), "huge@example.test", 10);
        data["private_metadata"] = json!({ "notes": "x".repeat(size) });
        let body = clerk_event("user.updated", data);
        let answer = app.deliver(&msg_id(), &body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (413, "payload-too-large"),
            "{size}"
        );
    }
    // Refused before any header check too: the limit comes first.
    let answer = app
        .post("/api/webhooks/clerk", &[], vec![b' '; 2 * 1024 * 1024])
        .await;
    assert_eq!(answer.status, 413);
}

#[tokio::test]
async fn without_a_signing_secret_the_route_answers_503() {
    let (_fake, app) = clerk_app().await;
    let body = clerk_event("user.created", clerk_user(&user_id(), "n@example.test", 1));
    let answer = app.deliver(&msg_id(), &body).await;
    assert_eq!(
        (answer.status, answer.code()),
        (503, "webhook-secret-missing")
    );
    assert!(answer.header("Retry-After").is_some());
    assert_eq!(app.count_rows("users").await, 0);
}

#[tokio::test]
async fn malformed_signed_events_are_400_and_unknown_types_are_acknowledged() {
    let (_fake, app) = webhook_app(&Backend::Sqlite).await;
    for body in [
        b"not json".to_vec(),
        b"".to_vec(),
        br#"{"type":"user.updated","data":{"first_name":"no id"}}"#.to_vec(),
        br#"{"type":"user.deleted","data":{"deleted":true}}"#.to_vec(),
        br#"{"type":"session.revoked","data":{}}"#.to_vec(),
    ] {
        let answer = app.deliver(&msg_id(), &body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "webhook-payload-invalid"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    for kind in [
        "email.created",
        "organizationInvitation.created",
        "session.created",
    ] {
        let answer = app
            .deliver(&msg_id(), &clerk_event(kind, json!({ "id": "x" })))
            .await;
        assert_eq!(answer.status, 200, "{kind}: {:?}", answer.body);
        assert_eq!(answer.body["outcome"], "ignored");
        assert_eq!(answer.body["type"], kind);
    }
    assert_eq!(app.count_rows("users").await, 0);
}

async fn a_message_is_applied_once_however_often_it_is_delivered(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let id = msg_id();
    let first = clerk_event("user.created", clerk_user(&user, "once@example.test", 1000));
    let answer = app.deliver(&id, &first).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["outcome"], "applied");
    let before = app.user_row(&user).await.unwrap();

    // The same message id again: acknowledged, not applied (even with another body).
    let mut changed = clerk_user(&user, "twice@example.test", 2000);
    changed["first_name"] = json!("Changed");
    let again = app
        .deliver(&id, &clerk_event("user.updated", changed))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["outcome"], "duplicate");
    assert_eq!(app.user_row(&user).await.unwrap(), before);
    assert_eq!(app.count_rows("webhook_events").await, 1);

    // Concurrent deliveries of one new message: exactly one applies it.
    let id = msg_id();
    let body = clerk_event(
        "session.revoked",
        json!({ "id": "sess_concurrent", "user_id": user }),
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, id, body) = (app.clone(), id.clone(), body.clone());
            tokio::spawn(async move { app.deliver(&id, &body).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        applied += usize::from(answer.body["outcome"] == "applied");
    }
    assert_eq!(applied, 1);
    assert_eq!(app.count_rows("revoked_sessions").await, 1);
}

async fn events_apply_in_clerks_order_whatever_the_delivery_order(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();

    // user.updated arrives before user.created.
    let mut updated = clerk_user(&user, "new@example.test", 2_000);
    updated["first_name"] = json!("Updated");
    updated["public_metadata"] = json!({ "role": "admin" });
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.updated", updated))
        .await;
    assert_eq!(answer.body["outcome"], "applied", "{:?}", answer.body);
    let created = clerk_user(&user, "old@example.test", 1_000);
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.created", created))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["outcome"], "stale");
    let row = app.user_row(&user).await.unwrap();
    assert_eq!(row["first_name"], "Updated");
    assert_eq!(row["email"], "new@example.test");
    assert_eq!(row["username"], "new@example.test");
    assert_eq!(row["role"], "admin");
    assert_eq!(row["clerk_updated_at"], 2_000, "milliseconds");

    // A newer update applies; an older one after it does not.
    let mut newer = clerk_user(&user, "newer@example.test", 3_000);
    newer["first_name"] = json!("Newer");
    newer["username"] = json!("ada");
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.updated", newer))
        .await;
    assert_eq!(answer.body["outcome"], "applied");
    let mut older = clerk_user(&user, "older@example.test", 2_500);
    older["first_name"] = json!("Older");
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.updated", older))
        .await;
    assert_eq!(answer.body["outcome"], "stale");
    let row = app.user_row(&user).await.unwrap();
    assert_eq!(
        (&row["first_name"], &row["email"], &row["username"]),
        (&json!("Newer"), &json!("newer@example.test"), &json!("ada"))
    );
    assert_eq!(row["role"], Value::Null, "the role left public_metadata");

    // An update without an email keeps the stored one.
    let mut no_email = clerk_user(&user, "x@example.test", 4_000);
    no_email["email_addresses"] = json!([]);
    no_email["primary_email_address_id"] = Value::Null;
    app.deliver(&msg_id(), &clerk_event("user.updated", no_email))
        .await;
    let row = app.user_row(&user).await.unwrap();
    assert_eq!(row["email"], "newer@example.test");
    assert_eq!(row["clerk_updated_at"], 4_000);
    assert_eq!(app.count_users(&user).await, 1);
}

async fn deleted_users_stay_deleted_and_their_tokens_are_refused(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let first = app.bearer(&token).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let id = first.body["user"]["id"].clone();

    let deleted = json!({ "object": "user", "id": user, "deleted": true });
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.deleted", deleted))
        .await;
    assert_eq!(answer.body["outcome"], "applied", "{:?}", answer.body);

    // The token is still valid, the user is not.
    let refused = app.bearer(&token).await;
    assert_eq!((refused.status, refused.code()), (401, "user-deleted"));
    assert!(refused.header("WWW-Authenticate").is_some());

    // A late update or a replayed creation does not bring the user back.
    for (kind, at) in [("user.updated", i64::MAX / 2), ("user.created", 1)] {
        let mut late = clerk_user(&user, "late@example.test", at);
        late["first_name"] = json!("Zombie");
        let answer = app.deliver(&msg_id(), &clerk_event(kind, late)).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["outcome"], "user-deleted", "{kind}");
    }
    let row = app.user_row(&user).await.unwrap();
    assert_eq!(row["id"], id, "the row keeps its id");
    assert!(row["deleted_at"].is_i64());
    assert_eq!(row["email"], format!("{user}@example.test"), "history kept");
    assert_ne!(row["first_name"], "Zombie");
    assert_eq!(app.bearer(&token).await.code(), "user-deleted");
    assert_eq!(app.count_users(&user).await, 1);

    // Deleted before this app ever saw the user: a tombstone, which tokens cannot undo.
    let unknown = user_id();
    let deleted = json!({ "object": "user", "id": unknown, "deleted": true });
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.deleted", deleted))
        .await;
    assert_eq!(answer.body["outcome"], "applied");
    let refused = app.bearer(&key_a().sign(&claims(&unknown))).await;
    assert_eq!((refused.status, refused.code()), (401, "user-deleted"));
    let created = clerk_user(&unknown, "u@example.test", 1_000);
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.created", created))
        .await;
    assert_eq!(answer.body["outcome"], "user-deleted");
    let row = app.user_row(&unknown).await.unwrap();
    assert!(row["deleted_at"].is_i64());
    assert_eq!(row["email"], "", "nothing written by the token");
    assert_eq!(app.count_users(&unknown).await, 1);
}

async fn banned_users_are_refused_with_403_until_unbanned(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    assert_eq!(app.bearer(&token).await.status, 200);

    let mut banned = clerk_user(&user, &format!("{user}@example.test"), 1_000);
    banned["banned"] = json!(true);
    app.deliver(&msg_id(), &clerk_event("user.updated", banned))
        .await;
    let refused = app.bearer(&token).await;
    assert_eq!((refused.status, refused.code()), (403, "user-banned"));
    let me = app.get_as("/api/users/me", &token).await;
    assert_eq!(me.status, 403);

    let unbanned = clerk_user(&user, &format!("{user}@example.test"), 2_000);
    app.deliver(&msg_id(), &clerk_event("user.updated", unbanned))
        .await;
    assert_eq!(app.bearer(&token).await.status, 200);
}

async fn ended_removed_and_revoked_sessions_are_refused_at_once(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    for kind in ["session.ended", "session.removed", "session.revoked"] {
        let sid = unique("sess");
        let token = key_a().sign(&with(claims(&user), json!({ "sid": sid })));
        // Seen once (and remembered as not revoked) before the event.
        assert_eq!(app.bearer(&token).await.status, 200);
        let session = json!({ "id": sid, "object": "session", "user_id": user,
                              "status": "revoked", "expire_at": (now() + 3600) * 1000 });
        let answer = app.deliver(&msg_id(), &clerk_event(kind, session)).await;
        assert_eq!(answer.body["outcome"], "applied", "{:?}", answer.body);
        let refused = app.bearer(&token).await;
        assert_eq!(
            (refused.status, refused.code()),
            (401, "session-revoked"),
            "{kind}"
        );
    }
    // The user's other sessions are not affected.
    let other = key_a().sign(&with(claims(&user), json!({ "sid": unique("sess") })));
    assert_eq!(app.bearer(&other).await.status, 200);
    assert!(
        app.shortest_revocation_secs().await >= 24 * 3600,
        "kept well beyond any token"
    );
}

#[tokio::test]
async fn a_revocation_recorded_by_another_instance_applies_within_five_seconds() {
    let (_fake, app) = webhook_app(&Backend::Sqlite).await;
    let user = user_id();
    let sid = unique("sess");
    let token = key_a().sign(&with(
        claims(&user),
        json!({ "sid": sid, "exp": now() + 60 }),
    ));
    assert_eq!(app.bearer(&token).await.status, 200);
    // Another instance received the webhook: only the shared database knows.
    let started = std::time::Instant::now();
    app.revoke_session(&sid, Some(&user), now(), now() + 3600)
        .await;
    loop {
        let answer = app.bearer(&token).await;
        if answer.status == 401 {
            assert_eq!(answer.code(), "session-revoked");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5 + 3),
            "still accepted after 5 s (plus 3 s for a slow machine)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_database_failure_answers_5xx_and_the_retry_applies_once(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let user = user_id();
    let body = clerk_event(
        "user.created",
        clerk_user(&user, "retry@example.test", 1_000),
    );
    let id = msg_id();

    // The processed-ids table is unusable: nothing is applied, Svix is told to retry.
    app.rename_table("webhook_events", "webhook_events_away")
        .await;
    let failed = app.deliver(&id, &body).await;
    assert!(failed.status >= 500, "{:?}", failed.body);
    assert_eq!(app.count_users(&user).await, 0);
    app.rename_table("webhook_events_away", "webhook_events")
        .await;
    let retried = app.deliver(&id, &body).await;
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert_eq!(retried.body["outcome"], "applied");
    assert_eq!(app.count_users(&user).await, 1);

    // The effect fails after the id was inserted: the id is rolled back with it.
    let user2 = user_id();
    let body = clerk_event("user.created", clerk_user(&user2, "r2@example.test", 1_000));
    let id = msg_id();
    app.rename_table("users", "users_away").await;
    let failed = app.deliver(&id, &body).await;
    app.rename_table("users_away", "users").await;
    assert!(failed.status >= 500, "{:?}", failed.body);
    assert_eq!(
        app.count_webhook_ids(&id).await,
        0,
        "the id is not recorded without its effect"
    );
    let retried = app.deliver(&id, &body).await;
    assert_eq!(retried.body["outcome"], "applied", "{:?}", retried.body);
    assert_eq!(app.count_users(&user2).await, 1);
    let again = app.deliver(&id, &body).await;
    assert_eq!(again.body["outcome"], "duplicate");
}

async fn old_processed_ids_and_expired_revocations_are_pruned(backend: Backend) {
    let (_fake, app) = webhook_app(&backend).await;
    let now = now();
    let day = 24 * 3600;
    app.record_webhook("msg_old", "user.updated", now - 8 * day)
        .await;
    app.record_webhook("msg_recent", "user.updated", now - 6 * day)
        .await;
    app.revoke_session("sess_expired", None, now - 8 * day, now - 1)
        .await;
    app.revoke_session("sess_live", None, now, now + day).await;
    let answer = app
        .deliver(&msg_id(), &clerk_event("email.created", json!({})))
        .await;
    assert_eq!(answer.status, 200);
    let ids = app.count_webhook_ids("msg_old").await + app.count_webhook_ids("msg_recent").await;
    assert_eq!(ids, 1, "only the 8-day-old id is pruned");
    assert_eq!(app.count_webhook_ids("msg_recent").await, 1);
    assert_eq!(
        app.count_rows("revoked_sessions").await,
        1,
        "the expired revocation is pruned"
    );
}

/// PostgreSQL refuses U+0000 in text: a name holding one failed every write of its user, and
/// Svix retried that event, and every later one about the user (a ban included), forever.
async fn text_holding_nul_from_clerk_is_stored_without_it(backend: Backend) {
    let (fake, app) = clerk_app_with(|settings| {
        settings
            .on(&backend)
            .with_webhook_secret()
            .set("secret_key", "sk_test_nul")
    })
    .await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    assert_eq!(app.bearer(&token).await.status, 200);
    let mut body = clerk_user(&user, &format!("{user}@example.test"), now() * 1000);
    body["first_name"] = json!("Ad\u{0}a");
    body["last_name"] = json!("\u{0}");
    body["banned"] = json!(true);
    let answer = app
        .deliver(&msg_id(), &clerk_event("user.updated", body))
        .await;
    assert_eq!(
        (answer.status, &answer.body["outcome"]),
        (200, &json!("applied")),
        "{:?}",
        answer.body
    );
    let row = app.user_row(&user).await.unwrap();
    assert_eq!(
        (&row["first_name"], &row["banned"]),
        (&json!("Ada"), &json!(true))
    );
    assert_eq!(app.bearer(&token).await.code(), "user-banned");

    let org = unique("org");
    let answer = app
        .deliver(
            &msg_id(),
            &clerk_event(
                "organization.created",
                clerk_organization(&org, "Acme\u{0} Corp", "acme\u{0}", now() * 1000),
            ),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM organizations WHERE clerk_id = '{org}' \
             AND name = 'Acme Corp' AND slug = 'acme'"
        ))
        .await,
        1
    );

    // A Backend API read (the email of a token without one) is Clerk's text too.
    let other = user_id();
    fake.serve_user(&other, "gr\u{0}ace@example.test").await;
    let no_email = key_a().sign(&with(claims(&other), json!({ "email": null })));
    let answer = app.get_as("/api/users/me", &no_email).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["email"], "grace@example.test");
}
