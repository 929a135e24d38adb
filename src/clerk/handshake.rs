//! Clerk's handshake (spec §4): when a browser has a live Clerk client but the request's session
//! token is missing, expired or older than the client, the frontend API mints a fresh one and
//! sends the browser back. Pure functions: deciding, building the URL, reading the answer.

use super::backend_api::CLERK_API_VERSION;

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

/// The loop counter's cookie for an answer that refreshes the session: `count` in a row so far,
/// for `max_age` seconds (Clerk's handshake sets 2; the interstitial needs ClerkJS's load time).
pub fn redirect_count_cookie(count: u32, max_age: u32) -> String {
    format!("{REDIRECT_COUNT_COOKIE}={count}; Path=/; SameSite=Lax; HttpOnly; Max-Age={max_age}")
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
/// `frontend_api` is the Frontend API's URL (`https://clerk.example.com`), or the proxy's.
pub fn handshake_url(
    frontend_api: &str,
    redirect_url: &str,
    suffixed_cookies: bool,
    reason: &str,
    session_token: Option<&str>,
    dev_browser: Option<&str>,
) -> Option<String> {
    // `None` only for a base that is no URL; it is validated at start (the host) or built from
    // a checked origin (the proxy's).
    let mut url = reqwest::Url::parse(&format!(
        "{}/v1/client/handshake",
        frontend_api.trim_end_matches('/')
    ))
    .ok()?;
    let redirect_url = without_params(redirect_url, &["__clerk_db_jwt", "__dev_session"]);
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("redirect_url", &redirect_url)
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
    Some(url.into())
}

/// A handshake URL that also asks the frontend API to activate an organization: Clerk's
/// `organization_id` parameter (an id or a slug; empty for the personal account).
pub fn with_organization(handshake_url: &str, organization_id: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(handshake_url) else {
        return handshake_url.to_owned();
    };
    url.query_pairs_mut()
        .append_pair("organization_id", organization_id);
    url.into()
}

/// `url` without the handshake's own query parameters (other parameters and order kept).
pub fn without_handshake_params(url: &str) -> String {
    without_params(url, &HANDSHAKE_PARAMS)
}

/// `url` without the query parameters `names`. As `URLSearchParams.delete` does, a query that
/// remains is written anew (form-urlencoded), and an empty one is dropped with its `?`.
fn without_params(url: &str, names: &[&str]) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.query().is_none() {
        return parsed.into();
    }
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !names.contains(&k.as_ref()))
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
