//! Reading and validating the Clerk settings, and the Clerk instance they describe.
//!
//! Settings come from the `clerk` table of the Rocket figment (`Rocket.toml` `[default.clerk]`)
//! overlaid by `CLERK_*` environment variables (see [`crate::figment`]). Every value is read as
//! text and parsed here, so that a malformed value stops the start with one line naming the
//! variable and what is wrong with it.

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use figment::Figment;
use serde::Deserialize;

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
    ("CLERK_BACKEND_API_BUDGET", "backend_api_budget"),
];

/// The issuer that local-mode tokens carry. `.invalid` is reserved: it can never be a real host.
pub const LOCAL_ISSUER: &str = "https://local.clerk-rocket.invalid";
const DEFAULT_API_URL: &str = "https://api.clerk.com";
const DEFAULT_LOCAL_KEY_FILE: &str = "data/local-dev-key.pem";

/// A setting that is present but unusable: `variable` names it as an operator would set it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn bad(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// What a settings file may hold for one value: text, a number, a flag or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

impl Raw {
    fn text(&self) -> String {
        match self {
            Raw::Text(s) => s.trim().to_owned(),
            Raw::Int(i) => i.to_string(),
            Raw::Bool(b) => b.to_string(),
            Raw::List(items) => items.join(","),
        }
    }
}

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
    /// `CLERK_LOCAL_MODE_ALLOW_NETWORK`: local mode may listen on a non-loopback address and
    /// answer `/dev/*` for any `Host`.
    pub local_mode_allow_network: bool,
    /// Backend API requests allowed per 10 seconds, all calls together (Clerk's own limit:
    /// 100 for development instances, 1000 for production ones).
    pub backend_api_budget: u32,
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

struct Reader<'a> {
    figment: &'a Figment,
}

impl Reader<'_> {
    /// The trimmed text of a setting; empty counts as unset.
    fn get(&self, variable: &'static str) -> Result<Option<String>, ConfigError> {
        let key = VARIABLES
            .iter()
            .find(|(name, _)| *name == variable)
            .map(|(_, key)| *key)
            .expect("every variable read is listed in VARIABLES");
        match self.figment.extract_inner::<Raw>(&format!("clerk.{key}")) {
            Ok(raw) => Ok(Some(raw.text()).filter(|s| !s.is_empty())),
            Err(e) if e.missing() => Ok(None),
            Err(e) => Err(bad(variable, format!("unreadable value: {e}"))),
        }
    }

    fn list(&self, variable: &'static str) -> Result<Vec<String>, ConfigError> {
        Ok(self
            .get(variable)?
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    fn secs(&self, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(variable)? {
            None => Ok(default),
            Some(s) => s.parse::<u64>().map_err(|_| {
                bad(
                    variable,
                    format!("expected a whole number of seconds, found {s:?}"),
                )
            }),
        }
    }

    fn flag(&self, variable: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.get(variable)?.map(|s| s.to_ascii_lowercase()) {
            None => Ok(None),
            Some(s) if matches!(s.as_str(), "true" | "1" | "yes" | "on") => Ok(Some(true)),
            Some(s) if matches!(s.as_str(), "false" | "0" | "no" | "off") => Ok(Some(false)),
            Some(s) => Err(bad(
                variable,
                format!("expected true or false, found {s:?}"),
            )),
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
        let backend_api_budget = match r.get("CLERK_BACKEND_API_BUDGET")? {
            None if live => 1000,
            None => 100,
            Some(s) => s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                bad(
                    "CLERK_BACKEND_API_BUDGET",
                    format!("expected a whole number of requests per 10 seconds, found {s:?}"),
                )
            })?,
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
            local_mode_allow_network,
            backend_api_budget,
        })
    }

    pub fn local_mode(&self) -> bool {
        self.mode == Mode::Local
    }
}

/// What a publishable key says about its instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableKey {
    pub frontend_api: String,
    pub production: bool,
}

/// Decodes `pk_test_…`/`pk_live_…`: base64 of `<frontend API host>$`, padding optional.
pub fn decode_publishable_key(key: &str) -> Result<PublishableKey, ConfigError> {
    const VAR: &str = "CLERK_PUBLISHABLE_KEY";
    let problem = "does not decode to a Clerk frontend API host (expected pk_test_… or pk_live_… \
                   from the Clerk dashboard's API keys page)";
    let production = if key.starts_with("pk_live_") {
        true
    } else if key.starts_with("pk_test_") {
        false
    } else {
        return Err(bad(VAR, problem));
    };
    let parts: Vec<&str> = key.split('_').collect();
    if parts.len() != 3 {
        return Err(bad(VAR, problem));
    }
    let encoded = parts[2].trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
        .map_err(|_| bad(VAR, problem))?;
    let text = String::from_utf8(bytes).map_err(|_| bad(VAR, problem))?;
    let host = text.strip_suffix('$').ok_or_else(|| bad(VAR, problem))?;
    if host.contains('$') || !host.contains('.') || !valid_host(host) {
        return Err(bad(VAR, problem));
    }
    Ok(PublishableKey {
        frontend_api: host.to_owned(),
        production,
    })
}

