//! The admin dashboard (`/admin`, `/api/admin/stats`) and the CSV export (`/admin/users.csv`), on
//! `SQLite` and (when configured) `PostgreSQL`.

use std::collections::BTreeSet;

use clerk_rocket::auth::KnownUsers;
use clerk_rocket::db::activity::{self, Sighting};
use serde_json::{json, Value};
use sqlx::AnyPool;

use crate::common::*;

backend_tests!(
    stats_count_a_seeded_database_exactly,
    the_dashboard_is_for_admins_and_draws_accessible_charts,
    csv_export_quotes_defuses_and_filters,
    csv_export_streams_every_user_once_in_order,
    a_csv_export_cut_short_has_no_trailer,
);

const DAY: i64 = 86_400;

fn admin_token(user: &str) -> String {
    key_a().sign(&with(
        claims(user),
        json!({ "metadata": { "role": "admin" } }),
    ))
}

struct Seed<'a> {
    clerk_id: &'a str,
    created_at: i64,
    last_seen_at: Option<i64>,
    banned: bool,
    deleted_at: Option<i64>,
}

async fn insert(pool: &AnyPool, user: &Seed<'_>) {
    clerk_rocket::db::query(
        "INSERT INTO users (clerk_id, email, username, created_at, updated_at, last_seen_at, \
         banned, deleted_at) VALUES ($1, $2, $2, $3, $3, $4, $5, $6)",
    )
    .bind(user.clerk_id)
    .bind(format!("{}@stats.test", user.clerk_id))
    .bind(user.created_at)
    .bind(user.last_seen_at)
    .bind(i16::from(user.banned))
    .bind(user.deleted_at)
    .execute(pool)
    .await
    .unwrap();
}

fn counts(series: &Value) -> Vec<i64> {
    series
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_i64().unwrap())
        .collect()
}

/// A series of 30 zeros but for `(index, count)`.
fn expected(nonzero: &[(usize, i64)]) -> Vec<i64> {
    let mut days = vec![0; 30];
    for (i, n) in nonzero {
        days[*i] = *n;
    }
    days
}

fn iso(day: i64) -> String {
    clerk_rocket::db::stats::iso_date(day)
}

async fn stats_count_a_seeded_database_exactly(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    let pool = app.pool().await;
    let now = now();
    let today = now.div_euclid(DAY);
    // Seeds are placed from the start of today (UTC), not from now: `now - 60` would be
    // yesterday in a day's first minute. Whole days before day0 are in the past on their day.
    let day0 = now - now.rem_euclid(DAY);
    let plain = |clerk_id, created_at, last_seen_at| Seed {
        clerk_id,
        created_at,
        last_seen_at,
        banned: false,
        deleted_at: None,
    };
    for seed in [
        plain("user_recent", day0 - 40 * DAY, Some(day0)),
        plain("user_seen6", day0 - 20 * DAY, Some(day0 - 6 * DAY)),
        plain("user_seen8", day0 - 20 * DAY, Some(day0 - 8 * DAY)),
        plain("user_seen29", day0 - 100 * DAY, Some(day0 - 29 * DAY)),
        plain("user_seen31", day0 - 100 * DAY, Some(day0 - 31 * DAY)),
        Seed {
            banned: true,
            ..plain("user_banned", day0 - 3 * DAY, None)
        },
        Seed {
            deleted_at: Some(day0 - DAY),
            ..plain("user_gone", day0 - 3 * DAY, Some(day0 - 2 * DAY))
        },
        Seed {
            banned: true,
            deleted_at: Some(day0 - DAY),
            ..plain("user_bannedgone", day0 - 50 * DAY, None)
        },
        plain("user_edge_in", day0 - 29 * DAY, None),
        plain("user_edge_out", day0 - 30 * DAY, None),
    ] {
        insert(&pool, &seed).await;
    }
    // The admin, first seen by this request (created and seen now).
    let admin_id = user_id();
    let admin = admin_token(&admin_id);
    let answer = app.get_as("/api/admin/stats", &admin).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body["totals"],
        json!({ "users": 11, "active_7d": 4, "active_30d": 6, "banned": 1, "deleted": 2 }),
        "11 rows, 2 of them deleted; seen today (2), 2 and 6 days ago; then 8 and 29 days ago, not 31"
    );
    let signups = &answer.body["signups"];
    assert_eq!(
        counts(signups),
        expected(&[(0, 1), (9, 2), (26, 2), (29, 1)]),
        "29 days ago counts, 30 does not; today is last"
    );
    let dates: Vec<&str> = signups
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates[0], iso(today - 29));
    assert_eq!(dates[29], iso(today));
    assert_eq!(answer.body["active"].as_array().unwrap().len(), 30);
    let newest: Vec<&str> = answer.body["newest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["clerk_id"].as_str().unwrap())
        .collect();
    assert_eq!(newest.len(), 10);
    assert_eq!(
        &newest[..3],
        [admin_id.as_str(), "user_edge_out", "user_edge_in"]
    );

    // A newer profile from a token rewrites the row (an upsert that updates): no new count.
    let renamed = key_a().sign(&with(
        claims(&admin_id),
        json!({ "email": "renamed@stats.test", "metadata": { "role": "admin" } }),
    ));
    assert_eq!(app.get_as("/api/admin/stats", &renamed).await.status, 200);
    assert_eq!(
        app.user_row(&admin_id).await.unwrap()["email"],
        "renamed@stats.test"
    );
    active_users_per_day(&app, &pool, &admin, day0).await;
    pool.close().await;
}

