//! The JOSE header and the token's shape, checked before any key is looked up.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::reason::{fail, AuthError, Reason};

/// Tokens longer than this are refused before any parsing: a browser keeps at most 4096 bytes
/// per cookie, so no session token of Clerk's is longer (Clerk's docs keep custom claims under
/// 1.2 KB for that reason: https://clerk.com/docs/guides/sessions/session-tokens).
pub const MAX_TOKEN_BYTES: usize = 4 * 1024;

/// The `cat` header values of Clerk session tokens (production and development instances).
const SESSION_CATEGORIES: [&str; 2] = ["cl_B7d4PD111AAA", "cl_I7d4PD111III"];

/// The only header parameters a Clerk session token carries. Anything else (`crit`, `jku`,
/// `x5u`, `jwk`, `x5c`, `x5t`, `b64`, `zip`, `cty`, …) asks the verifier to understand an
/// extension or to fetch or trust a key from the token itself: we understand none of them, so a
/// token naming one is refused (RFC 7515 §4.1.11), whatever its value.
const UNDERSTOOD: [&str; 4] = ["alg", "kid", "typ", "cat"];

/// Longest `kid` accepted; Clerk's are `ins_` + 27 characters.
const MAX_KID_CHARS: usize = 128;

/// The header fields that decide how a token is verified.
#[derive(Debug)]
pub struct TokenHeader {
    pub kid: Option<String>,
}

/// The prefixes of Clerk's opaque machine tokens: M2M tokens, OAuth access tokens, API keys.
pub const OPAQUE_PREFIXES: [&str; 3] = ["mt_", "oat_", "ak_"];

/// The `cat` header value of Clerk's JWT M2M tokens.
const M2M_CATEGORY: &str = "cl_B7d4PD333AAA";

/// Which kind of JWT the header must announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A session token: `typ` absent or `JWT`, `cat` a session category or absent.
    Session,
    /// A JWT M2M token: `typ` absent or `JWT`, `cat` absent or Clerk's M2M category.
    M2m,
    /// A JWT OAuth access token: `typ` `at+jwt` (RFC 9068).
    OAuth,
}

/// Shape, size, parameters, `typ`, `cat` and `alg` checks of a session token, before any key is
/// looked up.
pub fn inspect_header(token: &str) -> Result<TokenHeader, AuthError> {
    inspect(token, Expect::Session)
}

/// [`inspect_header`] for the kind of JWT `expect` names.
pub fn inspect(token: &str, expect: Expect) -> Result<TokenHeader, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return fail(Reason::TokenInvalid, "the token is longer than 4 KiB");
    }
    if expect == Expect::Session && OPAQUE_PREFIXES.iter().any(|p| token.starts_with(p)) {
        return fail(
            Reason::TokenTypeMismatch,
            "machine tokens (M2M tokens, OAuth access tokens, API keys) are not accepted here; \
             send a session token",
        );
    }
    let parts: Vec<&str> = token.split('.').collect();
    // An empty signature is left to the `alg` check (`alg: none`), which names the problem.
    if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
        return fail(
            Reason::TokenInvalid,
            "the token is not a JWT (expected three dot-separated parts)",
        );
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return fail(
            Reason::TokenInvalid,
            "the token holds characters outside base64url",
        );
    }
    let header: Map<String, Value> = decode_segment(parts[0]).ok_or_else(|| {
        AuthError::new(
            Reason::TokenInvalid,
            "the token's header is not base64url JSON",
        )
    })?;
    if let Some(name) = header.keys().find(|k| !UNDERSTOOD.contains(&k.as_str())) {
        return fail(
            Reason::TokenInvalid,
            format!(
                "the token's header has a parameter this server does not understand ({})",
                super::describe::truncate(name)
            ),
        );
    }
    check_type(&header, expect)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return fail(
            Reason::TokenInvalidAlgorithm,
            "only RS256 tokens are accepted",
        );
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid))
            if !kid.is_empty()
                && kid.len() <= MAX_KID_CHARS
                && kid.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(kid.clone())
        }
        Some(_) => {
            return fail(
                Reason::TokenInvalid,
                "the token's kid header must be a short printable string",
            )
        }
    };
    Ok(TokenHeader { kid })
}

