//! The names of the settings.

/// Every Clerk setting: the environment variable and the key of the `clerk` table it fills.
pub const VARIABLES: &[(&str, &str)] = &[
    ("CLERK_PUBLISHABLE_KEY", "publishable_key"),
    ("CLERK_FRONTEND_API", "frontend_api"),
    ("CLERK_JWT_ISSUER", "jwt_issuer"),
    ("CLERK_JWT_AUDIENCE", "jwt_audience"),
    ("CLERK_JWKS_URL", "jwks_url"),
    ("CLERK_JWT_KEY", "jwt_key"),
    ("CLERK_SECRET_KEY", "secret_key"),
    ("CLERK_API_URL", "api_url"),
    ("CLERK_AUTHORIZED_PARTIES", "authorized_parties"),
    ("CLERK_WEBHOOK_SIGNING_SECRET", "webhook_signing_secret"),
    ("CLERK_ADMIN_USER_IDS", "admin_user_ids"),
    ("CLERK_CLOCK_SKEW_SECS", "clock_skew_secs"),
    ("CLERK_MAX_TOKEN_LIFETIME_SECS", "max_token_lifetime_secs"),
    ("CLERK_LOCAL_MODE", "local_mode"),
    ("CLERK_LOCAL_MODE_ALLOW_NETWORK", "local_mode_allow_network"),
    ("CLERK_LOCAL_KEY_FILE", "local_key_file"),
    ("CLERK_JWKS_CACHE_SECS", "jwks_cache_secs"),
    ("CLERK_JWKS_COOLDOWN_SECS", "jwks_cooldown_secs"),
    ("CLERK_LOG_FORMAT", "log_format"),
    ("CLERK_METRICS_TOKEN", "metrics_token"),
    ("CLERK_BACKEND_API_BUDGET", "backend_api_budget"),
    // The Frontend API through this server (Clerk's proxy).
    ("CLERK_PROXY_URL", "proxy_url"),
    ("CLERK_FAPI_URL", "fapi_url"),
    ("CLERK_JS_URL", "clerk_js_url"),
    ("CLERK_UI_URL", "clerk_ui_url"),
    ("CLERK_INSTANCES", "instances"),
    ("CLERK_TRUSTED_PROXIES", "trusted_proxies"),
    ("CLERK_ADMIN_REVERIFICATION", "admin_reverification"),
    ("CLERK_ADMIN_ALLOW_IMPERSONATED", "admin_allow_impersonated"),
    // Machine tokens.
    ("CLERK_MACHINE_SECRET_KEY", "machine_secret_key"),
    ("CLERK_MACHINE_TOKEN_CACHE_SECS", "machine_token_cache_secs"),
    ("CLERK_MACHINE_ID", "machine_id"),
    // Organizations in the app.
    ("CLERK_ORGANIZATIONS", "organizations"),
    ("CLERK_ORGANIZATION_PATTERNS", "organization_patterns"),
    (
        "CLERK_PERSONAL_ACCOUNT_PATTERNS",
        "personal_account_patterns",
    ),
];
