//! Reading and validating the Clerk settings, and the Clerk instance they describe.
//!
//! Settings come from the `clerk` table of the Rocket figment (`Rocket.toml` `[default.clerk]`)
//! overlaid by `CLERK_*` environment variables (see [`crate::figment`]). Every value is read as
//! text and parsed here, so that a malformed value stops the start with one line naming the
//! variable and what is wrong with it.

mod checks;
mod error;
mod organizations;
mod reader;
mod variables;

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use figment::Figment;

use checks::{
    beside_production, check_fetch_url, check_origin, check_url, listens_on_loopback,
    parse_frontend_api,
};
pub use checks::{cookie_suffix, decode_publishable_key, is_loopback_host, PublishableKey};
use error::bad;
pub use error::ConfigError;
pub use organizations::OrganizationSettings;
use reader::Reader;

use crate::clerk::token::Reverification;
pub use variables::VARIABLES;

/// The issuer that local-mode tokens carry. `.invalid` is reserved: it can never be a real host.
pub const LOCAL_ISSUER: &str = "https://local.clerk-rocket.invalid";
const DEFAULT_API_URL: &str = "https://api.clerk.com";
const DEFAULT_LOCAL_KEY_FILE: &str = "data/local-dev-key.pem";

/// Whether tokens come from Clerk or from this app's own development issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Clerk,
    Local,
}

/// The Clerk instance this server trusts, derived once from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The frontend API host (`clerk.example.com`), when known.
    pub frontend_api: Option<String>,
    /// `pk_live_…`: a production instance.
    pub production: bool,
    /// The exact `iss` every token must carry.
    pub issuer: String,
    /// Where the signing keys are fetched, unless a PEM key is configured.
    pub jwks_url: String,
    /// The suffix of Clerk's per-instance cookies (`__session_<suffix>`), from the publishable key.
    pub cookie_suffix: Option<String>,
}

/// All Clerk settings, validated.
#[derive(Debug, Clone)]
pub struct ClerkConfig {
    pub mode: Mode,
    pub instance: Instance,
    pub publishable_key: Option<String>,
    pub audience: Option<String>,
    /// `CLERK_JWT_KEY`: verify with this key only, and never touch the network for keys.
    pub jwt_key_pem: Option<String>,
    pub secret_key: Option<String>,
    pub api_url: String,
    pub authorized_parties: Vec<String>,
    pub webhook_signing_secret: Option<String>,
    pub admin_user_ids: Vec<String>,
    pub clock_skew_secs: u64,
    /// The longest `exp − iat` a session token may have (Clerk's are 60 s).
    pub max_token_lifetime_secs: u64,
    pub local_key_file: PathBuf,
    pub jwks_cache_secs: u64,
    pub jwks_cooldown_secs: u64,
    /// `CLERK_LOG_FORMAT`: how log lines are written.
    pub log_format: LogFormat,
    /// `CLERK_METRICS_TOKEN`: `/metrics` answers `Authorization: Bearer <this>` from anywhere;
    /// unset, it answers this machine only (`crate::forwarded::from_this_machine`).
    pub metrics_token: Option<String>,
    /// `CLERK_LOCAL_MODE_ALLOW_NETWORK`: local mode may listen on a non-loopback address and
    /// answer `/dev/*` for any `Host`.
    pub local_mode_allow_network: bool,
    /// Backend API requests allowed per 10 seconds, all calls of this server together; by
    /// default Clerk's own limit for the secret key (100 for development instances, 1000 for
    /// production ones) divided by [`Self::instances`].
    pub backend_api_budget: u32,
    /// `CLERK_INSTANCES`: how many servers share the secret key (and so Clerk's limit).
    pub instances: u32,
    /// `CLERK_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Machine tokens (`CLERK_MACHINE_*`).
    pub machines: MachineSettings,
    /// Organizations in the pages, and their activation from the URL.
    pub organizations: OrganizationSettings,
    /// `CLERK_PROXY_URL`: ClerkJS and handshakes reach the Frontend API through this server.
    pub proxy: Option<ProxySettings>,
    /// `CLERK_JS_URL`: where pages load ClerkJS from instead of the frontend API (Clerk's
    /// `clerkJSUrl`: a self-hosted or pinned copy); its origin joins the pages' `script-src`.
    pub clerk_js_url: Option<String>,
    /// `CLERK_UI_URL`: the same for Clerk's UI bundle (Clerk's `clerkUiUrl`).
    pub clerk_ui_url: Option<String>,
    /// `CLERK_ADMIN_REVERIFICATION`: how recent a factor verification every administrator's
    /// action needs (Clerk's `strict` by default); `None` when turned off.
    pub admin_reverification: Option<Reverification>,
    /// `CLERK_ADMIN_ALLOW_IMPERSONATED`: administrators' actions are allowed from a session that
    /// someone else drives (Clerk's `act` claim: an impersonation, an agent). Refused by default.
    pub admin_allow_impersonated: bool,
}

