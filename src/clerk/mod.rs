//! Clerk's protocol: keys, session tokens, the Backend API. Nothing here knows Rocket's routing.

pub mod auth_object;
pub mod backend_api;
pub mod budget;
pub mod handshake;
pub mod json;
pub mod keys;
pub mod local;
pub mod machine;
pub mod org_sync;
pub mod organizations;
pub mod request_state;
pub mod session_refresh;
pub mod session_tasks;
pub mod template_tokens;
pub mod token;
pub mod user_admin;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ClerkConfig, Mode};
use backend_api::BackendApi;
use budget::BackendBudget;
use keys::{JwksSource, KeyStore};
use local::LocalIssuer;
use machine::opaque::{Keys, OpaqueVerifier};
use machine::MachineVerifier;
use token::{Rules, Verifier};
use webhook::WebhookSecret;

/// Timeouts for every call to Clerk: a slow Clerk must not hold requests for long. Redirects are
/// followed only within the origin first asked (at most 5): keys or answers from elsewhere are
/// never taken for Clerk's, and the secret key never leaves for another host.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .user_agent(concat!("clerk-rocket/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first();
            if attempt.previous().len() > 5 {
                attempt.stop()
            } else if first.is_some_and(|first| same_origin(first, attempt.url())) {
                attempt.follow()
            } else {
                log::warn!(
                    "not following a redirect from Clerk to another origin ({})",
                    attempt.url().origin().ascii_serialization()
                );
                attempt.stop()
            }
        }))
        .build()
        .expect("an HTTP client with only timeouts and a redirect policy set")
}

/// Same scheme, host and port.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.origin() == b.origin()
}

/// Why the Clerk settings cannot be put to use.
#[derive(Debug, thiserror::Error)]
pub enum ClerkError {
    #[error(transparent)]
    LocalKey(#[from] local::LocalKeyError),
    #[error("CLERK_JWT_KEY: {0}")]
    JwtKey(jsonwebtoken::errors::Error),
    #[error("CLERK_WEBHOOK_SIGNING_SECRET: {0}")]
    WebhookSecret(webhook::WebhookError),
}

/// Everything the app needs to authenticate requests, built once from the settings.
pub struct Clerk {
    pub config: ClerkConfig,
    pub verifier: Verifier,
    pub backend_api: Option<BackendApi>,
    pub local: Option<LocalIssuer>,
    /// The key of `CLERK_WEBHOOK_SIGNING_SECRET`; `None`: the webhook route answers 503.
    pub webhook_secret: Option<WebhookSecret>,
    /// M2M tokens, OAuth access tokens and API keys (in local mode, JWT ones only).
    pub machines: MachineVerifier,
    /// This database knows an organization (read at start, set by organization webhooks): the
    /// instance has organizations, and pages offer the switcher (see `CLERK_ORGANIZATIONS`).
    pub organizations_seen: std::sync::atomic::AtomicBool,
    /// Tokens minted from JWT templates, kept until shortly before they expire.
    pub template_tokens: template_tokens::TemplateTokens,
}

impl Clerk {
    pub fn new(config: ClerkConfig) -> Result<Self, ClerkError> {
        Clerk::with_client(config, http_client())
    }

    /// As [`Clerk::new`], with this HTTP client for every call to Clerk.
    pub fn with_client(config: ClerkConfig, http: reqwest::Client) -> Result<Self, ClerkError> {
        // Every call with the secret key (user lookups, handshake nonces, machine tokens, the
        // JWKS fallback, administrators' actions) spends this one budget, in its shares.
        let budget = Arc::new(BackendBudget::new(
            config.backend_api_budget,
            backend_api::BUDGET_PERIOD,
        ));
        let local = match config.mode {
            Mode::Local => Some(LocalIssuer::load_or_create(&config.local_key_file)?),
            Mode::Clerk => None,
        };
        let keys = if let Some(local) = &local {
            KeyStore::fixed(local.decoding_key())
        } else if let Some(pem) = &config.jwt_key_pem {
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes())
                .map_err(ClerkError::JwtKey)?;
            KeyStore::fixed(key)
        } else {
            let mut sources = vec![JwksSource {
                url: config.instance.jwks_url.clone(),
                bearer: None,
            }];
            if let Some(secret) = &config.secret_key {
                // The Backend API's copy of the same keys, for when the frontend API is unreachable.
                sources.push(JwksSource {
                    url: format!("{}/v1/jwks", config.api_url),
                    bearer: Some(secret.clone()),
                });
            }
            KeyStore::remote(
                sources,
                http.clone(),
                Duration::from_secs(config.jwks_cache_secs),
                Duration::from_secs(config.jwks_cooldown_secs),
            )
            .with_budget(budget.clone())
        };
        let rules = Rules {
            issuer: config.instance.issuer.clone(),
            // Local-mode tokens carry no `aud`; an audience is a property of a Clerk instance.
            audience: config
                .audience
                .clone()
                .filter(|_| config.mode == Mode::Clerk),
            authorized_parties: config.authorized_parties.clone(),
            clock_skew_secs: config.clock_skew_secs,
            max_lifetime_secs: config.max_token_lifetime_secs,
        };
        let opaque = (config.mode == Mode::Clerk).then(|| {
            OpaqueVerifier::new(
                http.clone(),
                &config.api_url,
                Keys {
                    secret_key: config.secret_key.clone(),
                    machine_secret_key: config.machines.secret_key.clone(),
                },
                budget.clone(),
                config.machines.cache_secs,
            )
        });
        let machines = MachineVerifier::new(opaque, config.machines.machine_id.clone());
        let backend_api = match (&config.secret_key, config.mode) {
            (Some(secret), Mode::Clerk) => Some(BackendApi::with_budget(
                http,
                &config.api_url,
                secret,
                budget,
            )),
            _ => None,
        };
        let webhook_secret = config
            .webhook_signing_secret
            .as_deref()
            .map(WebhookSecret::parse)
            .transpose()
            .map_err(ClerkError::WebhookSecret)?;
        Ok(Clerk {
            verifier: Verifier::new(Arc::new(keys), rules),
            webhook_secret,
            backend_api,
            machines,
            local,
            config,
            organizations_seen: std::sync::atomic::AtomicBool::new(false),
            template_tokens: template_tokens::TemplateTokens::default(),
        })
    }

    /// Whether signed-in pages offer Clerk's organization components to a session that has
    /// (`active`) or has not an active organization.
    pub fn offers_organizations(&self, active: bool) -> bool {
        self.config.organizations.enabled.unwrap_or_else(|| {
            active
                || self
                    .organizations_seen
                    .load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// The instance has organizations (one was stored here).
    pub fn note_organizations(&self) {
        self.organizations_seen
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let base = url("https://clerk.example.com/.well-known/jwks.json");
        assert!(same_origin(&base, &url("https://clerk.example.com/other")));
        assert!(same_origin(&base, &url("https://clerk.example.com:443/x")));
        for other in [
            "http://clerk.example.com/.well-known/jwks.json",
            "https://evil.example.com/.well-known/jwks.json",
            "https://clerk.example.com:8443/.well-known/jwks.json",
            "https://clerk.example.com.evil.test/",
        ] {
            assert!(!same_origin(&base, &url(other)), "{other}");
        }
    }
}
