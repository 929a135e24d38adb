//! Claim rules and secrets: audience, authorized parties, the webhook signing secret.

use base64::Engine as _;

use super::finding::Finding;
use crate::config::ClerkConfig;

pub(super) fn audience(config: &ClerkConfig, out: &mut Vec<Finding>) {
    if let Some(aud) = &config.audience {
        out.push(Finding::warning(
            "audience",
            format!(
                "CLERK_JWT_AUDIENCE is {aud:?}: tokens without that aud are refused, and Clerk \
                 session tokens carry no aud unless the session token is customized"
            ),
            "unset CLERK_JWT_AUDIENCE, or add \"aud\" to the session token (Sessions → \
             Customize session token)",
        ));
    }
}

pub(super) fn authorized_parties(config: &ClerkConfig, out: &mut Vec<Finding>) {
    let fix = "set CLERK_AUTHORIZED_PARTIES to the exact origins of your frontends, e.g. \
               https://app.example.com";
    if !config.authorized_parties.is_empty() {
        out.push(Finding::ok(
            "authorized parties",
            format!(
                "azp must be one of {}",
                config.authorized_parties.join(", ")
            ),
        ));
    } else if config.instance.production {
        out.push(Finding::error(
            "authorized parties",
            "not set with a production instance (pk_live_): the azp claim is not checked, so \
             tokens minted for any origin of the instance are accepted",
            Some(fix.into()),
        ));
    } else if !cfg!(debug_assertions) {
        out.push(Finding::warning(
            "authorized parties",
            "not set: the azp claim of tokens is not checked",
            fix,
        ));
    } else {
        out.push(Finding::ok(
            "authorized parties",
            "not set: azp is not checked (fine in development; required in production)",
        ));
    }
}

pub(super) fn webhook_secret(config: &ClerkConfig, out: &mut Vec<Finding>) {
    const TOPIC: &str = "webhook secret";
    let fix =
        "copy the Signing Secret (whsec_…) of the instance's webhook endpoint from the Clerk \
               dashboard (Webhooks) into CLERK_WEBHOOK_SIGNING_SECRET";
    let Some(secret) = &config.webhook_signing_secret else {
        out.push(if config.local_mode() {
            Finding::ok(TOPIC, "not set (not needed in local mode)")
        } else {
            Finding::warning(
                TOPIC,
                "not set: webhook events from Clerk (user updates, deletions, bans) cannot be \
                 verified",
                fix,
            )
        });
        return;
    };
    // `ClerkConfig::from_figment` refuses a malformed secret; this also covers configs built
    // by hand, and checks the length that Standard Webhooks asks for (24 to 64 bytes).
    let decoded = secret
        .strip_prefix("whsec_")
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64));
    match decoded {
        Some(Ok(key)) if (24..=64).contains(&key.len()) => out.push(Finding::ok(
            TOPIC,
            format!("set (whsec_…, a {}-byte key)", key.len()),
        )),
        Some(Ok(key)) if !key.is_empty() => out.push(Finding::warning(
            TOPIC,
            format!(
                "decodes to a {}-byte key; Clerk's signing secrets hold 24 to 64 bytes: was it \
                 cut when copied?",
                key.len()
            ),
            fix,
        )),
        _ => out.push(Finding::error(
            TOPIC,
            "malformed: expected whsec_ followed by base64",
            Some(fix.into()),
        )),
    }
}