/// The Frontend API proxy (`CLERK_PROXY_URL`, `CLERK_FAPI_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// The proxy's public URL when configured absolute (`https://app.example.com/__clerk`);
    /// `None` when configured as a path, resolved against each request's public origin.
    pub public_url: Option<String>,
    /// Where this server serves it: the URL's path, without a trailing slash (`/__clerk`).
    pub path: String,
    /// Where requests are forwarded: Clerk's Frontend API (`https://frontend-api.clerk.dev`).
    pub fapi_url: String,
}

/// The settings of machine-token verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSettings {
    /// `CLERK_MACHINE_SECRET_KEY`: verifies opaque M2M tokens in place of the secret key.
    pub secret_key: Option<String>,
    /// `CLERK_MACHINE_TOKEN_CACHE_SECS`: the longest an opaque token's acceptance is kept, hence
    /// how late a revocation may be noticed.
    pub cache_secs: u64,
    /// `CLERK_MACHINE_ID`: this server's machine id; M2M tokens must name it.
    pub machine_id: Option<String>,
}

/// How log lines are written: `text` (the default) or `json`, one object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `text` or `json` (any case); `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<LogFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" | "" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

impl ClerkConfig {
    /// Reads and validates the `clerk` table of `figment`.
    #[allow(clippy::too_many_lines)] // one block per setting, in the order of VARIABLES
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let r = Reader { figment };
        let publishable_key = r.get("CLERK_PUBLISHABLE_KEY")?;
        let frontend_api = r.get("CLERK_FRONTEND_API")?;
        let jwt_issuer = r.get("CLERK_JWT_ISSUER")?;
        let jwks_url = r.get("CLERK_JWKS_URL")?;
        let jwt_key_pem = r.get("CLERK_JWT_KEY")?.map(|pem| pem.replace("\\n", "\n"));
        let secret_key = r.get("CLERK_SECRET_KEY")?;

