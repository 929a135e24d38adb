//! `clerk-rocket check` against fake Clerk servers: one test per finding, the token explanation,
//! and the binary's output and exit status.

use clerk_rocket::cli::check::{self, Finding, Level};
use clerk_rocket::config::ClerkConfig;
use serde_json::json;

use crate::common::*;

backend_tests!(
    a_sound_configuration_is_all_ok,
    the_database_and_its_migrations_are_checked,
);

const SECRET_KEY: &str = "sk_test_check0123456789abcdefghijklmnopqrstuv";
/// `whsec_` and 24 bytes of base64, as Clerk's are.
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A Clerk-mode configuration trusting `fake`: publishable key of `clerk.example.test`, keys from
/// `fake`, an authorized party and a webhook secret.
fn settings(fake: &FakeClerk) -> Settings {
    Settings::clerk(fake)
        .set("publishable_key", &publishable_key(ISSUER_HOST, false))
        .set("authorized_parties", ORIGIN)
        .set("webhook_signing_secret", WEBHOOK_SECRET)
}

/// The findings of `check` for `settings`, on a fresh database (migrated when `migrated`).
async fn findings(settings: &Settings, migrated: bool, token: Option<&str>) -> Vec<Finding> {
    let (figment, _) = settings.figment().await;
    let config = ClerkConfig::from_figment(&figment).expect("valid settings");
    let database = check::database_config(&figment);
    if migrated {
        let settings = clerk_rocket::db::settings(&figment).unwrap();
        let pool = clerk_rocket::db::AnyPool::connect(&database.as_ref().unwrap().pool, &settings)
            .await
            .unwrap();
        clerk_rocket::db::migrate(&pool).await.unwrap();
        pool.close().await;
    }
    run_check(&config, database, token).await
}

async fn run_check(
    config: &ClerkConfig,
    database: Result<check::DatabaseConfig, check::DatabaseConfigError>,
    token: Option<&str>,
) -> Vec<Finding> {
    check::run(config, &clerk_rocket::clerk::http_client(), database, token).await
}

fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The only finding about `topic`.
fn about<'f>(findings: &'f [Finding], topic: &str) -> &'f Finding {
    let matching: Vec<&Finding> = findings.iter().filter(|f| f.topic == topic).collect();
    assert_eq!(
        matching.len(),
        1,
        "one finding about {topic}:\n{}",
        lines(findings)
    );
    matching[0]
}

fn none_about(findings: &[Finding], topic: &str) {
    assert!(
        findings.iter().all(|f| f.topic != topic),
        "no finding about {topic}:\n{}",
        lines(findings)
    );
}

fn assert_level(finding: &Finding, level: Level) {
    assert_eq!(finding.level, level, "{finding}");
}

async fn a_sound_configuration_is_all_ok(backend: Backend) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a(), key_b()]).await;
    fake.serve_backend_jwks(SECRET_KEY, &[key_a(), key_b()])
        .await;
    let settings = settings(&fake).set("secret_key", SECRET_KEY).on(&backend);
    let found = findings(&settings, true, None).await;
    let all = lines(&found);
    assert!(found.iter().all(|f| f.level == Level::Ok), "{all}");
    assert!(!check::has_errors(&found));

    assert_eq!(
        about(&found, "publishable key").message,
        format!(
            "pk_test_… decodes to the frontend API {ISSUER_HOST} (development instance); \
             issuer https://{ISSUER_HOST}; JWKS {} (CLERK_JWKS_URL)",
            fake.jwks_url()
        )
    );
    assert_eq!(
        about(&found, "jwks").message,
        format!("{} holds 2 keys (ins_test_a, ins_test_b)", fake.jwks_url())
    );
    assert!(about(&found, "secret key")
        .message
        .contains("same instance: both JWKS hold ins_test_a, ins_test_b"));
    assert!(about(&found, "clock").message.contains("agrees"), "{all}");
    assert!(about(&found, "authorized parties").message.contains(ORIGIN));
    assert!(about(&found, "webhook secret")
        .message
        .contains("24-byte key"));
    assert!(about(&found, "database").message.contains("is reachable"));
    assert_eq!(
        about(&found, "migrations").message,
        format!("all {} applied", migration_count())
    );
    none_about(&found, "instance");
    none_about(&found, "token");
    for secret in [SECRET_KEY, WEBHOOK_SECRET] {
        assert!(!all.contains(secret), "no secret printed: {all}");
    }
}