/// Active users per day on the database of [`stats_count_a_seeded_database_exactly`]: as seeded,
/// then after the writer's batches, with repeats (in a batch, across batches), an older sighting
/// and one known not to be a day's first. `day0` is the start of today (UTC).
async fn active_users_per_day(app: &TestApp, pool: &AnyPool, admin: &str, day0: i64) {
    let stats = app.get_as("/api/admin/stats", admin).await.body;
    assert_eq!(
        counts(&stats["active"]),
        expected(&[(0, 1), (21, 1), (23, 1), (27, 1), (29, 2)]),
        "each user on the day last seen (from their rows); the admin today"
    );
    let sighting = |clerk_id: &str, at, first_of_day| Sighting {
        clerk_id: clerk_id.to_owned(),
        at,
        first_of_day,
    };
    activity::record(
        pool,
        &[
            sighting("user_seen6", day0 - 2 * DAY, true),
            sighting("user_seen6", day0 - 2 * DAY + 60, true),
            sighting("user_seen29", day0 - 20 * DAY, true),
            sighting("user_recent", day0 - 2 * DAY, true),
        ],
    )
    .await
    .unwrap();
    activity::record(
        pool,
        &[
            sighting("user_seen6", day0 - 2 * DAY + 120, true),
            sighting("user_seen8", day0 - 9 * DAY, false),
        ],
    )
    .await
    .unwrap();
    // The admin's first sight was noted for the batched writer too: it counts once.
    let known = app.client.rocket().state::<KnownUsers>().unwrap();
    known.flush(pool).await.unwrap();
    let stats = app.get_as("/api/admin/stats", admin).await.body;
    assert_eq!(
        counts(&stats["active"]),
        expected(&[(0, 1), (9, 1), (21, 1), (23, 1), (27, 2), (29, 2)]),
        "a user counts once a day; an older sighting counts nowhere"
    );
    assert_eq!(
        stats["totals"],
        json!({ "users": 11, "active_7d": 4, "active_30d": 6, "banned": 1, "deleted": 2 }),
        "seen6 moved within the week, seen29 within the month; recent not moved back"
    );
    let counted = app
        .scalar("SELECT CAST(SUM(users) AS BIGINT) FROM users_by_last_seen_day")
        .await;
    assert_eq!(
        counted,
        app.count_rows("users").await,
        "every row counted once"
    );
    assert_eq!(
        app.scalar("SELECT users FROM users_by_last_seen_day WHERE day = -1")
            .await,
        4,
        "never seen"
    );
}