        let decoded = publishable_key
            .as_deref()
            .map(decode_publishable_key)
            .transpose()?;
        let frontend_api = match (&decoded, frontend_api) {
            (Some(pk), _) => Some(pk.frontend_api.clone()),
            (None, Some(fapi)) => Some(parse_frontend_api(&fapi)?),
            (None, None) => None,
        };
        if let Some(issuer) = &jwt_issuer {
            check_url("CLERK_JWT_ISSUER", issuer)?;
        }
        if let Some(url) = &jwks_url {
            check_fetch_url("CLERK_JWKS_URL", url)?;
        }
        if let Some(pem) = &jwt_key_pem {
            jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                bad(
                    "CLERK_JWT_KEY",
                    format!("not an RSA public key in PEM form ({e})"),
                )
            })?;
        }
        if let Some(sk) = &secret_key {
            if !(sk.starts_with("sk_test_") || sk.starts_with("sk_live_")) {
                return Err(bad(
                    "CLERK_SECRET_KEY",
                    "expected a key starting with sk_test_ or sk_live_",
                ));
            }
        }
        let api_url = r
            .get("CLERK_API_URL")?
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        check_fetch_url("CLERK_API_URL", &api_url)?;
        let api_url = api_url.trim_end_matches('/').to_owned();

        let authorized_parties = r.list("CLERK_AUTHORIZED_PARTIES")?;
        for party in &authorized_parties {
            check_origin(party)?;
        }
        let webhook_signing_secret = r.get("CLERK_WEBHOOK_SIGNING_SECRET")?;
        if let Some(secret) = &webhook_signing_secret {
            let webhook_key_decodes = secret.strip_prefix("whsec_").map(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .is_ok_and(|k| !k.is_empty())
            });
            if webhook_key_decodes != Some(true) {
                return Err(bad(
                    "CLERK_WEBHOOK_SIGNING_SECRET",
                    "expected whsec_ followed by base64 (copy it from the Clerk dashboard's webhook endpoint)",
                ));
            }
        }

        let configured = publishable_key.is_some()
            || frontend_api.is_some()
            || jwt_issuer.is_some()
            || jwt_key_pem.is_some()
            || jwks_url.is_some()
            || secret_key.is_some();
        let mode = match r.flag("CLERK_LOCAL_MODE")? {
            Some(true) => Mode::Local,
            None if !configured && cfg!(debug_assertions) => Mode::Local,
            Some(false) | None => Mode::Clerk,
        };

        let instance = match mode {
            Mode::Local => Instance {
                frontend_api: None,
                production: false,
                issuer: LOCAL_ISSUER.to_owned(),
                jwks_url: String::new(),
                cookie_suffix: None,
            },
            Mode::Clerk => {
                let issuer = match (jwt_issuer, &frontend_api) {
                    (Some(iss), _) => iss.trim_end_matches('/').to_owned(),
                    (None, Some(host)) => format!("https://{host}"),
                    (None, None) => {
                        return Err(bad(
                            "CLERK_PUBLISHABLE_KEY",
                            "no Clerk instance is configured: set CLERK_PUBLISHABLE_KEY (or \
                             CLERK_JWT_ISSUER), or CLERK_LOCAL_MODE=true to develop without Clerk",
                        ))
                    }
                };
                if jwks_url.is_none() && jwt_key_pem.is_none() {
                    // The keys are fetched from the issuer itself.
                    check_fetch_url("CLERK_JWT_ISSUER", &issuer)?;
                }
                Instance {
                    frontend_api,
                    production: decoded.as_ref().is_some_and(|pk| pk.production),
                    jwks_url: jwks_url.unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                    issuer,
                    cookie_suffix: publishable_key.as_deref().map(cookie_suffix),
                }
            }
        };

        let local_mode_allow_network = r.flag("CLERK_LOCAL_MODE_ALLOW_NETWORK")?.unwrap_or(false);
        if mode == Mode::Local {
            beside_production(publishable_key.as_deref(), secret_key.as_deref())?;
            if !local_mode_allow_network {
                listens_on_loopback(figment)?;
            }
        }
        let live = secret_key
            .as_deref()
            .is_some_and(|sk| sk.starts_with("sk_live_"));
        let instances = match r.get("CLERK_INSTANCES")? {
            None => 1,
            Some(s) => s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                bad(
                    "CLERK_INSTANCES",
                    format!(
                        "expected how many servers share the secret key (1 or more), found {s:?}"
                    ),
                )
            })?,
        };
        let backend_api_budget = match r.get("CLERK_BACKEND_API_BUDGET")? {
            None => (clerk_rate_limit(live) / instances).max(1),
            Some(s) => s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                bad(
                    "CLERK_BACKEND_API_BUDGET",
                    format!("expected a whole number of requests per 10 seconds, found {s:?}"),
                )
            })?,
        };

        let trusted_proxies = r
            .list("CLERK_TRUSTED_PROXIES")?
            .iter()
            .map(|entry| parse_proxy(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let machines = machine_settings(&r)?;
        let organizations = organizations::organization_settings(&r)?;
        let proxy = proxy_settings(&r, mode, secret_key.as_deref(), &instance)?;
        let script_url = |variable: &'static str| -> Result<Option<String>, ConfigError> {
            let url = r.get(variable)?;
            if let Some(url) = &url {
                check_fetch_url(variable, url)?;
            }
            Ok(url)
        };
        let clerk_js_url = script_url("CLERK_JS_URL")?;
        let clerk_ui_url = script_url("CLERK_UI_URL")?;
        let admin_reverification = match r.get("CLERK_ADMIN_REVERIFICATION")? {
            None => Some(Reverification::STRICT),
            Some(text) if matches!(text.trim(), "off" | "none") => None,
            Some(text) => Some(Reverification::parse(&text).ok_or_else(|| {
                bad(
                    "CLERK_ADMIN_REVERIFICATION",
                    format!(
                        "expected strict_mfa, strict, moderate, lax, <level>:<minutes> (level \
                         first_factor, second_factor or multi_factor) or off, found {text:?}"
                    ),
                )
            })?),
        };

        Ok(ClerkConfig {
            mode,
            instance,
            publishable_key,
            audience: r.get("CLERK_JWT_AUDIENCE")?,
            jwt_key_pem,
            secret_key,
            api_url,
            authorized_parties,
            webhook_signing_secret,
            admin_user_ids: r.list("CLERK_ADMIN_USER_IDS")?,
            clock_skew_secs: r.secs("CLERK_CLOCK_SKEW_SECS", 5)?,
            max_token_lifetime_secs: r.secs("CLERK_MAX_TOKEN_LIFETIME_SECS", 86_400)?,
            local_key_file: r
                .get("CLERK_LOCAL_KEY_FILE")?
                .unwrap_or_else(|| DEFAULT_LOCAL_KEY_FILE.to_owned())
                .into(),
            jwks_cache_secs: r.secs("CLERK_JWKS_CACHE_SECS", 300)?,
            // Short enough that a rotated key is accepted within seconds of its first use even
            // while a flood of unknown kids keeps the cooldown running; at most 12 fetches a minute.
            jwks_cooldown_secs: r.secs("CLERK_JWKS_COOLDOWN_SECS", 5)?,
            log_format: match r.get("CLERK_LOG_FORMAT")? {
                None => LogFormat::Text,
                Some(text) => LogFormat::parse(&text).ok_or_else(|| {
                    bad(
                        "CLERK_LOG_FORMAT",
                        format!("expected text or json, found {text:?}"),
                    )
                })?,
            },
            metrics_token: metrics_token(&r)?,
            local_mode_allow_network,
            backend_api_budget,
            instances,
            trusted_proxies,
            machines,
            organizations,
            proxy,
            admin_reverification,
            admin_allow_impersonated: r.flag("CLERK_ADMIN_ALLOW_IMPERSONATED")?.unwrap_or(false),
            clerk_js_url,
            clerk_ui_url,
        })
    }

    pub fn local_mode(&self) -> bool {
        self.mode == Mode::Local
    }
}