#[tokio::test]
async fn an_unreachable_or_empty_jwks_is_an_error() {
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = FakeClerk::start().await;
    let closed = format!("http://127.0.0.1:{port}/.well-known/jwks.json");
    let found = findings(&settings(&fake).set("jwks_url", &closed), false, None).await;
    let jwks = about(&found, "jwks");
    assert_level(jwks, Level::Error);
    assert!(
        jwks.message
            .starts_with(&format!("no keys from {closed}: request failed")),
        "{jwks}"
    );
    assert!(jwks.fix.is_some());
    none_about(&found, "clock");
    assert!(check::has_errors(&found));

    // Reachable, but serving no JWKS (a wrong CLERK_JWKS_URL): 404.
    let found = findings(&settings(&fake), false, None).await;
    let jwks = about(&found, "jwks");
    assert_level(jwks, Level::Error);
    assert!(jwks.message.ends_with("answered 404 Not Found"), "{jwks}");

    // A JWKS without a usable key.
    fake.serve_jwks_body(json!({ "keys": [] })).await;
    let found = findings(&settings(&fake), false, None).await;
    assert!(about(&found, "jwks")
        .message
        .contains("no usable RS256 signing key"));
}

#[tokio::test]
async fn keys_of_two_instances_are_an_error() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    fake.serve_backend_jwks(SECRET_KEY, &[key_b()]).await;
    let found = findings(&settings(&fake).set("secret_key", SECRET_KEY), false, None).await;
    let instance = about(&found, "instance");
    assert_level(instance, Level::Error);
    assert_eq!(
        instance.message,
        "keys from two Clerk instances: the frontend API's JWKS holds ins_test_a but the secret \
         key's instance signs with ins_test_b"
    );
    assert!(instance.fix.as_deref().unwrap().contains("same instance"));
    none_about(&found, "secret key");

    // A production secret key with a development publishable key: two instances, seen offline.
    let live = "sk_live_check0123456789abcdefghijklmnopqrstuv";
    fake.serve_backend_jwks(live, &[key_a()]).await;
    let found = findings(&settings(&fake).set("secret_key", live), false, None).await;
    let mismatch = found
        .iter()
        .find(|f| f.topic == "secret key" && f.level == Level::Error)
        .unwrap_or_else(|| panic!("{}", lines(&found)));
    assert!(mismatch
        .message
        .contains("a production secret key with a development publishable key"));
    assert!(!lines(&found).contains(live));
}

#[tokio::test]
async fn a_refused_secret_key_is_an_error() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    fake.refuse_backend_jwks().await;
    let found = findings(&settings(&fake).set("secret_key", SECRET_KEY), false, None).await;
    let secret = about(&found, "secret key");
    assert_level(secret, Level::Error);
    assert_eq!(
        secret.message,
        format!(
            "invalid: the Backend API ({}/v1/jwks) answered 401 Unauthorized",
            fake.api_url()
        )
    );
    none_about(&found, "instance");
    assert!(!lines(&found).contains(SECRET_KEY));

    // Without a secret key there is nothing to refuse.
    let found = findings(&settings(&fake), false, None).await;
    let secret = about(&found, "secret key");
    assert_level(secret, Level::Ok);
    assert!(secret.message.starts_with("not set"));
}