async fn the_dashboard_is_for_admins_and_draws_accessible_charts(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    app.seed_users("dash", 3).await;

    let out = app.get("/api/admin/stats", &[]).await;
    assert_eq!((out.status, out.code()), (401, "session-token-missing"));
    let page = app.get_html("/admin").await;
    assert_eq!(
        (page.status, page.header("Location")),
        (303, Some("/sign-in?redirect_url=%2Fadmin"))
    );
    let member = key_a().sign(&claims(&user_id()));
    let answer = app.get_as("/api/admin/stats", &member).await;
    assert_eq!((answer.status, answer.code()), (403, "forbidden"));
    assert_eq!(app.get_html_as("/admin", &member).await.status, 403);
    let home = app.get_html_as("/", &member).await.text();
    assert!(
        !home.contains("href=\"/admin\""),
        "no Admin link for members"
    );

    let admin = admin_token(&user_id());
    let stats = app.get_as("/api/admin/stats", &admin).await.body;
    let page = app.get_html_as("/admin", &admin).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("<a href=\"/admin\">Admin</a>"), "the nav");
    // Three seeded, the member, the admin; all signed up today.
    assert_eq!(stats["totals"]["users"], 5);
    assert!(html.contains("<dd id=\"total-users\">5</dd>"), "{html}");
    assert!(html.contains("<dd id=\"banned\">0</dd>"));
    let today = stats["signups"][29]["date"].as_str().unwrap();
    assert_eq!(stats["signups"][29]["count"], 5);
    assert_eq!(html.matches("<svg class=\"bars").count(), 2);
    assert_eq!(html.matches("role=\"img\"").count(), 2);
    assert!(html.contains(&format!("<title>{today}: 5 sign-ups</title>")));
    assert_eq!(
        html.matches(" sign-ups</title>").count(),
        30,
        "a title per bar"
    );
    assert!(html.contains("Day (UTC)"), "a labelled axis");
    assert!(
        html.contains("fill=\"url(#active-hatch)\""),
        "a pattern, not colour alone"
    );
    assert!(html.contains("<table class=\"figures\" id=\"signups-table\">"));
    assert!(html.contains(&format!("<th scope=\"row\">{today}</th><td>5</td>")));
    let first_newest = stats["newest"][0]["id"].as_i64().unwrap();
    assert!(html.contains(&format!("<a href=\"/admin/users/{first_newest}\">")));
}

/// The records of a CSV text (RFC 4180), each a list of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => {
                assert!(c != '\n' && c != '\r', "a bare line break in {text:?}");
                field.push(c);
            }
        }
    }
    assert!(
        field.is_empty() && record.is_empty() && !quoted,
        "ends with CRLF"
    );
    records
}

/// The last record of a complete export of `users` users: `#end`, the count, empty fields.
fn trailer(users: usize) -> Vec<String> {
    let mut record = vec!["#end".to_owned(), users.to_string()];
    record.resize(12, String::new());
    record
}

