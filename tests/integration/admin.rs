//! Admins: who is one, the users list and search (JSON and HTML), pagination, refusals; on
//! `SQLite` and (when configured) `PostgreSQL`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;

backend_tests!(
    who_is_an_admin,
    pages_through_every_user_once_while_users_are_added,
    search_is_case_insensitive_on_email_names_and_clerk_id,
    banned_or_deleted_admins_are_refused,
);

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

async fn who_is_an_admin(backend: Backend) {
    let listed = user_id();
    let (_fake, app) = clerk_app_with(|settings| {
        settings
            .on(&backend)
            .set("admin_user_ids", &format!("user_other, {listed}"))
    })
    .await;

    // Signed out.
    let out = app.get("/api/admin/users", &[]).await;
    assert_eq!((out.status, out.code()), (401, "session-token-missing"));
    let page = app.get_html("/admin/users").await;
    assert_eq!(
        (page.status, page.header("Location")),
        (303, Some("/sign-in?redirect_url=%2Fadmin%2Fusers"))
    );

    // A member, and a member whose unsafe_metadata claims the role.
    let member = key_a().sign(&claims(&user_id()));
    let answer = app.get_as("/api/admin/users", &member).await;
    assert_eq!((answer.status, answer.code()), (403, "forbidden"));
    let sneaky = key_a().sign(&with(
        claims(&user_id()),
        json!({ "unsafe_metadata": { "role": "admin" }, "metadata": { "role": "member" } }),
    ));
    assert_eq!(
        app.get_as("/api/admin/users", &sneaky).await.status,
        403,
        "unsafe_metadata grants nothing"
    );
    let page = app.get_html_as("/admin/users", &member).await;
    assert_eq!(page.status, 403);
    assert!(page.text().contains("administrators"));

    // Admin by each source.
    let by_list = key_a().sign(&claims(&listed));
    assert_eq!(
        app.get_as("/api/admin/users", &by_list).await.status,
        200,
        "CLERK_ADMIN_USER_IDS"
    );
    assert_eq!(
        app.get_as("/api/admin/users", &admin_token(&user_id()))
            .await
            .status,
        200,
        "metadata.role"
    );
    let top_level = key_a().sign(&with(claims(&user_id()), json!({ "role": "admin" })));
    assert_eq!(
        app.get_as("/api/admin/users", &top_level).await.status,
        200,
        "role claim"
    );
    let stored = user_id();
    let token = key_a().sign(&claims(&stored));
    assert_eq!(app.get_as("/api/admin/users", &token).await.status, 403);
    app.set_role(&stored, Some("admin")).await;
    assert_eq!(
        app.get_as("/api/admin/users", &token).await.status,
        200,
        "stored role"
    );
    assert_eq!(
        app.get_html_as("/admin/users", &token).await.status,
        200,
        "the page too"
    );
}

async fn pages_through_every_user_once_while_users_are_added(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    let admin = admin_token(&user_id());
    app.seed_users("p", 57).await;
    let first = app.get_as("/api/admin/users?limit=10", &admin).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let all_before = 57 + 1; // the seeded users and the admin
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
        app.seed_user(
            &format!("user_late{added}"),
            &format!("late{added}@x.test"),
            None,
            None,
        )
        .await;
        added += 1;
        let Some(cursor) = answer.body["next_cursor"].as_str().map(str::to_owned) else {
            break;
        };
        answer = app
            .get_as(
                &format!("/api/admin/users?limit=10&cursor={cursor}"),
                &admin,
            )
            .await;
        assert_eq!(answer.status, 200);
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(seen.len(), all_before, "no gaps");
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    let default = app.get_as("/api/admin/users", &admin).await;
    assert_eq!(
        default.body["users"].as_array().unwrap().len(),
        25,
        "default limit"
    );
    let max = app.get_as("/api/admin/users?limit=100", &admin).await;
    assert_eq!(
        max.body["users"].as_array().unwrap().len(),
        all_before + added,
        "everything fits"
    );
    assert_eq!(max.body["next_cursor"], Value::Null);
}