/// At least 16 token characters (RFC 6750's b64token, as a Bearer header carries it): a
/// secret short enough to guess, or one a header cannot send, stops the start.
fn metrics_token(r: &Reader<'_>) -> Result<Option<String>, ConfigError> {
    let Some(token) = r.get("CLERK_METRICS_TOKEN")? else {
        return Ok(None);
    };
    let token_chars = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    if token.len() < 16 || !token_chars {
        return Err(bad(
            "CLERK_METRICS_TOKEN",
            "expected at least 16 letters, digits or -._~+/= (openssl rand -hex 24 makes one)",
        ));
    }
    Ok(Some(token))
}

/// Clerk's rate limit of the Backend API per 10 seconds, for a secret key: 1000 for a
/// production instance (`sk_live_`), 100 for a development one
/// (<https://clerk.com/docs/guides/how-clerk-works/system-limits>).
pub fn clerk_rate_limit(live: bool) -> u32 {
    if live {
        1000
    } else {
        100
    }
}

/// One entry of `CLERK_TRUSTED_PROXIES`: an address (`10.0.0.2`, `::1`) or a range
/// (`10.0.0.0/8`).
fn parse_proxy(entry: &str) -> Result<ipnet::IpNet, ConfigError> {
    entry
        .parse::<ipnet::IpNet>()
        .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            bad(
                "CLERK_TRUSTED_PROXIES",
                format!("expected IP addresses or CIDR ranges (10.0.0.0/8), found {entry:?}"),
            )
        })
}