#[tokio::test]
async fn the_clock_is_measured_against_the_date_header() {
    // Clerk's clock a minute ahead: ours is behind, far more than the 5 s skew.
    let fake = FakeClerk::start().await;
    fake.serve_jwks_dated(&[key_a()], 60).await;
    let found = findings(&settings(&fake), false, None).await;
    let clock = about(&found, "clock");
    assert_level(clock, Level::Error);
    assert!(
        clock
            .message
            .contains(" s behind the Date header of 127.0.0.1"),
        "{clock}"
    );
    assert!(clock.message.contains("allowed skew 5 s"), "{clock}");
    assert!(clock.fix.as_deref().unwrap().contains("NTP"));

    // A minute behind: ours is ahead.
    fake.serve_jwks_dated(&[key_a()], -60).await;
    let found = findings(&settings(&fake), false, None).await;
    let clock = about(&found, "clock");
    assert_level(clock, Level::Error);
    assert!(
        clock.message.contains(" s ahead of the Date header"),
        "{clock}"
    );

    // More than half the skew, within it: a warning. The measured offset is at most 9 and more
    // than 8 less the round trip, so it stays in the warning band (6, 12] for round trips of up
    // to 2 s.
    fake.serve_jwks_dated(&[key_a()], 9).await;
    let found = findings(&settings(&fake).set("clock_skew_secs", "12"), false, None).await;
    assert_level(about(&found, "clock"), Level::Warning);

    // A correct Date: ok. The fake writes the Date while answering, so it is a whole second
    // within the round trip, which measures exactly 0 however slow the machine: no retry needed.
    fake.serve_jwks_dated(&[key_a()], 0).await;
    let found = findings(&settings(&fake), false, None).await;
    let clock = about(&found, "clock");
    assert_level(clock, Level::Ok);
    assert!(clock.message.contains("agrees"), "{clock}");
}

#[tokio::test]
async fn authorized_parties_are_required_in_production() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let live = settings(&fake)
        .set("publishable_key", &publishable_key(ISSUER_HOST, true))
        .unset("authorized_parties");
    let found = findings(&live, false, None).await;
    let parties = about(&found, "authorized parties");
    assert_level(parties, Level::Error);
    assert!(parties.message.contains("production instance (pk_live_)"));
    assert!(parties
        .fix
        .as_deref()
        .unwrap()
        .contains("CLERK_AUTHORIZED_PARTIES"));
    assert!(about(&found, "publishable key")
        .message
        .contains("(production instance)"));

    // A development instance in a debug build: fine.
    let found = findings(&settings(&fake).unset("authorized_parties"), false, None).await;
    assert_level(about(&found, "authorized parties"), Level::Ok);
}

#[tokio::test]
async fn the_webhook_secret_is_checked() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let found = findings(
        &settings(&fake).unset("webhook_signing_secret"),
        false,
        None,
    )
    .await;
    let webhook = about(&found, "webhook secret");
    assert_level(webhook, Level::Warning);
    assert!(webhook.message.starts_with("not set"));
    assert!(webhook
        .fix
        .as_deref()
        .unwrap()
        .contains("CLERK_WEBHOOK_SIGNING_SECRET"));

    // Accepted by the settings, but too short to be Clerk's: cut when copied.
    let short = "whsec_c2hvcnQ=";
    let found = findings(
        &settings(&fake).set("webhook_signing_secret", short),
        false,
        None,
    )
    .await;
    let webhook = about(&found, "webhook secret");
    assert_level(webhook, Level::Warning);
    assert!(webhook.message.contains("5-byte key"), "{webhook}");
    assert!(!lines(&found).contains("c2hvcnQ"));

    // Malformed: the settings refuse it (the CLI exits 2, see below); a config made by hand is
    // checked too.
    let (figment, _) = settings(&fake).figment().await;
    let mut config = ClerkConfig::from_figment(&figment).unwrap();
    config.webhook_signing_secret = Some("whsec_not base64!".into());
    let found = run_check(&config, check::database_config(&figment), None).await;
    let webhook = about(&found, "webhook secret");
    assert_level(webhook, Level::Error);
    assert!(webhook.message.starts_with("malformed"));
    assert!(!lines(&found).contains("not base64!"));
}

async fn the_database_and_its_migrations_are_checked(backend: Backend) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    // A fresh database: reachable, every migration pending.
    let found = findings(&settings(&fake).on(&backend), false, None).await;
    assert_level(about(&found, "database"), Level::Ok);
    let migrations = about(&found, "migrations");
    assert_level(migrations, Level::Warning);
    assert!(
        migrations.message.starts_with(&format!(
            "{n} of {n} pending: 0001 users",
            n = migration_count()
        )),
        "{migrations}"
    );
    assert_eq!(
        migrations.fix.as_deref(),
        Some("clerk-rocket migrate (serve also applies them at start)")
    );
}

