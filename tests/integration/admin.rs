//! Admins: who is one, the users list and search (JSON and HTML), pagination, refusals; on
//! SQLite and (when configured) PostgreSQL.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;

const HTML: (&str, &str) = ("Accept", "text/html");

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

async fn get_as(app: &TestApp, uri: &str, token: &str) -> Answer {
    let (name, value) = bearer(token);
    app.get(uri, &[(name, &value)]).await
}

/// Inserts users straight into the table, as webhooks or earlier sign-ins would have.
async fn seed(app: &TestApp, users: &[(&str, &str, Option<&str>, Option<&str>)]) {
    let pool = app.pool().await;
    let now = now();
    for (clerk_id, email, first, last) in users {
        sqlx::query(
            "INSERT INTO users (clerk_id, email, username, first_name, last_name, created_at, updated_at) \
             VALUES ($1, $2, $2, $3, $4, $5, $5)",
        )
        .bind(*clerk_id)
        .bind(*email)
        .bind(*first)
        .bind(*last)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

async fn seed_many(app: &TestApp, prefix: &str, n: usize) {
    let owned: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("user_{prefix}{i:04}"),
                format!("{prefix}{i:04}@bulk.test"),
            )
        })
        .collect();
    let rows: Vec<(&str, &str, Option<&str>, Option<&str>)> = owned
        .iter()
        .map(|(c, e)| (c.as_str(), e.as_str(), None, None))
        .collect();
    seed(app, &rows).await;
}

fn admin_token(user: &str) -> String {
    key_a().sign(&with(
        claims(user),
        json!({ "metadata": { "role": "admin" } }),
    ))
}

fn emails(answer: &Answer) -> Vec<String> {
    answer.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn who_is_an_admin() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let listed = user_id();
        let app = Settings::clerk(&fake)
            .on(&backend)
            .set("admin_user_ids", &format!("user_other, {listed}"))
            .start()
            .await;
        let name = backend.name();

        // Signed out.
        let out = app.get("/api/admin/users", &[]).await;
        assert_eq!(
            (out.status, out.code()),
            (401, "session-token-missing"),
            "{name}"
        );
        let page = app.get("/admin/users", &[HTML]).await;
        assert_eq!(
            (page.status, page.header("Location")),
            (303, Some("/sign-in?redirect_url=%2Fadmin%2Fusers")),
            "{name}"
        );

        // A member, and a member whose unsafe_metadata claims the role.
        let member = key_a().sign(&claims(&user_id()));
        let answer = get_as(&app, "/api/admin/users", &member).await;
        assert_eq!((answer.status, answer.code()), (403, "forbidden"), "{name}");
        let sneaky = key_a().sign(&with(
            claims(&user_id()),
            json!({ "unsafe_metadata": { "role": "admin" }, "metadata": { "role": "member" } }),
        ));
        assert_eq!(
            get_as(&app, "/api/admin/users", &sneaky).await.status,
            403,
            "{name}: unsafe_metadata grants nothing"
        );
        let (h, v) = bearer(&member);
        let page = app.get("/admin/users", &[HTML, (h, &v)]).await;
        assert_eq!(page.status, 403, "{name}");
        assert!(page.text().contains("administrators"));

        // Admin by each source.
        let by_list = key_a().sign(&claims(&listed));
        assert_eq!(
            get_as(&app, "/api/admin/users", &by_list).await.status,
            200,
            "{name}: CLERK_ADMIN_USER_IDS"
        );
        assert_eq!(
            get_as(&app, "/api/admin/users", &admin_token(&user_id()))
                .await
                .status,
            200,
            "{name}: metadata.role"
        );
        let top_level = key_a().sign(&with(claims(&user_id()), json!({ "role": "admin" })));
        assert_eq!(
            get_as(&app, "/api/admin/users", &top_level).await.status,
            200,
            "{name}: role claim"
        );
        let stored = user_id();
        let token = key_a().sign(&claims(&stored));
        assert_eq!(
            get_as(&app, "/api/admin/users", &token).await.status,
            403,
            "{name}"
        );
        let pool = app.pool().await;
        sqlx::query("UPDATE users SET role = $1 WHERE clerk_id = $2")
            .bind("admin")
            .bind(&stored)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        assert_eq!(
            get_as(&app, "/api/admin/users", &token).await.status,
            200,
            "{name}: stored role"
        );
        let (h, v) = bearer(&token);
        assert_eq!(
            app.get("/admin/users", &[HTML, (h, &v)]).await.status,
            200,
            "{name}: the page too"
        );
    }
}

