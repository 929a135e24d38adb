//! The claim rules a signature-verified session token must pass, in the verifier's order.
//!
//! Each rule is a small function over the claims. The same list drives the verifier (first failure
//! refuses) and `clerk-rocket check --token` (every rule in words), so the two cannot disagree.
//! Every registered claim must have its registered JSON type and a sane value: a claim of the
//! wrong type is a refusal, never "absent".

use serde_json::{Map, Value};

use super::describe::{describe, rfc3339, truncate};
use super::reason::{AuthError, Reason};

/// The latest `NumericDate` accepted: the end of year 9999. Beyond it a time is not a time.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// Longest Clerk id (`user_…`, `sess_…`) accepted; Clerk's are about 32 characters.
const MAX_ID_CHARS: usize = 128;

/// Longest `iss`/`azp` accepted: an origin, not a document.
const MAX_URL_CHARS: usize = 512;

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct Rules {
    pub issuer: String,
    /// `None`: the token must carry no `aud` at all (RFC 7519 §4.1.3).
    pub audience: Option<String>,
    pub authorized_parties: Vec<String>,
    pub clock_skew_secs: u64,
    /// The longest `exp − iat` accepted.
    pub max_lifetime_secs: u64,
}

/// One claim rule applied to a token: what the rule wants, what the token carries, and the
/// refusal when it fails. [`explain_claims`] lists them in the order the verifier applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck {
    /// The claim's name (`sub`, `iss`, `aud`, `azp`, `exp`, `nbf`, `iat`, `sid`, `sts`), or
    /// `lifetime` for `exp − iat`.
    pub claim: &'static str,
    /// What the rules want, in words.
    pub expected: String,
    /// What the token carries, in words (`absent` when it has no such claim).
    pub found: String,
    /// The refusal this claim causes, exactly as the verifier reports it; `None` when it passes.
    pub failure: Option<AuthError>,
}

type Claims = Map<String, Value>;

/// The claims, the rules and the time (unix seconds) a rule looks at.
struct Context<'a> {
    claims: &'a Claims,
    rules: &'a Rules,
    now: f64,
}

