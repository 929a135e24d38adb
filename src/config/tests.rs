//! The settings, read and refused.

use super::checks::valid_host;
use super::*;

#[test]
fn publishable_keys_decode() {
    let pk = decode_publishable_key("pk_test_bGVnaWJsZS1hYXJkdmFyay02NC5jbGVyay5hY2NvdW50cy5kZXYk")
        .unwrap();
    assert_eq!(pk.frontend_api, "legible-aardvark-64.clerk.accounts.dev");
    assert!(!pk.production);
    let pk = decode_publishable_key("pk_live_Y2xlcmsuZmluZG15ZmllbGQub25saW5lJA").unwrap();
    assert_eq!(pk.frontend_api, "clerk.findmyfield.online");
    assert!(pk.production);
    for bad in [
        "",
        "pk_test_",
        "sk_test_Y2xlcmsuY2xlcmsuZGV2JA",
        "pk_test_bm90LWEtaG9zdA",
        "pk_test_a_b",
        "pk_test_!!!",
    ] {
        assert!(
            decode_publishable_key(bad).is_err(),
            "{bad} should not decode"
        );
    }
}

#[test]
fn cookie_suffix_matches_clerk_vectors() {
    assert_eq!(cookie_suffix("pk_live_Y2xlcmsuY2xlcmsuZGV2JA"), "1Z8AzTQD");
    assert_eq!(cookie_suffix("pk_test_Y2xlcmsuY2xlcmsuZGV2JA"), "QvfNY2dr");
}

#[test]
fn origins_are_checked() {
    assert!(check_origin("https://app.example.com").is_ok());
    assert!(check_origin("http://localhost:3000").is_ok());
    assert!(check_origin("https://app.example.com/").is_err());
    assert!(check_origin("https://app.example.com/path").is_err());
    assert!(check_origin("app.example.com").is_err());
}

fn config(clerk: serde_json::Value) -> Result<ClerkConfig, ConfigError> {
    let figment = Figment::new()
        .merge(figment::providers::Serialized::defaults(
            serde_json::json!({
                "address": "127.0.0.1"
            }),
        ))
        .merge(figment::providers::Serialized::global("clerk", clerk));
    ClerkConfig::from_figment(&figment)
}

#[test]
fn hosts_with_bad_ports_are_refused_at_start() {
    for host in [
        "clerk.example.com:99999",
        "clerk.example.com:",
        "clerk.example.com:8a",
        "clerk.example.com:0",
        "clerk..example.com",
        "clerk.example.com:1:2",
        "-x.example.com",
    ] {
        assert!(!valid_host(host), "{host}");
        let error = config(serde_json::json!({ "frontend_api": host })).unwrap_err();
        assert_eq!(error.variable, "CLERK_FRONTEND_API", "{host}");
    }
    assert!(valid_host("clerk.example.com:8443"));
    let key = format!(
        "pk_test_{}",
        base64::engine::general_purpose::STANDARD.encode("clerk.example.com:99999$")
    );
    let error = config(serde_json::json!({ "publishable_key": key })).unwrap_err();
    assert_eq!(error.variable, "CLERK_PUBLISHABLE_KEY");
}

#[test]
fn fetched_urls_are_https_except_on_this_machine() {
    let pk = "pk_test_bGVnaWJsZS1hYXJkdmFyay02NC5jbGVyay5hY2NvdW50cy5kZXYk";
    for (key, variable) in [
        ("jwks_url", "CLERK_JWKS_URL"),
        ("api_url", "CLERK_API_URL"),
        ("jwt_issuer", "CLERK_JWT_ISSUER"),
        ("frontend_api", "CLERK_FRONTEND_API"),
    ] {
        let mut clerk = serde_json::json!({ "local_mode": "false" });
        if key != "frontend_api" {
            clerk["publishable_key"] = pk.into();
        }
        clerk[key] = "http://clerk.example.com".into();
        let error = config(clerk.clone()).unwrap_err();
        assert_eq!(error.variable, variable, "{error}");
        assert!(error.problem.contains("https"), "{error}");
        for local in [
            "http://127.0.0.1:9999",
            "http://localhost:9999",
            "http://[::1]:9999",
        ] {
            if key == "frontend_api" && !local.contains("127.0.0.1") {
                continue; // a frontend API host is a dotted name or an IPv4 address
            }
            clerk[key] = local.into();
            assert!(config(clerk.clone()).is_ok(), "{key} = {local}");
        }
    }
    assert!(is_loopback_host("127.0.0.53") && is_loopback_host("[::1]"));
    assert!(!is_loopback_host("localhost.evil.test") && !is_loopback_host("10.0.0.1"));
}

