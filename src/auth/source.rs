//! Where a request's session token comes from, read once for every guard: the
//! `Authorization: Bearer` header first, else the `__session` cookie (or its suffixed twin) with
//! the `__client_uat` cookie of the same family. A header token never falls back to a cookie.
//!
//! Both are read strictly: exactly one `Authorization` header, `Bearer` (any case), one space,
//! then token characters only; cookies from the raw `Cookie` headers, where the first occurrence
//! of a name wins (RFC 6265 order and Clerk's spec; Rocket's jar keeps the last).

use rocket::http::Method;
use rocket::request::Request;

use crate::clerk::request_state::{self, Browser, CookieInstance};
use crate::clerk::token::{AuthError, Reason};
use crate::config::ClerkConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Header,
    Cookie,
}

/// A request's session token and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenSource<'r> {
    /// `Authorization: Bearer <token>`: an API client, with no browser session to refresh.
    Header(&'r str),
    /// The browser's cookies, chosen by Clerk's rules (`clerk::request_state::select`): the
    /// session token (if any), whether it is the suffixed family, and `__client_uat` of that
    /// family (unix seconds of the client's last change; 0 = signed out or absent).
    Cookie {
        token: Option<&'r str>,
        suffixed: bool,
        client_uat: f64,
    },
}

impl<'r> TokenSource<'r> {
    /// Reads the request's token source; a malformed or repeated `Authorization` header is an
    /// error, never skipped in favour of a cookie.
    pub fn of(request: &'r Request<'_>, config: &ClerkConfig) -> Result<Self, AuthError> {
        if let Some(token) = bearer_token(request)? {
            return Ok(TokenSource::Header(token));
        }
        let browser = browser(request, config);
        if browser.session.is_some()
            && is_write(request.method())
            && !allowed_origin(request, config)
        {
            // A browser attaches cookies to cross-site form posts and fetches: a write signed in
            // by cookie must come from a page of ours.
            return Err(AuthError::new(
                Reason::OriginNotAllowed,
                "a write signed in by cookie must come from an allowed origin (the Origin header \
                 is another site's, or absent); API clients send Authorization: Bearer instead",
            ));
        }
        Ok(TokenSource::Cookie {
            token: browser.session,
            suffixed: browser.suffixed,
            client_uat: browser.client_uat,
        })
    }

    /// The token and its carrier; an error when there is none.
    pub fn token(self) -> Result<(&'r str, Carrier), AuthError> {
        match self {
            TokenSource::Header(token) => Ok((token, Carrier::Header)),
            TokenSource::Cookie {
                token: Some(token), ..
            } => Ok((token, Carrier::Cookie)),
            TokenSource::Cookie { token: None, .. } => Err(AuthError::new(
                Reason::SessionTokenMissing,
                "sign in: send Authorization: Bearer <session token> or the __session cookie",
            )),
        }
    }
}

/// One of RFC 6750's b64token characters (before the trailing `=`). Comparisons only, no table
/// and no early exit, so that the check of a whole token compiles to vector code: every byte of
/// every token is checked on every request, and the byte loop showed in `perf`.
#[allow(clippy::inline_always)] // the caller's loop is vectorised only with this inlined
#[allow(clippy::needless_bitwise_bool)] // `|`, not `||`: no branch per byte
#[inline(always)]
fn is_b64token_char(b: u8) -> bool {
    let lower = b | 0x20; // ASCII letters to lower case; no other b64token character moves in
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// Whether every byte of `body` is a b64token character.
fn all_b64token_chars(body: &[u8]) -> bool {
    body.iter().fold(true, |ok, &b| ok & is_b64token_char(b))
}

/// The Bearer token, when the request has one. Other schemes (Basic, …) are not ours: the
/// cookie may still sign the request in. A Bearer header that is not exactly
/// `Bearer <token>`, or a second `Authorization` header, is refused.
fn bearer_token<'r>(request: &'r Request<'_>) -> Result<Option<&'r str>, AuthError> {
    let mut values = request.headers().get("Authorization");
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed = |message: &str| Err(AuthError::new(Reason::TokenInvalid, message));
    if values.next().is_some() {
        return malformed("the request has more than one Authorization header");
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return malformed("the Authorization header is not `<scheme> <credentials>`");
        }
        return Ok(None);
    }
    if rest.trim().is_empty() {
        return malformed("the Authorization header has an empty Bearer token");
    }
    // RFC 6750's b64token: one space, then these characters only, `=` at the end.
    let body = rest.trim_end_matches('=');
    let token_chars = !body.is_empty() && all_b64token_chars(body.as_bytes());
    if !token_chars {
        return malformed(
            "the Authorization header is not `Bearer <token>` (one space, token characters only)",
        );
    }
    Ok(Some(rest))
}