/// `typ` and `cat`: the header must announce the kind of JWT `expect` names.
fn check_type(header: &Map<String, Value>, expect: Expect) -> Result<(), AuthError> {
    let typ = header.get("typ");
    let at_jwt = matches!(typ, Some(Value::String(t)) if is_at_jwt(t));
    match (typ, expect) {
        (_, Expect::OAuth) if at_jwt => {}
        (_, Expect::OAuth) => {
            return fail(
                Reason::TokenInvalid,
                "an OAuth access token's typ header must be at+jwt",
            )
        }
        (None, _) => {}
        (Some(Value::String(t)), _) if t == "JWT" => {}
        (Some(_), Expect::Session) if at_jwt => {
            return fail(
                Reason::TokenTypeMismatch,
                "OAuth access tokens are not session tokens",
            );
        }
        (Some(_), _) => return fail(Reason::TokenInvalid, "the token's typ header must be JWT"),
    }
    if let Some(cat) = header.get("cat") {
        let cat = cat.as_str();
        let allowed = match expect {
            Expect::Session => cat.is_some_and(|c| SESSION_CATEGORIES.contains(&c)),
            Expect::M2m => cat == Some(M2M_CATEGORY),
            Expect::OAuth => cat.is_some(),
        };
        if !allowed && expect == Expect::Session {
            return fail(
                Reason::TokenTypeMismatch,
                "this is not a session token (JWT template or machine token); send the session token",
            );
        }
        if !allowed {
            return fail(
                Reason::TokenInvalid,
                "the token's cat header is not Clerk's for this token type",
            );
        }
    }
    Ok(())
}

/// `at+jwt` or `application/at+jwt`: an OAuth 2.0 access token in JWT form (RFC 9068).
pub fn is_at_jwt(typ: &str) -> bool {
    typ == "at+jwt" || typ == "application/at+jwt"
}

/// The header without verifying it: only for telling token types apart, never to trust.
pub fn unverified_header(token: &str) -> Option<Map<String, Value>> {
    decode_segment(token.split('.').next()?)
}

/// The header and payload as Clerk's `decodeJwt` reads them before any check: exactly three
/// dot-separated parts, the first two JSON objects in base64url (loosely: padding and the
/// standard alphabet's `+`/`/` allowed). Never to trust: for choosing and classifying only.
pub fn decode_loosely(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let loose = |segment: &str| -> Option<Vec<u8>> {
        let normalized: String = segment
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(normalized)
            .ok()
    };
    loose(signature)?;
    let object = |bytes: Vec<u8>| serde_json::from_slice::<Map<String, Value>>(&bytes).ok();
    Some((object(loose(header)?)?, object(loose(payload)?)?))
}

/// Clerk's class guards for a session token (`isMachineJwt`, `hasNonSessionJwtCategory`): an
/// OAuth `typ`, an M2M subject (`mch_…`), or a `cat` that is not a session's.
pub fn is_other_class(header: &Map<String, Value>, payload: &Map<String, Value>) -> bool {
    let oauth = header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(is_at_jwt);
    let m2m = payload
        .get("sub")
        .and_then(Value::as_str)
        .is_some_and(|sub| sub.starts_with("mch_"));
    let category = header
        .get("cat")
        .is_some_and(|cat| !SESSION_CATEGORIES.iter().any(|c| cat.as_str() == Some(c)));
    oauth || m2m || category
}

/// Decodes the payload without verifying it: only for choosing between cookies, never to trust.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    parts.next()?;
    decode_segment(parts.next()?)
}

fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &Value) -> String {
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!("{}.{}.c2ln", b64(header), b64(&serde_json::json!({})))
    }

    #[test]
    fn parameters_that_must_be_understood_are_refused_whatever_their_value() {
        for (name, value) in [
            ("crit", serde_json::json!([])),
            ("crit", serde_json::json!(["exp"])),
            ("jku", serde_json::json!("https://evil.test/jwks")),
            ("x5u", serde_json::json!("https://evil.test/cert")),
            ("jwk", serde_json::json!({"kty": "RSA"})),
            ("x5c", serde_json::json!(["MII"])),
            ("b64", serde_json::json!(false)),
            ("zip", serde_json::json!("DEF")),
            ("cty", serde_json::json!("JWT")),
        ] {
            let mut header = serde_json::json!({"alg": "RS256", "kid": "k", "typ": "JWT"});
            header[name] = value;
            let error = inspect_header(&token(&header)).unwrap_err();
            assert_eq!(error.reason, Reason::TokenInvalid, "{name}");
        }
        let plain =
            serde_json::json!({"alg": "RS256", "kid": "k", "typ": "JWT", "cat": "cl_B7d4PD111AAA"});
        assert_eq!(
            inspect_header(&token(&plain)).unwrap().kid.as_deref(),
            Some("k")
        );
    }

    #[test]
    fn shape_and_kid_are_strict() {
        let header = serde_json::json!({"alg": "RS256", "kid": "k"});
        let good = token(&header);
        for bad in [
            format!("{good}."),
            format!("{good}=="),
            good.replacen('.', "..", 1),
            format!(" {good}"),
        ] {
            assert!(inspect_header(&bad).is_err(), "{bad}");
        }
        for kid in [
            serde_json::json!(""),
            serde_json::json!(1),
            serde_json::json!("a b"),
            serde_json::json!("k".repeat(200)),
        ] {
            let header = serde_json::json!({"alg": "RS256", "kid": kid});
            assert!(inspect_header(&token(&header)).is_err(), "{kid}");
        }
    }
}
