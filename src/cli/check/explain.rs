//! A token, claim by claim, judged by the verifier's own rules.

use serde_json::Value;

use super::finding::Finding;
use crate::clerk::token::{self, AuthError, Reason};
use crate::clerk::Clerk;
use crate::config::ClerkConfig;

fn claim_topic(claim: &str) -> &'static str {
    match claim {
        "sub" => "token sub",
        "iss" => "token iss",
        "aud" => "token aud",
        "azp" => "token azp",
        "exp" => "token exp",
        "nbf" => "token nbf",
        "iat" => "token iat",
        "sid" => "token sid",
        "sts" => "token sts",
        "lifetime" => "token lifetime",
        _ => "token",
    }
}

fn fix_for(reason: Reason, claim: Option<&str>) -> Option<String> {
    let clock = "this server's clock is behind: synchronize it with NTP (timedatectl set-ntp \
                 true, or chrony)";
    let fix = match (reason, claim) {
        (Reason::TokenVerificationFailed, Some("aud")) => {
            "unset CLERK_JWT_AUDIENCE, or add \"aud\" to the session token (Sessions → Customize \
             session token)"
        }
        (Reason::TokenVerificationFailed, _) => {
            "send a Clerk session token of a user (await Clerk.session.getToken()), not a \
             hand-made or template token"
        }
        (Reason::TokenInvalid, _) => {
            "pass the raw token once: no quotes, no \"Bearer \" prefix, not cut when copied"
        }
        (Reason::TokenInvalidAlgorithm, _) => "send a Clerk session token (RS256)",
        (Reason::TokenTypeMismatch, _) => {
            "send the session token: getToken() without a template, not an OAuth or machine token"
        }
        (Reason::TokenInvalidSignature, _) => {
            "take CLERK_JWT_KEY from the instance that issued the token (in local mode, mint a \
             new token)"
        }
        (Reason::JwkKidMismatch, _) => {
            "the token comes from another Clerk instance than the one configured: use that \
             instance's publishable key, or a token of this instance"
        }
        (Reason::JwkRemoteFailedToLoad, _) => {
            "make the JWKS reachable (see the jwks finding above)"
        }
        (Reason::TokenExpired, _) => {
            "get a fresh token (Clerk session tokens live 60 s); if fresh tokens are expired \
             here, this server's clock is ahead: synchronize it with NTP"
        }
        (Reason::TokenNotActiveYet | Reason::TokenIatInTheFuture, _) => clock,
        (Reason::TokenInvalidAuthorizedParties, _) => {
            "add the frontend's exact origin to CLERK_AUTHORIZED_PARTIES (scheme, host, port; \
             no trailing /); tokens without azp are refused while the list is set"
        }
        (Reason::TokenInvalidIssuer, _) => {
            "use the publishable key of the instance that issued the token, or set \
             CLERK_JWT_ISSUER to exactly its issuer"
        }
        (Reason::SessionPending, _) => {
            "finish the sign-in tasks in Clerk's UI, then use a new token"
        }
        _ => return None,
    };
    Some(fix.to_owned())
}

fn refused(error: &AuthError) -> Finding {
    Finding::error(
        "token",
        format!("refused: {} ({})", error.reason.code(), error.message),
        None,
    )
}

#[allow(clippy::too_many_lines)] // the verifier's steps, each explained, in the verifier's order
pub(super) async fn explain_token(
    config: &ClerkConfig,
    http: &reqwest::Client,
    token: &str,
    out: &mut Vec<Finding>,
) {
    let header = match token::inspect_header(token) {
        Ok(header) => header,
        Err(e) => {
            out.push(Finding::error(
                "token",
                format!(
                    "refused before any key is looked up: {} ({})",
                    e.reason.code(),
                    e.message
                ),
                fix_for(e.reason, None),
            ));
            return;
        }
    };
    let clerk = match Clerk::with_client(config.clone(), http.clone()) {
        Ok(clerk) => clerk,
        Err(e) => {
            out.push(Finding::error(
                "token",
                format!("the verifier could not be built: {e}"),
                None,
            ));
            return;
        }
    };
    let kid = header.kid.as_deref().unwrap_or("none");
    let rules = clerk.verifier.rules();
    let claims = match clerk.verifier.verify_signature(token).await {
        Ok(claims) => claims,
        Err(e) => {
            out.push(Finding::error(
                "token",
                format!(
                    "signature not verified (kid {kid:?}): {} ({})",
                    e.reason.code(),
                    e.message
                ),
                fix_for(e.reason, None),
            ));
            // The usual cause of an unknown kid is a token of another instance: its (unverified)
            // issuer says which.
            let issuer = token::unverified_claims(token)
                .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned));
            if let Some(iss) = issuer.filter(|iss| *iss != rules.issuer) {
                out.push(Finding::error(
                    "token iss",
                    format!(
                        "(unverified) expected {:?}, found {:?}",
                        rules.issuer,
                        iss.chars().take(100).collect::<String>()
                    ),
                    fix_for(Reason::TokenInvalidIssuer, None),
                ));
            }
            out.push(refused(&e));
            return;
        }
    };
    out.push(Finding::ok(
        "token",
        format!("signature verified (RS256, kid {kid:?})"),
    ));
    let mut first_failure = None;
    for check in token::explain_claims(&claims, rules, token::now()) {
        let topic = claim_topic(check.claim);
        let message = format!("expected {}, found {}", check.expected, check.found);
        match check.failure {
            None => out.push(Finding::ok(topic, message)),
            Some(failure) => {
                out.push(Finding::error(
                    topic,
                    format!("{message} ({})", failure.reason.code()),
                    fix_for(failure.reason, Some(check.claim)),
                ));
                first_failure.get_or_insert(failure);
            }
        }
    }
    let has_email = claims
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty());
    if has_email {
        out.push(Finding::ok(
            "token email",
            "present: the user's row takes its email from it",
        ));
    } else if clerk.backend_api.is_some() {
        out.push(Finding::ok(
            "token email",
            "absent: the email is looked up with the Backend API on the user's first request",
        ));
    } else {
        out.push(Finding::warning(
            "token email",
            "absent, and there is no Backend API (CLERK_SECRET_KEY): a user without a stored \
             email (a first sign-in) is refused with email-claim-missing",
            "customize the session token (Sessions → Customize session token: {\"email\": \
             \"{{user.primary_email_address}}\"}), or set CLERK_SECRET_KEY",
        ));
    }
    if let Some(failure) = first_failure {
        out.push(refused(&failure));
    } else {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if text("sts") == "pending" {
            out.push(Finding::warning(
                "token",
                format!(
                    "verified, but the session is pending (sts: \"pending\"): {} (session {}) \
                     is signed out (session-pending) except on routes that accept pending \
                     sessions (/api/whoami), and pages send them to {}",
                    text("sub"),
                    text("sid"),
                    crate::clerk::session_tasks::TASKS_PATH
                ),
                fix_for(Reason::SessionPending, Some("sts")).unwrap_or_default(),
            ));
        } else {
            out.push(Finding::ok(
                "token",
                format!(
                    "accepted: this server would sign in {} (session {})",
                    text("sub"),
                    text("sid")
                ),
            ));
        }
    }
}