#[tokio::test]
async fn pages_through_every_user_once_while_users_are_added() {
    for backend in backends() {
        let (fake, app) = {
            let fake = FakeClerk::start().await;
            fake.serve_jwks(&[key_a()]).await;
            let app = Settings::clerk(&fake).on(&backend).start().await;
            (fake, app)
        };
        let _ = &fake;
        let admin = admin_token(&user_id());
        seed_many(&app, "p", 57).await;
        let first = get_as(&app, "/api/admin/users?limit=10", &admin).await;
        assert_eq!(first.status, 200, "{:?}", first.body);
        let all_before: i64 = 57 + 1; // the seeded users and the admin
        let mut seen = Vec::new();
        let mut answer = first;
        let mut added = 0;
        loop {
            seen.extend(
                answer.body["users"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["id"].as_i64().unwrap()),
            );
            // New users arrive between pages: they are newer than every cursor, so they never
            // show up later in this walk and never shift it.
            seed(
                &app,
                &[(
                    &format!("user_late{added}_{}", backend.name()),
                    &format!("late{added}@x.test"),
                    None,
                    None,
                )],
            )
            .await;
            added += 1;
            let Some(cursor) = answer.body["next_cursor"].as_str().map(str::to_owned) else {
                break;
            };
            answer = get_as(
                &app,
                &format!("/api/admin/users?limit=10&cursor={cursor}"),
                &admin,
            )
            .await;
            assert_eq!(answer.status, 200);
        }
        let unique: BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{}: no duplicates",
            backend.name()
        );
        assert_eq!(seen.len() as i64, all_before, "{}: no gaps", backend.name());
        let mut sorted = seen.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "{}: newest first", backend.name());
        let default = get_as(&app, "/api/admin/users", &admin).await;
        assert_eq!(
            default.body["users"].as_array().unwrap().len(),
            25,
            "default limit"
        );
        let max = get_as(&app, "/api/admin/users?limit=100", &admin).await;
        assert_eq!(
            max.body["users"].as_array().unwrap().len() as i64,
            all_before + added,
            "everything fits"
        );
        assert_eq!(max.body["next_cursor"], Value::Null);
    }
}

