//! What settings must look like: publishable keys, hosts, origins and URLs, and the settings that
//! must not meet (local mode beside production keys or a network address).

use base64::Engine as _;
use figment::Figment;

use super::error::{bad, ConfigError};

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

pub(super) fn parse_frontend_api(value: &str) -> Result<String, ConfigError> {
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
pub(super) fn valid_host(host: &str) -> bool {
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
pub(super) fn check_fetch_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
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
pub(super) fn beside_production(
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
pub(super) fn listens_on_loopback(figment: &Figment) -> Result<(), ConfigError> {
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

pub(super) fn check_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(bad(
            variable,
            format!("expected an http(s) URL, found {value:?}"),
        )),
    }
}

pub(super) fn check_origin(value: &str) -> Result<(), ConfigError> {
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
