//! `clerk-rocket sync` against a fake Backend API: creates, updates, tombstones, dry runs, an
//! interrupted listing, and the command itself; on `SQLite` and (when configured)
//! `PostgreSQL`.

use std::process::Output;

use clerk_rocket::clerk::backend_api::BackendApi;
use clerk_rocket::sync::{DriftSummary, SyncOptions};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

backend_tests!(sync_reconciles_the_local_table_with_the_backend_api);
backend_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    sync_and_webhooks_can_write_at_the_same_time
);

const SECRET_KEY: &str = "sk_test_sync";

/// Serves `users` as `GET /v1/users?limit={page}&offset=…` pages.
async fn serve_list(fake: &FakeClerk, users: &[Value], page: usize) {
    let mut offset = 0;
    loop {
        let chunk: Vec<Value> = users.iter().skip(offset).take(page).cloned().collect();
        Mock::given(method("GET"))
            .and(path("/v1/users"))
            .and(query_param("limit", page.to_string()))
            .and(query_param("offset", offset.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(chunk.clone())))
            .mount(&fake.server)
            .await;
        if chunk.len() < page {
            break;
        }
        offset += page;
    }
}

async fn serve_one(fake: &FakeClerk, user: &str, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/users/{user}")))
        .respond_with(answer)
        .mount(&fake.server)
        .await;
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "errors": [{ "code": "resource_not_found", "message": "not found" }]
    }))
}

async fn snapshot(app: &TestApp, ids: &[&str]) -> Vec<Option<Value>> {
    let mut rows = Vec::new();
    for id in ids {
        rows.push(app.user_row(id).await);
    }
    rows
}

struct World {
    fake: FakeClerk,
    app: TestApp,
    a_updated: String,
    b_same: String,
    c_gone: String,
    d_unlisted: String,
    e_new: String,
    f_deleted_here: String,
    g_newer_here: String,
}

impl World {
    fn ids(&self) -> Vec<&str> {
        vec![
            &self.a_updated,
            &self.b_same,
            &self.c_gone,
            &self.d_unlisted,
            &self.e_new,
            &self.f_deleted_here,
            &self.g_newer_here,
        ]
    }

    async fn sync(&self, dry_run: bool) -> DriftSummary {
        let api = BackendApi::new(
            clerk_rocket::clerk::http_client(),
            &self.fake.api_url(),
            SECRET_KEY,
        );
        let pool = self.app.pool().await;
        let mut pages = 0;
        let summary = clerk_rocket::sync::run(
            &api,
            &pool,
            SyncOptions {
                dry_run,
                page_size: 2,
            },
            &mut |p| {
                if matches!(p, clerk_rocket::sync::Progress::Listing { .. }) {
                    pages += 1;
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(pages, 3, "five listed users in pages of two");
        pool.close().await;
        summary
    }
}

/// Clerk lists A, B, E, F, G; D exists in Clerk but is missing from the listing (a shifted page);
/// C is gone from Clerk. Locally: A is out of date, B and D are current, C is live, F is a
/// tombstone, G is newer than Clerk's list.
async fn world(backend: &Backend) -> World {
    let (fake, app) = clerk_app_with(|settings| settings.on(backend).with_webhook_secret()).await;
    let w = World {
        a_updated: user_id(),
        b_same: user_id(),
        c_gone: user_id(),
        d_unlisted: user_id(),
        e_new: user_id(),
        f_deleted_here: user_id(),
        g_newer_here: user_id(),
        fake,
        app,
    };
    let clerk = |id: &str, at: i64| clerk_user(id, &format!("{id}@example.test"), at);
    let mut a_now = clerk(&w.a_updated, 5_000);
    a_now["first_name"] = json!("Renamed");
    a_now["banned"] = json!(true);
    let listed = vec![
        a_now,
        clerk(&w.b_same, 5_000),
        clerk(&w.e_new, 5_000),
        clerk(&w.f_deleted_here, 5_000),
        clerk(&w.g_newer_here, 5_000),
    ];
    serve_list(&w.fake, &listed, 2).await;
    serve_one(
        &w.fake,
        &w.d_unlisted,
        ResponseTemplate::new(200).set_body_json(clerk(&w.d_unlisted, 5_000)),
    )
    .await;
    serve_one(&w.fake, &w.c_gone, not_found()).await;

    // The local table, as webhooks left it.
    let local = [
        clerk(&w.a_updated, 1_000),
        clerk(&w.b_same, 5_000),
        clerk(&w.c_gone, 1_000),
        clerk(&w.d_unlisted, 5_000),
        clerk(&w.f_deleted_here, 1_000),
        clerk(&w.g_newer_here, 9_000),
    ];
    for user in local {
        let answer = w
            .app
            .deliver(&unique("msg"), &clerk_event("user.created", user))
            .await;
        assert_eq!(answer.body["outcome"], "applied");
    }
    let deleted = json!({ "id": w.f_deleted_here, "deleted": true, "object": "user" });
    w.app
        .deliver(&unique("msg"), &clerk_event("user.deleted", deleted))
        .await;
    w
}

async fn sync_reconciles_the_local_table_with_the_backend_api(backend: Backend) {
    let w = world(&backend).await;
    let expected = DriftSummary {
        listed: 6,
        created: 1,
        updated: 1,
        tombstoned: 1,
        unchanged: 2,
        kept_deleted: 1,
        stale: 1,
    };

    // A dry run reports the drift and changes nothing.
    let before = snapshot(&w.app, &w.ids()).await;
    assert_eq!(w.sync(true).await, expected, "dry run");
    assert_eq!(snapshot(&w.app, &w.ids()).await, before);

    assert_eq!(w.sync(false).await, expected);
    let renamed = w.app.user_row(&w.a_updated).await.unwrap();
    assert_eq!(
        (&renamed["first_name"], &renamed["banned"]),
        (&json!("Renamed"), &json!(true))
    );
    let created = w.app.user_row(&w.e_new).await.unwrap();
    assert_eq!(created["email"], format!("{}@example.test", w.e_new));
    assert_eq!(created["deleted_at"], Value::Null);
    let gone = w.app.user_row(&w.c_gone).await.unwrap();
    assert!(gone["deleted_at"].is_i64(), "tombstoned");
    assert_eq!(
        gone["email"],
        format!("{}@example.test", w.c_gone),
        "history kept"
    );
    let kept_deleted = w.app.user_row(&w.f_deleted_here).await.unwrap();
    assert!(kept_deleted["deleted_at"].is_i64(), "a tombstone stays");
    let newer = w.app.user_row(&w.g_newer_here).await.unwrap();
    assert_eq!(newer["clerk_updated_at"], 9_000, "newer data kept");

    // In step now: a second run finds no drift.
    let again = w.sync(false).await;
    assert_eq!(again.drift(), 0, "{again:?}");
    assert_eq!(again.unchanged, 4, "A, B, D, E");

    // A deleted user's token is refused after the sync tombstoned it.
    let token = key_a().sign(&claims(&w.c_gone));
    assert_eq!(w.app.bearer(&token).await.code(), "user-deleted");
}

#[tokio::test]
async fn an_interrupted_listing_tombstones_nobody() {
    let (fake, app) = clerk_app().await;
    let local = user_id();
    assert_eq!(app.bearer(&key_a().sign(&claims(&local))).await.status, 200);
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            clerk_user(&user_id(), "p1@example.test", 1),
            clerk_user(&user_id(), "p2@example.test", 1),
        ])))
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&fake.server)
        .await;
    serve_one(&fake, &local, not_found()).await;
    let api = BackendApi::new(
        clerk_rocket::clerk::http_client(),
        &fake.api_url(),
        SECRET_KEY,
    );
    let pool = app.pool().await;
    let result = clerk_rocket::sync::run(
        &api,
        &pool,
        SyncOptions {
            dry_run: false,
            page_size: 2,
        },
        &mut |_| {},
    )
    .await;
    assert!(result.is_err());
    assert!(app.user_row(&local).await.unwrap()["deleted_at"].is_null());
    let requests = fake.server.received_requests().await.unwrap();
    let list = requests
        .iter()
        .find(|r| r.url.path() == "/v1/users")
        .unwrap();
    assert_eq!(
        list.headers.get("authorization").unwrap(),
        &format!("Bearer {SECRET_KEY}")
    );
}

