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
    if let Some(token) = bearer_token(request) {
        return token.map(|t| (t, Carrier::Header));
    }
    session_cookie(request, config)
        .map(|cookie| (cookie.token, Carrier::Cookie))
        .ok_or_else(|| {
            AuthError::new(
                Reason::SessionTokenMissing,
                "sign in: send Authorization: Bearer <session token> or the __session cookie",
            )
        })
}

/// The Bearer token, when the request has one (an empty one is an error). Other schemes (Basic,
/// …) are not ours: the cookie may still sign the request in.
pub fn bearer_token<'r>(request: &'r Request<'_>) -> Option<Result<&'r str, AuthError>> {
    let value = request.headers().get_one("Authorization")?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    Some(if token.is_empty() {
        Err(AuthError::new(
            Reason::TokenInvalid,
            "the Authorization header has an empty Bearer token",
        ))
    } else {
        Ok(token)
    })
}

/// The session cookie chosen for this request, and whether it is the suffixed one.
#[derive(Debug, Clone, Copy)]
pub struct SessionCookie<'r> {
    pub token: &'r str,
    pub suffixed: bool,
}

fn cookie<'r>(request: &'r Request<'_>, name: &str) -> Option<&'r str> {
    request
        .cookies()
        .get(name)
        .map(|c| c.value())
        .filter(|v| !v.is_empty())
}

pub fn session_cookie<'r>(
    request: &'r Request<'_>,
    config: &ClerkConfig,
) -> Option<SessionCookie<'r>> {
    let plain = cookie(request, "__session");
    let suffixed = config
        .instance
        .cookie_suffix
        .as_deref()
        .and_then(|sfx| cookie(request, &format!("__session_{sfx}")));
    match (plain, suffixed) {
        (Some(plain), Some(suffixed)) => {
            Some(if prefer_plain(plain, suffixed, &config.instance.issuer) {
                SessionCookie {
                    token: plain,
                    suffixed: false,
                }
            } else {
                SessionCookie {
                    token: suffixed,
                    suffixed: true,
                }
            })
        }
        (Some(plain), None) => Some(SessionCookie {
            token: plain,
            suffixed: false,
        }),
        (None, Some(suffixed)) => Some(SessionCookie {
            token: suffixed,
            suffixed: true,
        }),
        (None, None) => None,
    }
}

/// `__client_uat` (unix seconds of the client's last change; 0 = signed out), from the same
/// family of cookies as the session token. `None` when absent.
pub fn client_uat(request: &Request<'_>, config: &ClerkConfig, suffixed: bool) -> Option<i64> {
    let suffixed_name = config
        .instance
        .cookie_suffix
        .as_deref()
        .map(|sfx| format!("__client_uat_{sfx}"));
    let value = match (suffixed, suffixed_name) {
        (true, Some(name)) => cookie(request, &name).or_else(|| cookie(request, "__client_uat")),
        (false, Some(name)) => cookie(request, "__client_uat").or_else(|| cookie(request, &name)),
        (_, None) => cookie(request, "__client_uat"),
    }?;
    Some(value.trim().parse::<i64>().unwrap_or(0))
}

/// Both cookies present: the unsuffixed one may belong to another app on the same site
/// (Clerk's suffixed-cookie rules, spec §1). Prefer the one from our issuer, then the newer.
fn prefer_plain(plain: &str, suffixed: &str, issuer: &str) -> bool {
    let info = |token: &str| {
        let claims = unverified_claims(token)?;
        let ours = claims.get("iss").and_then(|v| v.as_str()) == Some(issuer);
        let iat = claims.get("iat").and_then(|v| v.as_i64()).unwrap_or(0);
        Some((ours, iat))
    };
    match (info(plain), info(suffixed)) {
        (Some((true, plain_iat)), Some((true, suffixed_iat))) => plain_iat > suffixed_iat,
        (Some((true, _)), Some((false, _)) | None) => true,
        _ => false,
    }
}