#[test]
fn local_mode_refuses_production_keys_and_the_network() {
    let live_pk = "pk_live_Y2xlcmsuZmluZG15ZmllbGQub25saW5lJA";
    for clerk in [
        serde_json::json!({ "local_mode": "true", "publishable_key": live_pk }),
        serde_json::json!({ "local_mode": "true", "secret_key": "sk_live_x" }),
    ] {
        let error = config(clerk).unwrap_err();
        assert_eq!(error.variable, "CLERK_LOCAL_MODE");
        assert!(error.problem.contains("production"), "{error}");
    }
    let network = |allow: bool| {
        let figment = Figment::new()
            .merge(figment::providers::Serialized::defaults(
                serde_json::json!({
                    "address": "0.0.0.0"
                }),
            ))
            .merge(figment::providers::Serialized::global(
                "clerk",
                serde_json::json!({
                    "local_mode": "true",
                    "local_mode_allow_network": allow.to_string()
                }),
            ));
        ClerkConfig::from_figment(&figment)
    };
    let error = network(false).unwrap_err();
    assert_eq!(error.variable, "CLERK_LOCAL_MODE");
    assert!(
        error.problem.contains("CLERK_LOCAL_MODE_ALLOW_NETWORK"),
        "{error}"
    );
    assert!(network(true).unwrap().local_mode_allow_network);
}

#[test]
fn machine_settings_have_defaults_and_refuse_a_bad_machine_id() {
    let clerk = |extra: serde_json::Value| {
        let mut settings = serde_json::json!({ "jwt_issuer": "https://clerk.example.com" });
        for (k, v) in extra.as_object().unwrap() {
            settings[k] = v.clone();
        }
        config(settings)
    };
    let defaults = clerk(serde_json::json!({})).unwrap().machines;
    assert_eq!(
        defaults,
        MachineSettings {
            secret_key: None,
            cache_secs: 10,
            machine_id: None
        }
    );
    let set = clerk(serde_json::json!({
        "machine_id": "mch_2abc", "machine_token_cache_secs": "3", "machine_secret_key": "ak_x"
    }))
    .unwrap()
    .machines;
    assert_eq!(set.machine_id.as_deref(), Some("mch_2abc"));
    assert_eq!(set.cache_secs, 3);
    assert_eq!(set.secret_key.as_deref(), Some("ak_x"));
    for bad in ["user_1", "mch_", "mch_a b"] {
        let error = clerk(serde_json::json!({ "machine_id": bad })).unwrap_err();
        assert!(
            error.to_string().starts_with("CLERK_MACHINE_ID: "),
            "{error}"
        );
    }
    let error = clerk(serde_json::json!({ "machine_token_cache_secs": "ten" })).unwrap_err();
    assert!(error
        .to_string()
        .starts_with("CLERK_MACHINE_TOKEN_CACHE_SECS: "));
}

#[test]
fn organization_settings_are_read_and_refused() {
    let clerk = |extra: serde_json::Value| {
        let mut settings = serde_json::json!({ "jwt_issuer": "https://clerk.example.com" });
        for (k, v) in extra.as_object().unwrap() {
            settings[k] = v.clone();
        }
        config(settings)
    };
    let defaults = clerk(serde_json::json!({})).unwrap().organizations;
    assert_eq!(defaults.enabled, None);
    assert!(!defaults.sync.is_enabled());
    let set = clerk(serde_json::json!({
        "organizations": "true",
        "organization_patterns": "/orgs/:slug, /orgs/:slug/(.*)",
        "personal_account_patterns": ["/me", "/me/(.*)"],
    }))
    .unwrap()
    .organizations;
    assert_eq!(set.enabled, Some(true));
    assert_eq!(
        set.sync.target("/orgs/acme/x"),
        Some(crate::clerk::org_sync::Target::OrganizationSlug(
            "acme".into()
        ))
    );
    assert_eq!(
        set.sync.target("/me"),
        Some(crate::clerk::org_sync::Target::PersonalAccount)
    );
    for (key, value, variable) in [
        ("organizations", "sometimes", "CLERK_ORGANIZATIONS: "),
        (
            "organization_patterns",
            "/orgs/{slug}",
            "CLERK_ORGANIZATION_PATTERNS: ",
        ),
        (
            "personal_account_patterns",
            "me",
            "CLERK_PERSONAL_ACCOUNT_PATTERNS: ",
        ),
    ] {
        let error = clerk(serde_json::json!({ key: value })).unwrap_err();
        assert!(error.to_string().starts_with(variable), "{error}");
    }
}