async fn csv_export_quotes_defuses_and_filters(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    let cases = [
        ("user_c1", "comma@csv.test", "Smith, John", "O\"Brien"),
        ("user_c2", "newline@csv.test", "line1\nline2", "Zoë 東京"),
        ("user_c3", "formula@csv.test", "=1+1", "+SUM(A1)"),
        ("user_c4", "minus@csv.test", "-2", "@cmd"),
        ("user_c5", "tab@csv.test", "\tTab", "cr\rx"),
    ];
    for (clerk_id, email, first, last) in cases {
        app.seed_user(clerk_id, email, Some(first), Some(last))
            .await;
    }
    app.seed_user("user_other", "other@elsewhere.test", Some("Other"), None)
        .await;
    let admin = admin_token(&user_id());

    let answer = app.get_as("/admin/users.csv?q=csv.test", &admin).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("Content-Type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        answer.header("Content-Disposition"),
        Some("attachment; filename=\"users.csv\"")
    );
    let text = answer.text();
    assert!(text.starts_with(
        "id,clerk_id,email,username,first_name,last_name,role,state,created_at,updated_at,last_seen_at,deleted_at\r\n"
    ));
    // The exact bytes of the tricky fields.
    for fragment in [
        ",\"Smith, John\",\"O\"\"Brien\",",
        ",\"line1\nline2\",Zoë 東京,",
        ",'=1+1,'+SUM(A1),",
        ",'-2,'@cmd,",
        ",'\tTab,\"cr\rx\",",
    ] {
        assert!(text.contains(fragment), "{fragment:?} in {text:?}");
    }
    let mut records = parse_csv(&text);
    assert_eq!(
        records.len(),
        1 + cases.len() + 1,
        "the header, the matches and the trailer only"
    );
    assert!(records.iter().all(|r| r.len() == 12));
    assert_eq!(
        records.pop().unwrap(),
        trailer(cases.len()),
        "a complete file says so last"
    );
    let by_email: Vec<(&str, &str, &str)> = records[1..]
        .iter()
        .map(|r| (r[2].as_str(), r[4].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        by_email,
        [
            ("tab@csv.test", "'\tTab", "cr\rx"),
            ("minus@csv.test", "'-2", "'@cmd"),
            ("formula@csv.test", "'=1+1", "'+SUM(A1)"),
            ("newline@csv.test", "line1\nline2", "Zoë 東京"),
            ("comma@csv.test", "Smith, John", "O\"Brien"),
        ],
        "newest first, values intact but for the defusing quote"
    );
    assert!(records[1..]
        .iter()
        .all(|r| r[7] == "active" && r[8].ends_with('Z')));

    // Everyone without q; refusals.
    let all = parse_csv(&app.get_as("/admin/users.csv", &admin).await.text());
    assert_eq!(
        all.len(),
        1 + cases.len() + 2 + 1,
        "with user_other and the admin"
    );
    assert_eq!(all.last(), Some(&trailer(cases.len() + 2)));
    let none = parse_csv(&app.get_as("/admin/users.csv?q=nobody", &admin).await.text());
    assert_eq!(none.len(), 2, "the header and the trailer");
    assert_eq!(none[1], trailer(0));
    assert_eq!(
        app.get_html_as("/admin/users.csv?q=%01", &admin)
            .await
            .status,
        400
    );
    let long = "x".repeat(201);
    assert_eq!(
        app.get_html_as(&format!("/admin/users.csv?q={long}"), &admin)
            .await
            .status,
        400
    );
    let member = key_a().sign(&claims(&user_id()));
    let refused = app.get_html_as("/admin/users.csv", &member).await;
    assert_eq!(refused.status, 403);
    assert!(!refused.text().contains("comma@csv.test"));
    let out = app.get_html("/admin/users.csv").await;
    assert_eq!(out.status, 303);
}

async fn csv_export_streams_every_user_once_in_order(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    app.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 2500) \
         INSERT INTO users (clerk_id, email, username, created_at, updated_at) \
         SELECT 'user_many' || n, 'p' || n || '@many.test', 'p' || n || '@many.test', \
                1700000000 + n, 1700000000 + n FROM seq",
    )
    .await;
    app.seed_user("user_few", "few@few.test", None, None).await;
    let admin = admin_token(&user_id());
    for (uri, users) in [
        ("/admin/users.csv?q=%40many.test", 2500),
        ("/admin/users.csv", 2502),
    ] {
        let answer = app.get_as(uri, &admin).await;
        assert_eq!(answer.status, 200);
        let mut records = parse_csv(&answer.text());
        assert_eq!(records.pop(), Some(trailer(users)), "{uri}: complete");
        let ids: Vec<i64> = records[1..].iter().map(|r| r[0].parse().unwrap()).collect();
        assert_eq!(ids.len(), users, "{uri}: more rows than one chunk of 1,000");
        assert!(
            ids.windows(2).all(|w| w[0] > w[1]),
            "{uri}: newest first, no repeat"
        );
        let emails: BTreeSet<&str> = records[1..].iter().map(|r| r[2].as_str()).collect();
        assert_eq!(emails.len(), users);
        assert!(emails.contains("p1@many.test") && emails.contains("p2500@many.test"));
        assert!(emails.contains("p1000@many.test") && emails.contains("p1001@many.test"));
    }
}

/// Issue 20: an export that fails midway must not pass for a whole one. The answer's status line
/// is sent before the second chunk is read, so the failure can only show as a missing trailer.
async fn a_csv_export_cut_short_has_no_trailer(backend: Backend) {
    let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
    app.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1500) \
         INSERT INTO users (clerk_id, email, username, created_at, updated_at) \
         SELECT 'user_cut' || n, 'c' || n || '@cut.test', 'c' || n || '@cut.test', \
                1700000000 + n, 1700000000 + n FROM seq",
    )
    .await;
    let admin = admin_token(&user_id());
    let response = app
        .client
        .get("/admin/users.csv")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {admin}"),
        ))
        .dispatch()
        .await;
    assert_eq!(response.status().code, 200);
    // The first chunk is read; the second page's query will fail.
    app.rename_table("users", "users_gone").await;
    let text = response.into_string().await.unwrap_or_default();
    app.rename_table("users_gone", "users").await;
    let records = parse_csv(&text);
    assert!(records.len() > 1, "the header and the first chunk at least");
    assert!(
        records.iter().all(|r| r[0] != "#end"),
        "a cut-short export ends without its trailer"
    );
    assert!(records.len() <= 1 + 1000 + 1, "{} records", records.len());
}
