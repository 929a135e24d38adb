//! The `clerk-rocket` command itself: `token`, `migrate`, and refusing bad settings.

use std::path::Path;

use crate::common::*;

#[tokio::test]
async fn token_command_prints_a_token_the_app_accepts() {
    let dir = scratch_dir();
    let key_file = dir.join("local.pem");
    let key = key_file.to_str().unwrap();
    let out = run(
        &dir,
        &["token", "--email", "cli@example.com", "--admin"],
        &[("CLERK_LOCAL_MODE", "true"), ("CLERK_LOCAL_KEY_FILE", key)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3);

    let app = Settings::local(&key_file).start().await;
    let me = app.get_as("/api/users/me", &token).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["email"], "cli@example.com");
    assert_eq!(me.body["role"], "admin");
}

#[test]
fn token_command_refuses_outside_local_mode() {
    let dir = scratch_dir();
    let out = run(
        &dir,
        &["token", "--email", "a@b.test"],
        &[("CLERK_JWT_ISSUER", "https://clerk.example.test")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("local mode only"));
    let out = run(
        &dir,
        &["token", "--email", "not-an-email"],
        &[("CLERK_LOCAL_MODE", "true")],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn malformed_settings_stop_the_start_with_one_line_naming_the_variable() {
    let dir = scratch_dir();
    let cases = [
        ("CLERK_PUBLISHABLE_KEY", "pk_test_bm90LWEtaG9zdA"),
        ("CLERK_JWT_ISSUER", "not a url"),
        (
            "CLERK_JWT_KEY",
            "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
        ),
        ("CLERK_CLOCK_SKEW_SECS", "five"),
        (
            "CLERK_AUTHORIZED_PARTIES",
            "https://ok.test,https://bad.test/path",
        ),
        ("CLERK_WEBHOOK_SIGNING_SECRET", "secret"),
        ("CLERK_LOCAL_MODE", "maybe"),
        ("CLERK_SECRET_KEY", "pk_test_oops"),
        ("DATABASE_URL", "mysql://root@localhost/app"),
    ];
    for (variable, value) in cases {
        let out = run(&dir, &["migrate"], &[(variable, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{variable}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{variable}: one line: {stderr}"
        );
        assert!(
            stderr.starts_with(&format!("error: {variable}: ")),
            "{stderr}"
        );
        assert!(
            !stderr.contains(value)
                || variable == "CLERK_CLOCK_SKEW_SECS"
                || variable == "CLERK_LOCAL_MODE"
                || variable == "CLERK_JWT_ISSUER"
                || variable == "DATABASE_URL",
            "no secret echoed: {stderr}"
        );
    }
}

#[test]
fn migrate_creates_the_database_and_its_folder() {
    let dir = scratch_dir();
    let url = format!("sqlite://{}/nested/app.db?mode=rwc", dir.display());
    let out = run(
        &dir,
        &["migrate"],
        &[("DATABASE_URL", &url), ("CLERK_LOCAL_MODE", "true")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("nested/app.db").exists());
    let again = run(
        &dir,
        &["migrate"],
        &[("DATABASE_URL", &url), ("CLERK_LOCAL_MODE", "true")],
    );
    assert!(again.status.success(), "migrate is idempotent");
}

#[test]
fn a_missing_static_folder_stops_the_start_with_a_line_not_a_panic() {
    let dir = scratch_dir();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let out = run(
        &dir,
        &[],
        &[
            ("CLERK_LOCAL_MODE", "true"),
            ("ROCKET_PORT", "0"),
            ("ROCKET_TEMPLATE_DIR", templates.to_str().unwrap()),
        ],
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed start, not a panic (101): {printed}"
    );
    assert!(!printed.contains("panicked"), "{printed}");
    assert!(
        printed.contains("static_dir"),
        "names the setting: {printed}"
    );
}
