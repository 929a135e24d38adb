//! The JOSE header and the token's shape, checked before any key is looked up.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::reason::{fail, AuthError, Reason};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

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

/// Shape, size, parameters, `typ`, `cat` and `alg` checks, before any key is looked up.
pub fn inspect_header(token: &str) -> Result<TokenHeader, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return fail(Reason::TokenInvalid, "the token is longer than 8 KiB");
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
    match header.get("typ") {
        None => {}
        Some(Value::String(t)) if t == "JWT" => {}
        Some(Value::String(t)) if t == "at+jwt" || t == "application/at+jwt" => {
            return fail(
                Reason::TokenTypeMismatch,
                "OAuth access tokens are not session tokens",
            );
        }
        Some(_) => return fail(Reason::TokenInvalid, "the token's typ header must be JWT"),
    }
    if let Some(cat) = header.get("cat") {
        if !cat
            .as_str()
            .is_some_and(|c| SESSION_CATEGORIES.contains(&c))
        {
            return fail(
                Reason::TokenTypeMismatch,
                "this is not a session token (JWT template or machine token); send the session token",
            );
        }
    }
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