fn machine_settings(r: &Reader<'_>) -> Result<MachineSettings, ConfigError> {
    let machine_id = r.get("CLERK_MACHINE_ID")?;
    if let Some(id) = &machine_id {
        let valid = id.strip_prefix("mch_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !valid {
            return Err(bad(
                "CLERK_MACHINE_ID",
                format!("expected a Clerk machine id (mch_…), found {id:?}"),
            ));
        }
    }
    Ok(MachineSettings {
        secret_key: r.get("CLERK_MACHINE_SECRET_KEY")?,
        cache_secs: r.secs("CLERK_MACHINE_TOKEN_CACHE_SECS", 10)?,
        machine_id,
    })
}

/// Clerk's Frontend API for proxies (`fapiUrlFromPublishableKey` in
/// <https://github.com/clerk/javascript/blob/main/packages/backend/src/proxy.ts>): one host for
/// every production and development instance; the proxy names the instance with its headers.
const PROD_FAPI_URL: &str = "https://frontend-api.clerk.dev";
const STAGING_FAPI_URL: &str = "https://frontend-api.clerkstage.dev";

fn proxy_settings(
    r: &Reader<'_>,
    mode: Mode,
    secret_key: Option<&str>,
    instance: &Instance,
) -> Result<Option<ProxySettings>, ConfigError> {
    let Some(value) = r.get("CLERK_PROXY_URL")? else {
        return Ok(None);
    };
    let value = value.trim().trim_end_matches('/').to_owned();
    if mode == Mode::Local {
        return Err(bad(
            "CLERK_PROXY_URL",
            "local mode has no Frontend API to proxy: unset it, or configure a Clerk instance",
        ));
    }
    if secret_key.is_none() {
        return Err(bad(
            "CLERK_PROXY_URL",
            "the proxy sends CLERK_SECRET_KEY with each request to the Frontend API: set it",
        ));
    }
    let (public_url, path) = if value.starts_with('/') {
        (None, value)
    } else {
        check_fetch_url("CLERK_PROXY_URL", &value)?;
        let url = reqwest::Url::parse(&value).map_err(|e| bad("CLERK_PROXY_URL", e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("CLERK_PROXY_URL", "a proxy URL has no credentials"));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        (Some(value), path)
    };
    let plain_path = path.len() > 1
        && path.starts_with('/')
        && !path.contains(['?', '#', '%', '\\'])
        && path.split('/').skip(1).all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        });
    let taken = ["/api", "/static", "/admin", "/dev", "/sign-in", "/sign-up"]
        .iter()
        .any(|own| path == *own || path.starts_with(&format!("{own}/")));
    if !plain_path || taken {
        return Err(bad(
            "CLERK_PROXY_URL",
            format!(
                "expected a path of its own on this server such as /__clerk (or an https URL \
                 ending in one), found {path:?}"
            ),
        ));
    }
    let staging = instance
        .frontend_api
        .as_deref()
        .is_some_and(|fapi| fapi.ends_with(".accountsstage.dev"));
    let fapi_url = match r.get("CLERK_FAPI_URL")? {
        Some(url) => {
            check_fetch_url("CLERK_FAPI_URL", &url)?;
            let parsed =
                reqwest::Url::parse(&url).map_err(|e| bad("CLERK_FAPI_URL", e.to_string()))?;
            if parsed.query().is_some()
                || parsed.fragment().is_some()
                || !parsed.username().is_empty()
            {
                return Err(bad(
                    "CLERK_FAPI_URL",
                    "expected an origin, without credentials, query or fragment",
                ));
            }
            url.trim_end_matches('/').to_owned()
        }
        None if staging => STAGING_FAPI_URL.to_owned(),
        None => PROD_FAPI_URL.to_owned(),
    };
    Ok(Some(ProxySettings {
        public_url,
        path,
        fapi_url,
    }))
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Clerk => "clerk",
            Mode::Local => "local",
        })
    }
}

#[cfg(test)]
mod tests;
