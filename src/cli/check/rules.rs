//! Claim rules and secrets: audience, authorized parties, the webhook signing secret.

use base64::Engine as _;

use super::finding::Finding;
use crate::config::{ClerkConfig, MachineSettings};

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

/// Longest `CLERK_MACHINE_TOKEN_CACHE_SECS` without a warning: a revoked API key or OAuth token
/// stays accepted that long.
const MAX_QUIET_MACHINE_CACHE_SECS: u64 = 300;

/// `CLERK_MACHINE_ID` and `CLERK_MACHINE_TOKEN_CACHE_SECS`. The configuration refuses a malformed
/// id at load; this also covers settings built by hand. The cache only serves opaque tokens, which
/// local mode does not verify.
pub(super) fn machines(settings: &MachineSettings, local: bool, out: &mut Vec<Finding>) {
    const TOPIC: &str = "machine token cache";
    match &settings.machine_id {
        Some(id) if is_machine_id(id) => out.push(Finding::ok(
            "machine id",
            format!("{id}: M2M tokens not addressed to it are refused"),
        )),
        Some(id) => out.push(Finding::error(
            "machine id",
            format!("CLERK_MACHINE_ID is {id:?}, not a Clerk machine id (mch_…)"),
            Some(
                "copy this server's machine id (mch_…) from the Clerk dashboard (Machines), or \
                 unset CLERK_MACHINE_ID"
                    .into(),
            ),
        )),
        None => out.push(Finding::ok(
            "machine id",
            "not set: an M2M token is accepted whichever machines it names",
        )),
    }
    if local {
        return;
    }
    let secs = settings.cache_secs;
    if secs == 0 {
        out.push(Finding::warning(
            TOPIC,
            "CLERK_MACHINE_TOKEN_CACHE_SECS is 0: every request with an opaque token calls \
             Clerk (M2M verifications are billed, and spend CLERK_BACKEND_API_BUDGET)",
            "set CLERK_MACHINE_TOKEN_CACHE_SECS to a few seconds (default 10)",
        ));
    } else if secs > MAX_QUIET_MACHINE_CACHE_SECS {
        out.push(Finding::warning(
            TOPIC,
            format!(
                "CLERK_MACHINE_TOKEN_CACHE_SECS is {secs}: a revoked API key or token stays \
                 accepted for up to {secs} s"
            ),
            format!("set it to at most {MAX_QUIET_MACHINE_CACHE_SECS} (default 10)"),
        ));
    } else {
        out.push(Finding::ok(
            TOPIC,
            format!("{secs} s: a revoked opaque token is refused within {secs} s"),
        ));
    }
}

/// The Backend API budget against Clerk's limit for the secret key: at the whole limit, this
/// server alone may spend all of it, and two such servers (or another service on the same key)
/// drive Clerk into answering 429 to all of them.
pub(super) fn budget(config: &ClerkConfig, out: &mut Vec<Finding>) {
    const TOPIC: &str = "backend api budget";
    let Some(secret) = config
        .secret_key
        .as_deref()
        .filter(|_| !config.local_mode())
    else {
        return;
    };
    let limit = crate::config::clerk_rate_limit(secret.starts_with("sk_live_"));
    let budget = config.backend_api_budget;
    let (browser, machines, reserve) = crate::clerk::budget::shares(budget);
    let parts = format!(
        "{browser} for handshake nonces and session refreshes, {machines} for opaque machine \
         tokens, {reserve} kept for signed-in users, admin actions and sync"
    );
    if budget >= limit {
        out.push(Finding::warning(
            TOPIC,
            format!(
                "CLERK_BACKEND_API_BUDGET is {budget} per 10 s, Clerk's whole limit for this \
                 secret key ({limit}), with CLERK_INSTANCES={}: this server may spend all of it, \
                 and every other server or service on the same key then gets 429 from Clerk",
                config.instances
            ),
            "set CLERK_INSTANCES to the number of servers sharing the secret key (the budget \
             becomes the limit divided by it), or CLERK_BACKEND_API_BUDGET below the limit",
        ));
    } else {
        out.push(Finding::ok(
            TOPIC,
            format!(
                "{budget} calls per 10 s of Clerk's {limit} for this secret key ({} servers): \
                 {parts}",
                config.instances
            ),
        ));
    }
}

fn is_machine_id(id: &str) -> bool {
    crate::clerk::token::is_clerk_id(id, "mch_")
}

#[cfg(test)]
mod tests {
    use super::super::finding::Level;
    use super::*;

    fn findings(machine_id: Option<&str>, cache_secs: u64, local: bool) -> Vec<(Level, String)> {
        let settings = MachineSettings {
            secret_key: None,
            cache_secs,
            machine_id: machine_id.map(str::to_owned),
        };
        let mut out = Vec::new();
        machines(&settings, local, &mut out);
        out.into_iter().map(|f| (f.level, f.message)).collect()
    }

    #[test]
    fn machine_settings_are_checked() {
        let ok = findings(Some("mch_2abc"), 10, false);
        assert!(ok.iter().all(|(level, _)| *level == Level::Ok), "{ok:?}");
        assert!(ok[0].1.starts_with("mch_2abc"));
        for bad in ["mch_", "user_2abc", "mch_a-b", " mch_a"] {
            let found = findings(Some(bad), 10, false);
            assert_eq!(found[0].0, Level::Error, "{bad}");
        }
        assert_eq!(findings(None, 10, false)[0].0, Level::Ok);
        for (secs, level) in [
            (0, Level::Warning),
            (1, Level::Ok),
            (MAX_QUIET_MACHINE_CACHE_SECS, Level::Ok),
            (MAX_QUIET_MACHINE_CACHE_SECS + 1, Level::Warning),
        ] {
            assert_eq!(findings(None, secs, false)[1].0, level, "{secs}");
        }
        // Local mode verifies no opaque token: no cache finding.
        assert_eq!(findings(None, 0, true).len(), 1);
    }
}