/// Clerk's cookie suffix: the first 8 characters of base64url(SHA-1(publishable key)).
pub fn cookie_suffix(publishable_key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    encoded[..8].to_owned()
}

fn parse_frontend_api(value: &str) -> Result<String, ConfigError> {
    let plain = value.strip_prefix("http://");
    let host = plain
        .unwrap_or_else(|| value.trim_start_matches("https://"))
        .trim_end_matches('/');
    if plain.is_some() && !is_loopback_host(host.rsplit_once(':').map_or(host, |(name, _)| name)) {
        Err(bad(
            "CLERK_FRONTEND_API",
            format!("expected https (http is only allowed for 127.0.0.1, ::1 and localhost), found {value:?}"),
        ))
    } else if valid_host(host) && host.contains('.') {
        Ok(host.to_owned())
    } else {
        Err(bad(
            "CLERK_FRONTEND_API",
            format!("expected a host such as clerk.example.com, found {value:?}"),
        ))
    }
}

/// A DNS name or IPv4 address, with an optional port of 1 to 65535: what `https://{host}/` can be
/// built from without failing later (a handshake URL, the CSP).
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(label)
        && port_ok
        && reqwest::Url::parse(&format!("https://{host}/")).is_ok()
}

/// Whether `host` (without a port; IPv6 with or without brackets) is this machine: `localhost`,
/// `127.0.0.0/8` or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL this server fetches from: https, except on this machine (tests, local mode).
fn check_fetch_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    check_url(variable, value)?;
    let url = reqwest::Url::parse(value).map_err(|e| bad(variable, e.to_string()))?;
    if url.scheme() == "https" || url.host_str().is_some_and(is_loopback_host) {
        Ok(())
    } else {
        Err(bad(
            variable,
            format!(
                "expected an https URL (http is only allowed for 127.0.0.1, ::1 and localhost), \
                 found {value:?}"
            ),
        ))
    }
}

/// Local mode signs tokens for anyone: never beside a production instance's key.
fn beside_production(
    publishable_key: Option<&str>,
    secret_key: Option<&str>,
) -> Result<(), ConfigError> {
    let mut live = Vec::new();
    if publishable_key.is_some_and(|k| k.starts_with("pk_live_")) {
        live.push("CLERK_PUBLISHABLE_KEY (pk_live_)");
    }
    if secret_key.is_some_and(|k| k.starts_with("sk_live_")) {
        live.push("CLERK_SECRET_KEY (sk_live_)");
    }
    if live.is_empty() {
        return Ok(());
    }
    Err(bad(
        "CLERK_LOCAL_MODE",
        format!(
            "local mode is on beside a production key, {}: local mode lets anyone sign in as \
             anyone; unset CLERK_LOCAL_MODE (look in .env too) or use development keys",
            live.join(" and ")
        ),
    ))
}

/// Local mode listens on a loopback address only (Rocket's `address`, `ROCKET_ADDRESS`).
fn listens_on_loopback(figment: &Figment) -> Result<(), ConfigError> {
    match figment.extract_inner::<std::net::IpAddr>("address") {
        Ok(address) if !address.is_loopback() => Err(bad(
            "CLERK_LOCAL_MODE",
            format!(
                "local mode would listen on {address} (ROCKET_ADDRESS), which is not a loopback \
                 address: anyone who reaches it could sign in as anyone; listen on 127.0.0.1, or \
                 set CLERK_LOCAL_MODE_ALLOW_NETWORK=true to allow it anyway"
            ),
        )),
        // Loopback, or unset or unreadable (Rocket reports the latter itself).
        _ => Ok(()),
    }
}

fn check_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(bad(
            variable,
            format!("expected an http(s) URL, found {value:?}"),
        )),
    }
}

fn check_origin(value: &str) -> Result<(), ConfigError> {
    let problem = || {
        bad(
            "CLERK_AUTHORIZED_PARTIES",
            format!("expected origins such as https://app.example.com, found {value:?}"),
        )
    };
    let url = reqwest::Url::parse(value).map_err(|_| problem())?;
    // An origin has no path, query or fragment; `azp` is compared as exact text.
    let is_origin = url.host().is_some() && url.path() == "/" && !value.ends_with('/');
    if is_origin && url.query().is_none() && url.fragment().is_none() {
        Ok(())
    } else {
        Err(problem())
    }
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
mod tests {
    use super::*;

    #[test]
    fn publishable_keys_decode() {
        let pk =
            decode_publishable_key("pk_test_bGVnaWJsZS1hYXJkdmFyay02NC5jbGVyay5hY2NvdW50cy5kZXYk")
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
}