#[tokio::test]
async fn an_unreachable_database_is_an_error() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    // Nothing listens there.
    let (figment, _) = settings(&fake).figment().await;
    let config = ClerkConfig::from_figment(&figment).unwrap();
    let mut database = check::database_config(&figment).unwrap();
    database.pool.url = "postgres://app:s3cret@127.0.0.1:1/app".into();
    database.pool.connect_timeout = 2;
    let found = run_check(&config, Ok(database), None).await;
    let db = about(&found, "database");
    assert_level(db, Level::Error);
    assert!(
        db.message
            .starts_with("postgres://app:***@127.0.0.1:1/app is unreachable"),
        "{db}"
    );
    assert!(!lines(&found).contains("s3cret"));
    none_about(&found, "migrations");
}

#[tokio::test]
async fn local_mode_skips_the_clerk_checks() {
    let settings = Settings::local(&scratch_dir().join("local.pem"));
    let found = findings(&settings, true, None).await;
    let mode = about(&found, "mode");
    assert_level(mode, Level::Ok);
    assert!(mode.message.starts_with("local mode is on"));
    for topic in [
        "jwks",
        "secret key",
        "clock",
        "publishable key",
        "authorized parties",
    ] {
        none_about(&found, topic);
    }
    assert!(!check::has_errors(&found), "{}", lines(&found));
}

#[tokio::test]
async fn a_good_token_is_accepted_claim_by_claim() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let found = findings(&settings(&fake), true, Some(&token)).await;
    assert!(
        found.iter().all(|f| f.level == Level::Ok),
        "{}",
        lines(&found)
    );
    for claim in [
        "sub", "iss", "aud", "azp", "exp", "nbf", "iat", "sid", "sts", "email",
    ] {
        let topic = format!("token {claim}");
        assert!(
            found.iter().any(|f| f.topic == topic),
            "{topic}: {}",
            lines(&found)
        );
    }
    assert_eq!(
        about(&found, "token iss").message,
        format!("expected \"https://{ISSUER_HOST}\", found \"https://{ISSUER_HOST}\"")
    );
    let verdict = found.last().unwrap();
    assert_eq!(verdict.topic, "token");
    assert_eq!(
        verdict.message,
        format!("accepted: this server would sign in {user} (session sess_{user})")
    );
    assert!(!lines(&found).contains(&token));
}

#[tokio::test]
async fn bad_tokens_name_the_failing_claim_with_expected_and_found() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let now = now();
    let cases = [
        (
            "expired",
            json!({ "exp": now - 120, "iat": now - 180, "nbf": now - 190 }),
            "token exp",
            "token-expired",
            "s ago)",
        ),
        (
            "wrong issuer",
            json!({ "iss": "https://other.example.test" }),
            "token iss",
            "token-invalid-issuer",
            "found \"https://other.example.test\"",
        ),
        (
            "wrong party",
            json!({ "azp": "https://evil.example.test" }),
            "token azp",
            "token-invalid-authorized-parties",
            "expected one of [\"https://app.example.test\"], found \"https://evil.example.test\"",
        ),
    ];
    for (case, changes, topic, code, shown) in cases {
        let token = key_a().sign(&with(claims(&user_id()), changes));
        let found = findings(&settings(&fake), false, Some(&token)).await;
        let failing = about(&found, topic);
        assert_level(failing, Level::Error);
        assert!(
            failing.message.starts_with("expected "),
            "{case}: {failing}"
        );
        assert!(failing.message.contains(shown), "{case}: {failing}");
        assert!(
            failing.message.ends_with(&format!("({code})")),
            "{case}: {failing}"
        );
        assert!(failing.fix.is_some(), "{case}");
        let verdict = found.last().unwrap();
        assert_eq!(verdict.topic, "token");
        assert_level(verdict, Level::Error);
        assert!(
            verdict.message.starts_with(&format!("refused: {code} (")),
            "{case}: {verdict}"
        );
        assert!(
            !lines(&found).contains(&token),
            "{case}: the token is not printed"
        );
    }

    // A token of another instance: the key is unknown, and its issuer says why.
    let other = key_b().sign(&with(
        claims(&user_id()),
        json!({ "iss": "https://clerk.other.test" }),
    ));
    let found = findings(&settings(&fake), false, Some(&other)).await;
    assert!(
        lines(&found).contains("jwk-kid-mismatch"),
        "{}",
        lines(&found)
    );
    let iss = about(&found, "token iss");
    assert_level(iss, Level::Error);
    assert!(iss.message.contains("found \"https://clerk.other.test\""));

    // Not a JWT at all.
    let found = findings(&settings(&fake), false, Some("not-a-token")).await;
    let token = about(&found, "token");
    assert_level(token, Level::Error);
    assert!(token.message.contains("token-invalid"));
}

