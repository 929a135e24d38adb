//! The instance and its keys: publishable key, issuer, the frontend API's JWKS, the Backend API.

use std::time::{SystemTime, UNIX_EPOCH};

use super::finding::Finding;
use crate::clerk::keys::{self, FetchError, FetchedJwks, JwksSource};
use crate::config::{decode_publishable_key, ClerkConfig};

pub(super) fn instance(config: &ClerkConfig, out: &mut Vec<Finding>) {
    let issuer = &config.instance.issuer;
    let jwks_url = &config.instance.jwks_url;
    let jwks_note = if *jwks_url == format!("{issuer}/.well-known/jwks.json") {
        ""
    } else {
        " (CLERK_JWKS_URL)"
    };
    let Some(pk) = &config.publishable_key else {
        out.push(Finding::warning(
            "publishable key",
            format!(
                "not set: the issuer {issuer} and JWKS {jwks_url}{jwks_note} come from other \
                 settings; the pages cannot load ClerkJS and the suffixed __session cookie is \
                 not read"
            ),
            "set CLERK_PUBLISHABLE_KEY (pk_test_… or pk_live_… from the Clerk dashboard's API \
             keys page)",
        ));
        return;
    };
    match decode_publishable_key(pk) {
        Ok(decoded) => {
            let (prefix, kind) = if decoded.production {
                ("pk_live_", "production")
            } else {
                ("pk_test_", "development")
            };
            out.push(Finding::ok(
                "publishable key",
                format!(
                    "{prefix}… decodes to the frontend API {} ({kind} instance); issuer \
                     {issuer}; JWKS {jwks_url}{jwks_note}",
                    decoded.frontend_api
                ),
            ));
            let derived = format!("https://{}", decoded.frontend_api);
            if *issuer != derived {
                out.push(Finding::warning(
                    "issuer",
                    format!(
                        "CLERK_JWT_ISSUER is {issuer:?}, but the publishable key's instance \
                         issues tokens as {derived:?}: its tokens are refused with \
                         token-invalid-issuer"
                    ),
                    "unset CLERK_JWT_ISSUER (the publishable key gives the issuer), or use the \
                     publishable key of the instance that issues as CLERK_JWT_ISSUER",
                ));
            }
        }
        // `ClerkConfig::from_figment` refuses such a key; kept for configs built by hand.
        Err(e) => out.push(Finding::error(
            "publishable key",
            e.problem,
            Some("copy CLERK_PUBLISHABLE_KEY from the Clerk dashboard's API keys page".into()),
        )),
    }
}

/// A JWKS fetched for the check, with when the request left and the answer arrived (unix seconds).
pub(super) struct Sample {
    pub(super) url: String,
    pub(super) jwks: FetchedJwks,
    pub(super) sent: f64,
    pub(super) received: f64,
}

pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn sample(
    http: &reqwest::Client,
    source: JwksSource,
) -> Result<Sample, (String, FetchError)> {
    let sent = unix_now();
    match keys::fetch_jwks(http, &source).await {
        Ok(jwks) => Ok(Sample {
            url: source.url,
            jwks,
            sent,
            received: unix_now(),
        }),
        Err(e) => Err((source.url, e)),
    }
}

fn key_list(jwks: &FetchedJwks) -> String {
    let ids = jwks.key_ids();
    let s = if ids.len() == 1 { "" } else { "s" };
    format!("{} key{s} ({})", ids.len(), ids.join(", "))
}