#[test]
fn a_proxy_setting_that_cannot_work_is_refused() {
    let with = |proxy_url: &str, secret: Option<&str>| {
        let mut clerk = serde_json::json!({
            "jwt_issuer": "https://clerk.example.test",
            "local_mode": "false",
            "proxy_url": proxy_url,
        });
        if let Some(secret) = secret {
            clerk["secret_key"] = secret.into();
        }
        config(clerk)
    };
    let secret = Some("sk_test_proxy");
    for bad in [
        "/api/clerk",
        "/",
        "/__clerk/../x",
        "/__clerk?x=1",
        "/__cl%65rk",
        "http://proxy.example.test/__clerk",
        "https://user:pw@proxy.example.test/__clerk",
        "https://proxy.example.test",
    ] {
        let error = with(bad, secret).expect_err(bad);
        assert!(
            error.to_string().contains("CLERK_PROXY_URL"),
            "{bad}: {error}"
        );
    }
    assert!(
        with("/__clerk", None).is_err(),
        "the proxy needs the secret key"
    );

    let relative = with("/__clerk/", secret).unwrap().proxy.unwrap();
    assert_eq!(relative.path, "/__clerk");
    assert_eq!(relative.public_url, None);
    assert_eq!(relative.fapi_url, "https://frontend-api.clerk.dev");
    let absolute = with("https://app.example.test/__clerk", secret)
        .unwrap()
        .proxy
        .unwrap();
    assert_eq!(absolute.path, "/__clerk");
    assert_eq!(
        absolute.public_url.as_deref(),
        Some("https://app.example.test/__clerk")
    );
}

#[test]
fn clerk_js_may_come_from_an_https_url_or_this_machine() {
    let clerk = |url: &str| {
        config(serde_json::json!({
            "jwt_issuer": "https://clerk.example.com", "clerk_js_url": url, "clerk_ui_url": url
        }))
    };
    let set = clerk("https://cdn.example.com/clerk.browser.js").unwrap();
    assert_eq!(
        set.clerk_js_url.as_deref(),
        Some("https://cdn.example.com/clerk.browser.js")
    );
    assert!(clerk("http://127.0.0.1:8000/clerk.browser.js").is_ok());
    let error = clerk("http://cdn.example.com/clerk.browser.js").unwrap_err();
    assert!(error.to_string().starts_with("CLERK_JS_URL: "), "{error}");
    assert!(clerk("clerk.browser.js").is_err());
}

#[test]
fn the_default_budget_is_clerks_limit_divided_by_the_instances() {
    let clerk = |extra: serde_json::Value| {
        let mut settings = serde_json::json!({ "jwt_issuer": "https://clerk.example.com" });
        for (k, v) in extra.as_object().unwrap() {
            settings[k] = v.clone();
        }
        config(settings)
    };
    let budget = |extra| clerk(extra).unwrap().backend_api_budget;
    assert_eq!(budget(serde_json::json!({})), 100);
    assert_eq!(
        budget(serde_json::json!({ "secret_key": "sk_live_x" })),
        1000
    );
    assert_eq!(
        budget(serde_json::json!({ "secret_key": "sk_live_x", "instances": "3" })),
        333
    );
    assert_eq!(budget(serde_json::json!({ "instances": "4" })), 25);
    assert_eq!(budget(serde_json::json!({ "instances": "1000" })), 1);
    // Set by hand, the budget is taken as it is.
    assert_eq!(
        budget(serde_json::json!({ "instances": "4", "backend_api_budget": "90" })),
        90
    );
    for bad in ["0", "-1", "two"] {
        let error = clerk(serde_json::json!({ "instances": bad })).unwrap_err();
        assert!(
            error.to_string().starts_with("CLERK_INSTANCES: "),
            "{error}"
        );
    }
}

#[test]
fn trusted_proxies_are_addresses_or_ranges() {
    let clerk = |proxies: &str| {
        config(serde_json::json!({
            "jwt_issuer": "https://clerk.example.com", "trusted_proxies": proxies
        }))
    };
    let proxies = clerk("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8")
        .unwrap()
        .trusted_proxies;
    let shown: Vec<String> = proxies.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]);
    for bad in ["localhost", "10.0.0.0/33", "10.0.0.1/8x"] {
        let error = clerk(bad).unwrap_err();
        assert!(
            error.to_string().starts_with("CLERK_TRUSTED_PROXIES: "),
            "{error}"
        );
    }
    assert!(
        config(serde_json::json!({ "jwt_issuer": "https://clerk.example.com" }))
            .unwrap()
            .trusted_proxies
            .is_empty()
    );
}

#[test]
fn admin_reverification_is_strict_unless_set() {
    let read = |value: Option<&str>| {
        let mut clerk = serde_json::json!({ "local_mode": "true" });
        if let Some(value) = value {
            clerk["admin_reverification"] = value.into();
        }
        config(clerk).map(|c| c.admin_reverification)
    };
    assert_eq!(read(None).unwrap(), Some(Reverification::STRICT));
    assert_eq!(read(Some("off")).unwrap(), None);
    assert_eq!(read(Some("lax")).unwrap(), Some(Reverification::LAX));
    assert_eq!(
        read(Some("multi_factor:30")).unwrap(),
        Some(Reverification::new(
            crate::clerk::token::Level::MultiFactor,
            30
        ))
    );
    for bad in [
        "sometimes",
        "second_factor:0",
        "second_factor",
        "third_factor:5",
    ] {
        let error = read(Some(bad)).unwrap_err().to_string();
        assert!(
            error.contains("CLERK_ADMIN_REVERIFICATION"),
            "{bad}: {error}"
        );
    }
}