/// The first value of the cookie `name` in the raw `Cookie` headers, as it is (Clerk's parser
/// keeps double quotes too); empty counts as absent.
pub fn cookie<'r>(request: &'r Request<'_>, name: &str) -> Option<&'r str> {
    let headers = request.headers();
    if !headers.contains("Cookie") {
        // NOTE: Rocket's local test client fills only the jar, never the raw header.
        return request
            .cookies()
            .get(name)
            .map(rocket::http::Cookie::value)
            .filter(|v| !v.is_empty());
    }
    headers
        .get("Cookie")
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The browser's Clerk cookies, chosen by Clerk's rules.
fn browser<'r>(request: &'r Request<'_>, config: &ClerkConfig) -> Browser<'r> {
    let instance = &config.instance;
    request_state::select(
        &|name: &str| cookie(request, name),
        CookieInstance {
            frontend_api: instance.frontend_api.as_deref(),
            suffix: instance.cookie_suffix.as_deref(),
            production: instance.production,
        },
        None,
        crate::clerk::token::now(),
    )
}

fn is_write(method: Method) -> bool {
    matches!(
        method,
        Method::Post | Method::Put | Method::Patch | Method::Delete
    )
}

/// The origin a browser says the request comes from: `Origin`, else the origin of `Referer`.
/// `None` when neither is there (not a browser, or a browser that sends neither).
pub fn request_origin(request: &Request<'_>) -> Option<String> {
    let headers = request.headers();
    if let Some(origin) = headers.get_one("Origin") {
        return Some(origin.trim().to_owned());
    }
    let referer = headers.get_one("Referer")?;
    Some(match reqwest::Url::parse(referer.trim()) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => "null".to_owned(),
    })
}

/// Whether `origin` (`scheme://host[:port]`) names this app as the request reached it: its
/// scheme is the one the browser used (`crate::forwarded::scheme`: a page served over `http`
/// is not this app's `https` origin), and its host and port are those of `Host` (or
/// `X-Forwarded-Host` behind a proxy).
pub fn is_own_origin(request: &Request<'_>, origin: &str, production: bool) -> bool {
    let Ok(url) = reqwest::Url::parse(origin) else {
        return false;
    };
    if crate::forwarded::scheme(request, production) != Some(url.scheme()) {
        return false;
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
        return false;
    }
    let with_port = format!("{host}:{port}");
    let headers = request.headers();
    ["X-Forwarded-Host", "Host"]
        .iter()
        .filter_map(|name| headers.get_one(name))
        .map(|value| value.split(',').next().unwrap_or_default().trim())
        .any(|authority| {
            authority.eq_ignore_ascii_case(&with_port)
                || (url.port().is_none() && authority.eq_ignore_ascii_case(host))
        })
}

/// `Origin` (or `Referer`) is one of `CLERK_AUTHORIZED_PARTIES` or this app's own origin.
pub fn allowed_origin(request: &Request<'_>, config: &ClerkConfig) -> bool {
    request_origin(request).is_some_and(|origin| {
        config.authorized_parties.contains(&origin)
            || is_own_origin(request, &origin, config.instance.production)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_characters_are_rfc_6750s_exactly() {
        for b in 0..=u8::MAX {
            let expected =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_char(b), expected, "byte {b:#04x}");
            assert_eq!(
                all_b64token_chars(&[b'a', b, b'Z']),
                expected,
                "byte {b:#04x}"
            );
        }
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln-_~+/";
        assert!(all_b64token_chars(token.as_bytes()));
        assert!(!all_b64token_chars(format!("{token} ").as_bytes()));
        assert!(!all_b64token_chars(format!("{token}\u{e9}").as_bytes()));
    }
}