#[tokio::test]
async fn search_is_case_insensitive_on_email_names_and_clerk_id() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let app = Settings::clerk(&fake).on(&backend).start().await;
        let admin = admin_token(&user_id());
        seed(
            &app,
            &[
                (
                    "user_2adaXYZ",
                    "ada@analytical.test",
                    Some("Ada"),
                    Some("Lovelace"),
                ),
                (
                    "user_2graceQ",
                    "grace@navy.test",
                    Some("Grace"),
                    Some("Hopper"),
                ),
                (
                    "user_2alanT",
                    "alan@bletchley.test",
                    Some("Alan"),
                    Some("Turing"),
                ),
                ("user_2pct", "odd%name_x@weird.test", Some("Per%cent"), None),
            ],
        )
        .await;
        seed_many(&app, "s", 30).await;
        let search = |q: &str| format!("/api/admin/users?q={}", urlencode(q));
        let name = backend.name();
        for (q, expected) in [
            ("lovel", vec!["ada@analytical.test"]),
            ("LOVELACE", vec!["ada@analytical.test"]),
            ("grace@navy", vec!["grace@navy.test"]),
            ("2alant", vec!["alan@bletchley.test"]),
            ("hopp", vec!["grace@navy.test"]),
            ("nobody-has-this", vec![]),
            ("%", vec!["odd%name_x@weird.test"]),
            ("e_x", vec!["odd%name_x@weird.test"]),
            ("al", vec!["alan@bletchley.test", "ada@analytical.test"]),
        ] {
            let answer = get_as(&app, &search(q), &admin).await;
            assert_eq!(answer.status, 200, "{name} {q}: {:?}", answer.body);
            assert_eq!(emails(&answer), expected, "{name}: {q}");
        }
        let bulk = get_as(&app, &format!("{}&limit=7", search("@bulk.test")), &admin).await;
        assert_eq!(emails(&bulk).len(), 7, "{name}");
        let cursor = bulk.body["next_cursor"].as_str().unwrap().to_owned();
        let rest = get_as(
            &app,
            &format!("{}&limit=100&cursor={cursor}", search("@bulk.test")),
            &admin,
        )
        .await;
        assert_eq!(emails(&rest).len(), 23, "{name}: the search pages too");

        // The same search on the page, with names escaped.
        let (h, v) = bearer(&admin);
        let page = app.get("/admin/users?q=lovel", &[HTML, (h, &v)]).await;
        assert_eq!(page.status, 200);
        assert!(
            page.text().contains("ada@analytical.test") && !page.text().contains("grace@navy.test"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn stored_names_are_escaped_on_admin_pages() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = Settings::clerk(&fake).start().await;
    let admin = admin_token(&user_id());
    seed(
        &app,
        &[(
            "user_xss",
            "x@xss.test",
            Some("<script>alert(1)</script>"),
            Some("<img src=x onerror=alert(2)>"),
        )],
    )
    .await;
    let (h, v) = bearer(&admin);
    let list = app.get("/admin/users?q=xss", &[HTML, (h, &v)]).await.text();
    assert!(
        !list.contains("<script>alert(1)") && !list.contains("<img src=x"),
        "{list}"
    );
    assert!(list.contains("&lt;script&gt;alert(1)"));
    let id = get_as(&app, "/api/admin/users?q=xss", &admin).await.body["users"][0]["id"]
        .as_i64()
        .unwrap();
    let one = app
        .get(&format!("/admin/users/{id}"), &[HTML, (h, &v)])
        .await;
    assert_eq!(one.status, 200);
    assert!(!one.text().contains("<script>alert(1)") && one.text().contains("&lt;img src=x"));
    let by_clerk_id = get_as(&app, "/api/admin/users/user_xss", &admin).await;
    assert_eq!(by_clerk_id.body["id"].as_i64(), Some(id));
    assert_eq!(
        get_as(&app, &format!("/api/admin/users/{id}"), &admin)
            .await
            .body["clerk_id"],
        "user_xss"
    );
}

#[tokio::test]
async fn bad_parameters_get_400_with_a_message() {
    let (_fake, app) = clerk_app().await;
    let admin = admin_token(&user_id());
    for uri in [
        "/api/admin/users?limit=0",
        "/api/admin/users?limit=101",
        "/api/admin/users?limit=ten",
        "/api/admin/users?limit=-5",
        "/api/admin/users?cursor=garbage!",
        "/api/admin/users?cursor=YWJj",
        "/api/admin/users/abc",
        "/api/admin/users/-1",
        "/api/admin/users/0",
        "/api/admin/users/99999999999999999999999",
    ] {
        let answer = get_as(&app, uri, &admin).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "bad-request"),
            "{uri}: {:?}",
            answer.body
        );
        assert!(answer.body["error"]["message"].as_str().unwrap().len() > 10);
    }
    let long = format!("/api/admin/users?q={}", "a".repeat(300));
    assert_eq!(get_as(&app, &long, &admin).await.status, 400);
    let missing = get_as(&app, "/api/admin/users/987654", &admin).await;
    assert_eq!((missing.status, missing.code()), (404, "not-found"));
    let (h, v) = bearer(&admin);
    assert_eq!(
        app.get("/admin/users?cursor=nope", &[HTML, (h, &v)])
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/admin/users/987654", &[HTML, (h, &v)])
            .await
            .status,
        404
    );
}

fn urlencode(text: &str) -> String {
    clerk_rocket::pages::encode(text)
}

#[tokio::test]
async fn banned_or_deleted_admins_are_refused() {
    for backend in backends() {
        let fake = FakeClerk::start().await;
        fake.serve_jwks(&[key_a()]).await;
        let banned = user_id();
        let deleted = user_id();
        let app = Settings::clerk(&fake)
            .on(&backend)
            .set("admin_user_ids", &banned)
            .start()
            .await;
        let name = backend.name();
        let banned_token = key_a().sign(&claims(&banned));
        let deleted_token = admin_token(&deleted);
        assert_eq!(
            get_as(&app, "/api/admin/users", &banned_token).await.status,
            200,
            "{name}"
        );
        assert_eq!(
            get_as(&app, "/api/admin/users", &deleted_token)
                .await
                .status,
            200,
            "{name}"
        );
        let pool = app.pool().await;
        sqlx::query("UPDATE users SET banned = 1 WHERE clerk_id = $1")
            .bind(&banned)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE users SET deleted_at = 1 WHERE clerk_id = $1")
            .bind(&deleted)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let answer = get_as(&app, "/api/admin/users", &banned_token).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "user-banned"),
            "{name}"
        );
        let answer = get_as(&app, "/api/admin/users", &deleted_token).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, "user-deleted"),
            "{name}"
        );
        let (h, v) = bearer(&banned_token);
        let page = app.get("/admin/users", &[HTML, (h, &v)]).await;
        assert_eq!(page.status, 403, "{name}: the page refuses too");
        assert!(page.text().contains("user-banned"));
    }
}