struct Rule {
    claim: &'static str,
    expected: fn(&Context<'_>) -> String,
    check: fn(&Context<'_>) -> Option<AuthError>,
}

const RULES: [Rule; 10] = [
    Rule {
        claim: "sub",
        expected: |_| "a Clerk user id (user_…)".into(),
        check: sub,
    },
    Rule {
        claim: "iss",
        expected: |c| format!("{:?}", c.rules.issuer),
        check: iss,
    },
    Rule {
        claim: "aud",
        expected: |c| match &c.rules.audience {
            None => "absent (no audience is configured)".into(),
            Some(aud) => format!("{aud:?}, or a list holding it"),
        },
        check: aud,
    },
    Rule {
        claim: "azp",
        expected: |c| {
            if c.rules.authorized_parties.is_empty() {
                "absent, or an origin (no authorized parties are configured)".into()
            } else {
                format!("one of {:?}", c.rules.authorized_parties)
            }
        },
        check: azp,
    },
    Rule {
        claim: "exp",
        expected: |c| {
            format!(
                "a time later than now less the {} s skew ({})",
                c.rules.clock_skew_secs,
                rfc3339(c.now - skew(c))
            )
        },
        check: exp,
    },
    Rule {
        claim: "nbf",
        expected: not_after_now,
        check: nbf,
    },
    Rule {
        claim: "iat",
        expected: not_after_now,
        check: iat,
    },
    Rule {
        claim: "lifetime",
        expected: |c| format!("exp − iat at most {} s", c.rules.max_lifetime_secs),
        check: lifetime,
    },
    Rule {
        claim: "sid",
        expected: |_| "a Clerk session id (sess_…)".into(),
        check: sid,
    },
    Rule {
        claim: "sts",
        expected: |_| {
            "absent, or a status (\"active\"; \"pending\" is accepted here and signed out by routes that do not accept pending sessions)".into()
        },
        check: sts,
    },
];

/// Every claim rule applied to the (signature-verified) `claims` as of the unix time `now`, in the
/// verifier's order. The verifier refuses a token with the first failure of this list.
pub fn explain_claims(claims: &Claims, rules: &Rules, now: i64) -> Vec<ClaimCheck> {
    let context = context(claims, rules, now);
    RULES
        .iter()
        .map(|rule| ClaimCheck {
            claim: rule.claim,
            expected: (rule.expected)(&context),
            found: match rule.claim {
                "lifetime" => match (time(claims, "exp"), time(claims, "iat")) {
                    (Ok(Some(exp)), Ok(Some(iat))) => format!("{} s", exp - iat),
                    _ => "unknown (exp or iat is not a time)".into(),
                },
                claim => describe(claims.get(claim), now),
            },
            failure: (rule.check)(&context),
        })
        .collect()
}

/// The first rule `claims` fails, if any: the verifier's hot path, with no words formatted.
pub fn first_failure(claims: &Claims, rules: &Rules, now: i64) -> Option<AuthError> {
    let context = context(claims, rules, now);
    RULES.iter().find_map(|rule| (rule.check)(&context))
}

/// The rules every Clerk JWT shares (issuer, times, lifetime): machine JWTs have no `sid`, and
/// their `sub` and `aud` mean something else.
pub fn first_common_failure(claims: &Claims, rules: &Rules, now: i64) -> Option<AuthError> {
    let context = context(claims, rules, now);
    RULES
        .iter()
        .filter(|rule| matches!(rule.claim, "iss" | "exp" | "nbf" | "iat" | "lifetime"))
        .find_map(|rule| (rule.check)(&context))
}

#[allow(clippy::cast_precision_loss)] // unix seconds are far below 2^52
fn context<'a>(claims: &'a Claims, rules: &'a Rules, now: i64) -> Context<'a> {
    Context {
        claims,
        rules,
        now: now as f64,
    }
}

#[allow(clippy::cast_precision_loss)] // a configured skew is a few seconds
fn skew(c: &Context<'_>) -> f64 {
    c.rules.clock_skew_secs as f64
}

fn not_after_now(c: &Context<'_>) -> String {
    format!(
        "absent, or a time not later than now plus the {} s skew ({})",
        c.rules.clock_skew_secs,
        rfc3339(c.now + skew(c))
    )
}

#[allow(clippy::unnecessary_wraps)] // every rule answers an Option
fn refuse(reason: Reason, message: impl Into<String>) -> Option<AuthError> {
    Some(AuthError::new(reason, message))
}

fn invalid(message: impl Into<String>) -> Option<AuthError> {
    refuse(Reason::TokenVerificationFailed, message)
}

/// A `NumericDate` claim: `Ok(None)` when absent; an error when it is not a JSON number between
/// 0 and the year 9999.
pub(super) fn time(claims: &Claims, name: &str) -> Result<Option<f64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if t.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&t) => Ok(Some(t)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// Whether `id` looks like a Clerk id of this kind: the prefix, then letters, digits and `_`
/// (at most 128 characters). Anything else never reaches a query or a Backend API path.
pub fn is_clerk_id(id: &str, prefix: &str) -> bool {
    id.len() <= MAX_ID_CHARS
        && id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Printable ASCII of a sane length: what an issuer or an origin is made of.
fn is_url_text(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_URL_CHARS && text.bytes().all(|b| b.is_ascii_graphic())
}

fn sub(c: &Context<'_>) -> Option<AuthError> {
    match c.claims.get("sub") {
        None => invalid("the token has no sub claim"),
        Some(Value::String(sub)) if sub.starts_with("mch_") => refuse(
            Reason::TokenTypeMismatch,
            "machine tokens are not session tokens",
        ),
        Some(Value::String(sub)) if is_clerk_id(sub, "user_") => None,
        Some(_) => invalid("the sub claim is not a Clerk user id"),
    }
}

fn iss(c: &Context<'_>) -> Option<AuthError> {
    match c.claims.get("iss") {
        Some(Value::String(iss)) if *iss == c.rules.issuer => None,
        Some(Value::String(iss)) if is_url_text(iss) => refuse(
            Reason::TokenInvalidIssuer,
            format!(
                "the token was issued by {:?}, not by this server's Clerk instance",
                truncate(iss)
            ),
        ),
        Some(_) => refuse(
            Reason::TokenInvalidIssuer,
            "the token's iss claim is not an issuer URL",
        ),
        None => refuse(Reason::TokenInvalidIssuer, "the token has no iss claim"),
    }
}

fn aud(c: &Context<'_>) -> Option<AuthError> {
    let found = c.claims.get("aud");
    match (&c.rules.audience, found) {
        (None, None) => None,
        (None, Some(_)) => invalid(
            "the token carries an audience (aud): it was made for another service, not this API",
        ),
        (Some(expected), Some(Value::String(aud))) if aud == expected => None,
        (Some(expected), Some(Value::Array(auds)))
            if auds.iter().any(|a| a.as_str() == Some(expected.as_str())) =>
        {
            None
        }
        (Some(_), _) => invalid("the token's aud does not include this API's audience"),
    }
}

fn azp(c: &Context<'_>) -> Option<AuthError> {
    let parties = &c.rules.authorized_parties;
    match c.claims.get("azp") {
        None if parties.is_empty() => None,
        None => refuse(
            Reason::TokenInvalidAuthorizedParties,
            "the token has no azp claim and authorized parties are configured",
        ),
        Some(Value::String(azp)) if is_url_text(azp) => {
            if parties.is_empty() || parties.iter().any(|p| p == azp) {
                None
            } else {
                refuse(
                    Reason::TokenInvalidAuthorizedParties,
                    format!(
                        "the token's azp {:?} is not an authorized party",
                        truncate(azp)
                    ),
                )
            }
        }
        Some(_) => refuse(
            Reason::TokenInvalidAuthorizedParties,
            "the token's azp claim is not an origin",
        ),
    }
}

fn exp(c: &Context<'_>) -> Option<AuthError> {
    match time(c.claims, "exp") {
        Ok(None) => invalid("the token has no exp claim"),
        Err(()) => invalid("the token's exp claim is not a time (a number of seconds)"),
        Ok(Some(exp)) if exp <= c.now - skew(c) => refuse(
            Reason::TokenExpired,
            "the token has expired; get a fresh one from Clerk",
        ),
        Ok(Some(_)) => None,
    }
}

fn nbf(c: &Context<'_>) -> Option<AuthError> {
    match time(c.claims, "nbf") {
        Err(()) => invalid("the token's nbf claim is not a time (a number of seconds)"),
        Ok(Some(nbf)) if nbf > c.now + skew(c) => refuse(
            Reason::TokenNotActiveYet,
            "the token is not valid yet (check this server's clock)",
        ),
        Ok(_) => None,
    }
}

fn iat(c: &Context<'_>) -> Option<AuthError> {
    match time(c.claims, "iat") {
        Ok(None) => invalid("the token has no iat claim"),
        Err(()) => invalid("the token's iat claim is not a time (a number of seconds)"),
        Ok(Some(iat)) if iat > c.now + skew(c) => refuse(
            Reason::TokenIatInTheFuture,
            "the token was issued in the future (check this server's clock)",
        ),
        Ok(Some(_)) => None,
    }
}

#[allow(clippy::cast_precision_loss)] // a configured lifetime is far below 2^52 seconds
fn lifetime(c: &Context<'_>) -> Option<AuthError> {
    // Only after exp and iat passed: both are valid times here.
    let (Ok(Some(exp)), Ok(Some(iat))) = (time(c.claims, "exp"), time(c.claims, "iat")) else {
        return None;
    };
    (exp - iat > c.rules.max_lifetime_secs as f64).then(|| {
        AuthError::new(
            Reason::TokenVerificationFailed,
            "the token's lifetime (exp − iat) is longer than this server accepts",
        )
    })
}

fn sid(c: &Context<'_>) -> Option<AuthError> {
    match c.claims.get("sid") {
        None => invalid("the token has no sid claim"),
        Some(Value::String(sid)) if is_clerk_id(sid, "sess_") => None,
        Some(_) => invalid("the sid claim is not a Clerk session id"),
    }
}

fn sts(c: &Context<'_>) -> Option<AuthError> {
    // A pending session is a verified session: whether a route serves it is the request
    // decision's and the route's (`auth::decision`, `auth::pending`), as in Clerk's SDK, where
    // `toAuth()` signs it out unless the route passes `treatPendingAsSignedOut: false`.
    match c.claims.get("sts") {
        None | Some(Value::String(_)) => None,
        Some(_) => invalid("the token's sts claim is not a status"),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