pub(super) async fn frontend_jwks(
    config: &ClerkConfig,
    http: &reqwest::Client,
    out: &mut Vec<Finding>,
) -> Option<Sample> {
    let pem = config.jwt_key_pem.is_some();
    if pem {
        out.push(Finding::ok(
            "keys",
            "CLERK_JWT_KEY is set: tokens are verified with that key alone, and no JWKS is \
             fetched by the server",
        ));
    }
    let source = JwksSource {
        url: config.instance.jwks_url.clone(),
        bearer: None,
    };
    match sample(http, source).await {
        Ok(sample) => {
            out.push(Finding::ok(
                "jwks",
                format!("{} holds {}", sample.url, key_list(&sample.jwks)),
            ));
            Some(sample)
        }
        Err((url, e)) => {
            let message = format!("no keys from {url}: {e}");
            let fix = "check CLERK_PUBLISHABLE_KEY (or CLERK_JWKS_URL) and outbound HTTPS to \
                       the frontend API host (DNS, firewall, proxy); CLERK_SECRET_KEY adds the \
                       Backend API as a second key source";
            out.push(if pem {
                Finding::warning("jwks", message, fix)
            } else {
                Finding::error("jwks", message, Some(fix.into()))
            });
            None
        }
    }
}

#[allow(clippy::too_many_lines)] // one finding per way the secret key can be wrong, in order
pub(super) async fn backend_api(
    config: &ClerkConfig,
    http: &reqwest::Client,
    frontend: Option<&FetchedJwks>,
    out: &mut Vec<Finding>,
) -> Option<Sample> {
    let Some(secret) = &config.secret_key else {
        out.push(Finding::ok(
            "secret key",
            "not set: no Backend API (no email lookup for tokens without an email claim, no \
             handshake, no second key source)",
        ));
        return None;
    };
    let live_secret = secret.starts_with("sk_live_");
    let kind = |live: bool| if live { "production" } else { "development" };
    if let Some(pk) = config
        .publishable_key
        .as_deref()
        .and_then(|pk| decode_publishable_key(pk).ok())
    {
        if pk.production != live_secret {
            out.push(Finding::error(
                "secret key",
                format!(
                    "a {} secret key with a {} publishable key: they belong to two instances",
                    kind(live_secret),
                    kind(pk.production)
                ),
                Some(
                    "take CLERK_SECRET_KEY and CLERK_PUBLISHABLE_KEY from the same instance's \
                     API keys page in the Clerk dashboard"
                        .into(),
                ),
            ));
        }
    }
    let source = JwksSource {
        url: format!("{}/v1/jwks", config.api_url),
        bearer: Some(secret.clone()),
    };
    let sample = match sample(http, source).await {
        Ok(sample) => sample,
        Err((url, FetchError::Status(status))) if matches!(status.as_u16(), 401 | 403) => {
            out.push(Finding::error(
                "secret key",
                format!("invalid: the Backend API ({url}) answered {status}"),
                Some(
                    "copy the secret key (sk_…) of the instance from the Clerk dashboard's API \
                     keys page; it may have been rolled"
                        .into(),
                ),
            ));
            return None;
        }
        Err((url, e)) => {
            out.push(Finding::error(
                "secret key",
                format!("the Backend API's JWKS could not be read from {url}: {e}"),
                Some(format!(
                    "check CLERK_API_URL ({}) and outbound HTTPS to it",
                    config.api_url
                )),
            ));
            return None;
        }
    };
    match frontend {
        Some(front) => {
            let shared: Vec<String> = sample
                .jwks
                .key_ids()
                .into_iter()
                .filter(|id| front.keys.contains_key(id))
                .collect();
            if shared.is_empty() {
                out.push(Finding::error(
                    "instance",
                    format!(
                        "keys from two Clerk instances: the frontend API's JWKS holds {} but \
                         the secret key's instance signs with {}",
                        front.key_ids().join(", "),
                        sample.jwks.key_ids().join(", ")
                    ),
                    Some(
                        "take CLERK_PUBLISHABLE_KEY and CLERK_SECRET_KEY from the same instance \
                         (development and production instances have different keys)"
                            .into(),
                    ),
                ));
            } else {
                out.push(Finding::ok(
                    "secret key",
                    format!(
                        "accepted by the Backend API, and of the same instance: both JWKS hold {}",
                        shared.join(", ")
                    ),
                ));
            }
        }
        None => out.push(Finding::ok(
            "secret key",
            format!(
                "accepted by the Backend API, whose JWKS holds {} (not compared: the frontend \
                 API's JWKS was not read)",
                key_list(&sample.jwks)
            ),
        )),
    }
    Some(sample)
}
