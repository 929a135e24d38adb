//! Local mode's organizations, M2M tokens and API keys, minted by the `clerk-rocket` command and
//! accepted by a local-mode app: the whole machine flow without a Clerk account.

use serde_json::json;

use crate::common::*;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn cli_tokens_with_an_org_or_for_a_machine_are_accepted() {
    let dir = scratch_dir();
    let key_file = dir.join("local.pem");
    let env = [
        ("CLERK_LOCAL_MODE", "true"),
        ("CLERK_LOCAL_KEY_FILE", key_file.to_str().unwrap()),
    ];
    let session = stdout(&run(
        &dir,
        &[
            "token",
            "--email",
            "org@example.com",
            "--org",
            "acme",
            "--org-role",
            "admin",
            "--permission",
            "org:invoices:read",
            "--permission",
            "org:invoices:manage",
            "--permission",
            "org:reports:read",
        ],
        &env,
    ));
    let machine = stdout(&run(
        &dir,
        &["token", "--machine", "mch_caller", "--scope", "mch_server"],
        &env,
    ));
    let app = Settings::local(&key_file).start().await;
    let current = app.get_as("/api/orgs/current", &session).await;
    assert_eq!(current.status, 200, "{:?}", current.body);
    assert_eq!(current.body["slug"], "acme");
    assert_eq!(current.body["role"], "org:admin");
    assert_eq!(
        current.body["permissions"],
        json!([
            "org:invoices:read",
            "org:invoices:manage",
            "org:reports:read"
        ])
    );
    assert!(current.body["id"]
        .as_str()
        .unwrap()
        .starts_with("org_local_"));

    let whoami = app.get_as("/api/whoami", &machine).await;
    assert_eq!(whoami.status, 200, "{:?}", whoami.body);
    assert_eq!(whoami.body["token_type"], "m2m_token");
    assert_eq!(whoami.body["machine_id"], "mch_caller");
    assert_eq!(whoami.body["scopes"], json!(["mch_server"]));
    // A machine token is no session.
    assert_eq!(
        app.get_as("/api/users/me", &machine).await.code(),
        "token-type-mismatch"
    );

    for bad in [
        vec!["token", "--machine", "user_1"],
        vec![
            "token",
            "--email",
            "a@b.test",
            "--org",
            "acme",
            "--permission",
            "nocolon",
        ],
        vec!["token", "--email", "a@b.test", "--permission", "org:a:b"],
    ] {
        let out = run(&dir, &bad, &env);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

backend_tests!(api_keys_made_by_the_cli_are_verified_by_a_local_app);

async fn api_keys_made_by_the_cli_are_verified_by_a_local_app(backend: Backend) {
    let dir = scratch_dir();
    let key_file = dir.join("local.pem");
    let url = backend.fresh_url().await;
    let env = [
        ("CLERK_LOCAL_MODE", "true"),
        ("CLERK_LOCAL_KEY_FILE", key_file.to_str().unwrap()),
        ("DATABASE_URL", url.as_str()),
    ];
    let out = run(
        &dir,
        &[
            "api-key",
            "create",
            "--name",
            "ci",
            "--user",
            "you@example.com",
        ],
        &env,
    );
    let secret = stdout(&out);
    assert!(secret.starts_with("ak_"), "{secret}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let key_id = stderr
        .split_whitespace()
        .find(|w| w.starts_with("ak_local_"))
        .unwrap()
        .to_owned();

    let app = Settings::local(&key_file).on_database(&url).start().await;
    let whoami = app.get_as("/api/whoami", &secret).await;
    assert_eq!(whoami.status, 200, "{:?}", whoami.body);
    assert_eq!(whoami.body["token_type"], "api_key");
    assert_eq!(whoami.body["name"], "ci");
    assert_eq!(
        whoami.body["user_id"],
        clerk_rocket::clerk::local::user_id_for("you@example.com")
    );
    // Only the hash is stored.
    let stored = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE secret_hash = '{}'",
            clerk_rocket::db::api_keys::secret_hash(&secret)
        ))
        .await;
    assert_eq!(stored, 1);
    let leaked = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE secret_hash = '{secret}' OR key_id = '{secret}'"
        ))
        .await;
    assert_eq!(leaked, 0);

    let wrong = format!("{secret}0");
    assert_eq!(
        app.get_as("/api/whoami", &wrong).await.code(),
        "token-invalid"
    );
    assert_eq!(
        app.get_as("/api/users/me", &secret).await.code(),
        "token-type-mismatch"
    );

    stdout(&run(&dir, &["api-key", "revoke", "--id", &key_id], &env));
    let revoked = app.get_as("/api/whoami", &secret).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.code(), "token-revoked");

    let out = run(
        &dir,
        &["api-key", "create", "--name", "x"],
        &[("CLERK_JWT_ISSUER", "https://clerk.example.test")],
    );
    assert_eq!(out.status.code(), Some(2), "local mode only");
}