async fn search_is_case_insensitive_on_email_names_and_clerk_id(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    let admin = admin_token(&user_id());
    for (clerk_id, email, first_name, last_name) in [
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
    ] {
        app.seed_user(clerk_id, email, first_name, last_name).await;
    }
    app.seed_users("s", 30).await;
    let search = |q: &str| format!("/api/admin/users?q={}", urlencode(q));
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
        let answer = app.get_as(&search(q), &admin).await;
        assert_eq!(answer.status, 200, "{q}: {:?}", answer.body);
        assert_eq!(emails(&answer), expected, "{q}");
    }
    let bulk = app
        .get_as(&format!("{}&limit=7", search("@bulk.test")), &admin)
        .await;
    assert_eq!(emails(&bulk).len(), 7);
    let cursor = bulk.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get_as(
            &format!("{}&limit=100&cursor={cursor}", search("@bulk.test")),
            &admin,
        )
        .await;
    assert_eq!(emails(&rest).len(), 23, "the search pages too");

    // The same search on the page, with names escaped.
    let page = app.get_html_as("/admin/users?q=lovel", &admin).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("ada@analytical.test") && !page.text().contains("grace@navy.test")
    );
}

#[tokio::test]
async fn stored_names_are_escaped_on_admin_pages() {
    let (_fake, app) = clerk_app().await;
    let admin = admin_token(&user_id());
    app.seed_user(
        "user_xss",
        "x@xss.test",
        Some("<script>alert(1)</script>"),
        Some("<img src=x onerror=alert(2)>"),
    )
    .await;
    let list = app.get_html_as("/admin/users?q=xss", &admin).await.text();
    assert!(
        !list.contains("<script>alert(1)") && !list.contains("<img src=x"),
        "{list}"
    );
    assert!(list.contains("&lt;script&gt;alert(1)"));
    let id = app.get_as("/api/admin/users?q=xss", &admin).await.body["users"][0]["id"]
        .as_i64()
        .unwrap();
    let one = app.get_html_as(&format!("/admin/users/{id}"), &admin).await;
    assert_eq!(one.status, 200);
    assert!(!one.text().contains("<script>alert(1)") && one.text().contains("&lt;img src=x"));
    let by_clerk_id = app.get_as("/api/admin/users/user_xss", &admin).await;
    assert_eq!(by_clerk_id.body["id"].as_i64(), Some(id));
    assert_eq!(
        app.get_as(&format!("/api/admin/users/{id}"), &admin)
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
        let answer = app.get_as(uri, &admin).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "bad-request"),
            "{uri}: {:?}",
            answer.body
        );
        assert!(answer.body["error"]["message"].as_str().unwrap().len() > 10);
    }
    let long = format!("/api/admin/users?q={}", "a".repeat(300));
    assert_eq!(app.get_as(&long, &admin).await.status, 400);
    let missing = app.get_as("/api/admin/users/987654", &admin).await;
    assert_eq!((missing.status, missing.code()), (404, "not-found"));
    assert_eq!(
        app.get_html_as("/admin/users?cursor=nope", &admin)
            .await
            .status,
        400
    );
    assert_eq!(
        app.get_html_as("/admin/users/987654", &admin).await.status,
        404
    );
}

fn urlencode(text: &str) -> String {
    clerk_rocket::pages::encode(text)
}

async fn banned_or_deleted_admins_are_refused(backend: Backend) {
    let banned = user_id();
    let deleted = user_id();
    let (_fake, app) =
        clerk_app_with(|settings| settings.on(&backend).set("admin_user_ids", &banned)).await;
    let banned_token = key_a().sign(&claims(&banned));
    let deleted_token = admin_token(&deleted);
    assert_eq!(
        app.get_as("/api/admin/users", &banned_token).await.status,
        200
    );
    assert_eq!(
        app.get_as("/api/admin/users", &deleted_token).await.status,
        200
    );
    app.ban(&banned).await;
    app.tombstone(&deleted).await;
    let answer = app.get_as("/api/admin/users", &banned_token).await;
    assert_eq!((answer.status, answer.code()), (403, "user-banned"));
    let answer = app.get_as("/api/admin/users", &deleted_token).await;
    assert_eq!((answer.status, answer.code()), (401, "user-deleted"));
    let page = app.get_html_as("/admin/users", &banned_token).await;
    assert_eq!(page.status, 403, "the page refuses too");
    assert!(page.text().contains("user-banned"));
}
