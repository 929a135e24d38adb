//! Clerk's handshake (spec §4): when a browser has a live Clerk client but the request's session
//! token is missing, expired or older than the client, the frontend API mints a fresh one and
//! sends the browser back. Pure functions: deciding, building the URL, reading the answer.

use super::backend_api::CLERK_API_VERSION;
use super::token::{unverified_claims, AuthError, Reason};

/// After this many handshakes in a row the browser is treated as signed out (spec §4).
pub const MAX_REDIRECTS: u32 = 3;
pub const REDIRECT_COUNT_COOKIE: &str = "__clerk_redirect_count";
pub const NONCE_PARAM: &str = "__clerk_handshake_nonce";
/// Query parameters that belong to the handshake and are removed from the URL afterwards.
pub const HANDSHAKE_PARAMS: [&str; 5] = [
    "__clerk_handshake",
    "__clerk_handshake_nonce",
    "__clerk_help",
    "__clerk_db_jwt",
    "__dev_session",
];

/// What the cookies of a page request say, before the token is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieState {
    /// No client and no token: a signed-out browser.
    SignedOut,
    /// Verify the token as it is.
    Verify,
    /// The browser's Clerk client is live but the token cannot be used: refresh it.
    Refresh(&'static str),
}

/// The cookie path of Clerk's state machine, steps 6–10 (spec §4). `client_uat` is the
/// `__client_uat` cookie (unix seconds, 0 = signed out, `None` = absent).
pub fn cookie_state(session: Option<&str>, client_uat: Option<i64>) -> CookieState {
    cookie_state_with(session, client_uat, |token| {
        unverified_claims(token).and_then(|c| c.get("iat").and_then(serde_json::Value::as_i64))
    })
}

/// [`cookie_state`], reading a token's `iat` with `issued_at` (which may know it already).
pub fn cookie_state_with(
    session: Option<&str>,
    client_uat: Option<i64>,
    issued_at: impl FnOnce(&str) -> Option<i64>,
) -> CookieState {
    let live_client = client_uat.unwrap_or(0) > 0;
    match (session, live_client) {
        (None, false) => CookieState::SignedOut,
        (Some(_), false) => CookieState::Refresh("session-token-but-no-client-uat"),
        (None, true) => CookieState::Refresh("client-uat-but-no-session-token"),
        (Some(token), true) => match (issued_at(token), client_uat) {
            (Some(iat), Some(uat)) if iat < uat => {
                CookieState::Refresh("session-token-iat-before-client-uat")
            }
            _ => CookieState::Verify,
        },
    }
}

/// Which verification failures a refresh can cure (spec §4, `handleSessionTokenError`).
pub fn refreshable(error: &AuthError) -> Option<&'static str> {
    match error.reason {
        Reason::TokenExpired => Some("session-token-expired"),
        Reason::TokenNotActiveYet => Some("session-token-nbf"),
        Reason::TokenIatInTheFuture => Some("session-token-iat-in-the-future"),
        _ => None,
    }
}

/// Whether a request may be redirected: a GET for a document (never fetch/XHR or a POST).
pub fn eligible(method_is_get: bool, sec_fetch_dest: Option<&str>, accept: Option<&str>) -> bool {
    method_is_get
        && match sec_fetch_dest {
            Some(dest) => dest == "document" || dest == "iframe",
            None => accept.is_some_and(|a| a.starts_with("text/html")),
        }
}

/// The longest handshake nonce looked up; Clerk's are far shorter.
pub const MAX_NONCE_LEN: usize = 128;

/// Whether `nonce` looks like one Clerk issued: 1 to [`MAX_NONCE_LEN`] URL-safe characters.
/// Anything else is never sent to the Backend API.
pub fn valid_nonce(nonce: &str) -> bool {
    (1..=MAX_NONCE_LEN).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The frontend API URL that starts a handshake, with the spec's parameters in the spec's order.
pub fn handshake_url(
    frontend_api: &str,
    redirect_url: &str,
    suffixed_cookies: bool,
    reason: &str,
    session_token: Option<&str>,
    dev_browser: Option<&str>,
) -> String {
    let mut url = reqwest::Url::parse(&format!("https://{frontend_api}/v1/client/handshake"))
        .expect("the frontend API host was validated at start");
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("redirect_url", redirect_url)
            .append_pair("__clerk_api_version", CLERK_API_VERSION)
            .append_pair(
                "suffixed_cookies",
                if suffixed_cookies { "true" } else { "false" },
            )
            .append_pair("__clerk_hs_reason", reason)
            .append_pair("format", "nonce");
        if let Some(token) = session_token {
            query.append_pair("__session", token);
        }
        if let Some(dev_browser) = dev_browser {
            query.append_pair("__clerk_db_jwt", dev_browser);
        }
    }
    url.into()
}

/// `url` without the handshake's own query parameters (other parameters and order kept).
pub fn without_handshake_params(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_owned();
    };
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !HANDSHAKE_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.into()
}

/// The session token among the Set-Cookie directives of a handshake payload: the value of the
/// last `__session*` cookie, if it is not being cleared.
pub fn session_from_directives(directives: &[String]) -> Option<String> {
    directives
        .iter()
        .rev()
        .filter_map(|d| cookie::Cookie::parse(d.as_str()).ok())
        .find(|c| c.name() == "__session" || c.name().starts_with("__session_"))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_states_follow_the_spec() {
        assert_eq!(cookie_state(None, None), CookieState::SignedOut);
        assert_eq!(cookie_state(None, Some(0)), CookieState::SignedOut);
        assert_eq!(
            cookie_state(Some("x"), None),
            CookieState::Refresh("session-token-but-no-client-uat")
        );
        assert_eq!(
            cookie_state(None, Some(5)),
            CookieState::Refresh("client-uat-but-no-session-token")
        );
    }

    #[test]
    fn only_document_gets_are_eligible() {
        assert!(eligible(true, Some("document"), None));
        assert!(eligible(
            true,
            None,
            Some("text/html,application/xhtml+xml")
        ));
        assert!(!eligible(false, Some("document"), None));
        assert!(!eligible(true, Some("empty"), Some("text/html")));
        assert!(!eligible(true, None, Some("application/json")));
    }

    #[test]
    fn only_nonces_of_a_sane_shape_are_looked_up() {
        for ok in ["nonce-1", "2Zk1Fv_aB.c", &"n".repeat(MAX_NONCE_LEN)] {
            assert!(valid_nonce(ok), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "a%2Fb",
            "a\nb",
            "<x>",
            "é",
            &"n".repeat(MAX_NONCE_LEN + 1),
        ] {
            assert!(!valid_nonce(bad), "{bad:?}");
        }
    }

    #[test]
    fn handshake_params_are_removed_and_others_kept() {
        assert_eq!(
            without_handshake_params(
                "https://app.test/p?a=1&__clerk_handshake_nonce=n&b=%20x#frag"
            ),
            "https://app.test/p?a=1&b=+x#frag"
        );
        assert_eq!(
            without_handshake_params("https://app.test/p?__clerk_handshake_nonce=n"),
            "https://app.test/p"
        );
    }

    #[test]
    fn the_last_session_directive_wins() {
        let directives = vec![
            "__session=; Max-Age=0; Path=/".to_string(),
            "__client_uat=1700000000; Path=/".to_string(),
            "__session=new.token.value; Path=/; SameSite=Lax".to_string(),
        ];
        assert_eq!(
            session_from_directives(&directives).as_deref(),
            Some("new.token.value")
        );
        assert_eq!(session_from_directives(&directives[..2]), None);
    }
}