/// [`run`] in a scratch folder, off the async runtime: the fake Clerk on it keeps serving.
async fn run_off_runtime(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = scratch_dir();
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run(&dir, &args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sync_command_prints_the_drift() {
    let fake = FakeClerk::start().await;
    let users: Vec<Value> = (0..3)
        .map(|i| clerk_user(&user_id(), &format!("cli{i}@example.test"), 1_000))
        .collect();
    serve_list(&fake, &users, 100).await;
    let org = unique("org");
    let member = users[0]["id"].as_str().unwrap().to_owned();
    fake.serve_organizations(
        &[clerk_organization(&org, "Acme", "acme", 1_000)],
        &[(
            org.as_str(),
            vec![clerk_membership(
                &unique("orgmem"),
                &org,
                &member,
                "org:admin",
                &[],
                1_000,
            )],
        )],
    )
    .await;
    let dir = scratch_dir();
    let url = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let api_url = fake.api_url();
    let env = [
        ("CLERK_JWT_ISSUER", "https://clerk.example.test"),
        ("CLERK_SECRET_KEY", SECRET_KEY),
        ("CLERK_API_URL", api_url.as_str()),
        ("DATABASE_URL", url.as_str()),
    ];
    let out = run_off_runtime(&["sync", "--dry-run"], &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 users in Clerk"), "{stdout}");
    assert!(stdout.contains("3 would be created"), "{stdout}");
    assert!(
        stdout.contains("1 organizations in Clerk; drift: 1 would be created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 memberships in Clerk; drift: 1 would be created"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run"), "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "no progress when stderr is not a terminal"
    );

    let out = run_off_runtime(&["sync"], &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 created"), "{stdout}");
    let out = run_off_runtime(&["sync"], &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("0 created, 0 updated, 0 tombstoned; 3 unchanged"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "1 organizations in Clerk; drift: 0 created, 0 updated, 0 tombstoned; 1 unchanged"
        ),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("1 memberships in Clerk; drift: 0 created, 0 updated, 0 ended; 1 unchanged"),
        "{stdout}"
    );

    // Without the secret key, or in local mode, it refuses with one line.
    let out = run_off_runtime(
        &["sync"],
        &[
            ("CLERK_JWT_ISSUER", "https://clerk.example.test"),
            ("DATABASE_URL", url.as_str()),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: CLERK_SECRET_KEY"));
    let out = run_off_runtime(
        &["sync"],
        &[("CLERK_LOCAL_MODE", "true"), ("DATABASE_URL", url.as_str())],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
}

async fn sync_and_webhooks_can_write_at_the_same_time(backend: Backend) {
    let w = world(&backend).await;
    let app = w.app.clone();
    let deliveries = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for i in 0..60 {
            let body = clerk_event(
                "user.updated",
                clerk_user(&format!("user_busy{i}"), "busy@example.test", 1_000 + i),
            );
            statuses.push(app.deliver(&unique("msg"), &body).await.status);
        }
        statuses
    });
    for _ in 0..5 {
        w.sync(false).await;
    }
    let statuses = deliveries.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