#[tokio::test]
async fn the_command_prints_one_line_per_finding_and_fails_on_errors() {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let dir = scratch_dir();
    let database = format!("sqlite://{}/app.db?mode=rwc", dir.display());
    let pk = publishable_key(ISSUER_HOST, false);
    let issuer = format!("https://{ISSUER_HOST}");
    let jwks = fake.jwks_url();
    let env = [
        ("CLERK_PUBLISHABLE_KEY", pk.as_str()),
        ("CLERK_JWT_ISSUER", issuer.as_str()),
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("CLERK_AUTHORIZED_PARTIES", ORIGIN),
        ("CLERK_WEBHOOK_SIGNING_SECRET", WEBHOOK_SECRET),
        ("DATABASE_URL", database.as_str()),
    ];
    let migrated = run(&dir, &["migrate"], &env);
    assert!(migrated.status.success(), "{migrated:?}");

    let token = key_a().sign(&claims(&user_id()));
    let good = run(&dir, &["check", "--token", &token], &env);
    let stdout = String::from_utf8(good.stdout).unwrap();
    // Shown with `cargo test check::the_command -- --nocapture`.
    println!("$ clerk-rocket check --token …\n{stdout}");
    assert_eq!(good.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("ok      ")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("ok      jwks: {jwks} holds 1 key (ins_test_a)\n")));
    assert!(!stdout.contains(&token), "the token is not printed");
    assert!(!stdout.contains(WEBHOOK_SECRET));

    // The same token from standard input (`--token -`), kept out of the shell history.
    let piped = run_with_stdin(
        &dir,
        &["check", "--token", "-"],
        &env,
        &format!("{token}\n"),
    );
    let piped_out = String::from_utf8(piped.stdout).unwrap();
    assert_eq!(piped.status.code(), Some(0), "{piped_out}");
    assert!(
        piped_out.contains("ok      token: accepted: "),
        "{piped_out}"
    );

    // A pending session's token verifies, with a warning saying where it is served.
    let pending = key_a().sign(&with(claims(&user_id()), json!({ "sts": "pending" })));
    let out = run(&dir, &["check", "--token", &pending], &env);
    let pending_out = String::from_utf8(out.stdout).unwrap();
    let line = pending_out
        .lines()
        .find(|l| l.contains("token: verified, but the session is pending"))
        .unwrap_or_else(|| panic!("{pending_out}"));
    assert!(line.starts_with("warning"), "{line}");
    assert!(
        line.contains("/api/whoami") && line.contains("/sign-in/tasks"),
        "{line}"
    );
    assert!(!pending_out.contains("token: accepted"), "{pending_out}");

    // An expired token: exit status 1, the failing claim named, never the token.
    let now = now();
    let expired = key_a().sign(&with(
        claims(&user_id()),
        json!({ "exp": now - 120, "iat": now - 180, "nbf": now - 190 }),
    ));
    let bad = run(&dir, &["check", "--token", &expired], &env);
    let stdout = String::from_utf8(bad.stdout).unwrap();
    println!("$ clerk-rocket check --token <expired>\n{stdout}");
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("error   token exp: expected a time later than "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("(token-expired)  fix: get a fresh token"),
        "{line}"
    );
    assert!(!stdout.contains(&expired));

    // A malformed setting: one line naming it, exit status 2, the value not echoed.
    let out = run(
        &dir,
        &["check"],
        &[("CLERK_WEBHOOK_SIGNING_SECRET", "not-a-whsec-secret")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: CLERK_WEBHOOK_SIGNING_SECRET: "));
    assert!(!stderr.contains("not-a-whsec-secret"));
}

/// How many migrations the binary embeds (the same number for both backends).
fn migration_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count()
}
