//! Where a request's session token comes from: the `Authorization: Bearer` header first, else
//! the `__session` cookie (or its suffixed twin). A header token never falls back to a cookie.

use rocket::request::Request;

use crate::clerk::token::{unverified_claims, AuthError, Reason};
use crate::config::ClerkConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Header,
    Cookie,
}

pub fn session_token<'r>(
    request: &'r Request<'_>,
    config: &ClerkConfig,
) -> Result<(&'r str, Carrier), AuthError> {
    if let Some(value) = request.headers().get_one("Authorization") {
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        // Other schemes (Basic, …) are not ours: the cookie may still sign the request in.
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = rest.trim();
            if token.is_empty() {
                return Err(AuthError::new(
                    Reason::TokenInvalid,
                    "the Authorization header has an empty Bearer token",
                ));
            }
            return Ok((token, Carrier::Header));
        }
    }
    let cookies = request.cookies();
    let plain = cookies
        .get("__session")
        .map(|c| c.value())
        .filter(|v| !v.is_empty());
    let suffixed = config
        .instance
        .cookie_suffix
        .as_deref()
        .and_then(|sfx| cookies.get(&format!("__session_{sfx}")))
        .map(|c| c.value())
        .filter(|v| !v.is_empty());
    let token = match (plain, suffixed) {
        (Some(plain), Some(suffixed)) => {
            Some(choose_cookie(plain, suffixed, &config.instance.issuer))
        }
        (plain, suffixed) => plain.or(suffixed),
    };
    token.map(|t| (t, Carrier::Cookie)).ok_or_else(|| {
        AuthError::new(
            Reason::SessionTokenMissing,
            "sign in: send Authorization: Bearer <session token> or the __session cookie",
        )
    })
}

/// Both cookies present: the unsuffixed one may belong to another app on the same site
/// (Clerk's suffixed-cookie rules, spec §1). Prefer the one from our issuer, then the newer.
fn choose_cookie<'a>(plain: &'a str, suffixed: &'a str, issuer: &str) -> &'a str {
    let info = |token: &str| {
        let claims = unverified_claims(token)?;
        let ours = claims.get("iss").and_then(|v| v.as_str()) == Some(issuer);
        let iat = claims.get("iat").and_then(|v| v.as_i64()).unwrap_or(0);
        Some((ours, iat))
    };
    match (info(plain), info(suffixed)) {
        (Some((true, plain_iat)), Some((true, suffixed_iat))) if plain_iat > suffixed_iat => plain,
        (Some((true, _)), Some((false, _)) | None) => plain,
        _ => suffixed,
    }
}
