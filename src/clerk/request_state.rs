//! Clerk's decision for a request, step by step as `authenticateRequest` of `@clerk/backend` takes
//! it (<https://github.com/clerk/javascript/blob/main/packages/backend/src/tokens/request.ts>,
//! `authenticateContext.ts` beside it): which of the browser's cookies count, when the browser's
//! Clerk client and its session token disagree, and when a verified or refused token means signed
//! in, signed out, or a handshake first. Pure: the web layer reads the request and verifies the
//! token; this module decides. `tests/integration/differential.rs` runs `@clerk/backend` itself
//! over a generated corpus and compares its decisions with these; the README lists where ours are
//! deliberately stricter.

use super::token::{decode_loosely, is_other_class, AuthError, Reason, RefreshError};

/// Clerk's `x-clerk-auth-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStatus {
    SignedIn,
    SignedOut,
    /// The browser must go through Clerk's handshake (or, without a secret key, the interstitial)
    /// before the request can be decided.
    Handshake,
}

impl AuthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStatus::SignedIn => "signed-in",
            AuthStatus::SignedOut => "signed-out",
            AuthStatus::Handshake => "handshake",
        }
    }
}

/// A request's outcome and Clerk's reason for it (`x-clerk-auth-reason`; none when signed in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub status: AuthStatus,
    pub reason: Option<Reason>,
}

impl Decision {
    pub const SIGNED_IN: Decision = Decision {
        status: AuthStatus::SignedIn,
        reason: None,
    };

    pub fn signed_out(reason: Reason) -> Decision {
        Decision {
            status: AuthStatus::SignedOut,
            reason: Some(reason),
        }
    }

    fn handshake(reason: Reason) -> Decision {
        Decision {
            status: AuthStatus::Handshake,
            reason: Some(reason),
        }
    }
}

/// What kind of request this is, as far as a redirect is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Navigation {
    pub is_get: bool,
    /// A GET for a document: `Sec-Fetch-Dest: document`/`iframe`, or no `Sec-Fetch-Dest` and an
    /// `Accept` that starts with `text/html` (Clerk's `isRequestEligibleForHandshake`).
    pub document: bool,
    /// `__clerk_redirect_count`: handshakes in a row so far.
    pub redirect_count: u32,
}

impl Navigation {
    pub fn new(
        is_get: bool,
        sec_fetch_dest: Option<&str>,
        accept: Option<&str>,
        redirect_count: u32,
    ) -> Self {
        let document = is_get
            && match sec_fetch_dest {
                Some(dest) => dest == "document" || dest == "iframe",
                None => accept.is_some_and(|a| a.starts_with("text/html")),
            };
        Navigation {
            is_get,
            document,
            redirect_count,
        }
    }
}

/// After this many handshakes in a row the request is decided as signed out (Clerk stops at
/// exactly 3; we stop at 3 or more, so that a forged counter cannot restart the loop).
pub const MAX_REDIRECTS: u32 = 3;

/// The browser's Clerk state, from its cookies and the URL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Browser<'a> {
    /// The session token cookie that counts (see [`select`]).
    pub session: Option<&'a str>,
    /// Whether the suffixed family of cookies counts (`suffixed_cookies` of the handshake).
    pub suffixed: bool,
    /// `__client_uat` of that family, read as JavaScript's `parseInt(…) || 0` reads it.
    pub client_uat: f64,
    /// `__refresh_<suffix>` is there (Clerk reads the suffixed one only).
    pub refresh: bool,
    /// The development browser token, from the URL or else its cookie.
    pub dev_browser: Option<&'a str>,
    /// `__clerk_db_jwt` is in the URL (Clerk's `dev-browser-sync`).
    pub dev_browser_in_query: bool,
}

/// The cookies of one request, by name (the first of a repeated name wins).
pub trait CookieJar<'a> {
    fn get(&self, name: &str) -> Option<&'a str>;
}

impl<'a, F: Fn(&str) -> Option<&'a str>> CookieJar<'a> for F {
    fn get(&self, name: &str) -> Option<&'a str> {
        self(name)
    }
}

/// The instance as far as cookies are concerned.
#[derive(Debug, Clone, Copy)]
pub struct CookieInstance<'a> {
    /// The frontend API host that the publishable key names.
    pub frontend_api: Option<&'a str>,
    pub suffix: Option<&'a str>,
    pub production: bool,
}

/// Reads the browser's state from its cookies with Clerk's rules for the unsuffixed and suffixed
/// families (`usesSuffixedCookies`): an unsuffixed `__session` from another instance (a second
/// app on `localhost`, a sibling product on the same site) sends Clerk to the suffixed family,
/// which then may well be empty.
pub fn select<'a>(
    cookies: &impl CookieJar<'a>,
    instance: CookieInstance<'_>,
    dev_browser_query: Option<&'a str>,
    now: i64,
) -> Browser<'a> {
    let suffixed_name = |name: &str| instance.suffix.map(|sfx| format!("{name}_{sfx}"));
    let get_suffixed = |name: &str| suffixed_name(name).and_then(|n| cookies.get(&n));
    let suffixed = uses_suffixed(
        cookies.get("__session"),
        get_suffixed("__session"),
        cookies.get("__client_uat"),
        get_suffixed("__client_uat"),
        instance,
        now,
    );
    let family = |name: &str| {
        if suffixed {
            get_suffixed(name)
        } else {
            cookies.get(name)
        }
    };
    Browser {
        session: family("__session"),
        suffixed,
        client_uat: js_parse_int(&percent_decoded(family("__client_uat").unwrap_or_default())),
        refresh: get_suffixed("__refresh").is_some(),
        dev_browser: dev_browser_query.or_else(|| family("__clerk_db_jwt")),
        dev_browser_in_query: dev_browser_query.is_some(),
    }
}

/// `usesSuffixedCookies`: the first rule that applies decides.
fn uses_suffixed(
    session: Option<&str>,
    suffixed_session: Option<&str>,
    client_uat: Option<&str>,
    suffixed_client_uat: Option<&str>,
    instance: CookieInstance<'_>,
    now: i64,
) -> bool {
    if instance.suffix.is_none() || instance.frontend_api.is_none() {
        // No publishable key: no suffixed family to choose (Clerk's SDK requires one).
        return false;
    }
    // Clerk's `decodeJwt`: a token that is not three decodable parts has no claims at all.
    let payload = |token: Option<&str>| token.and_then(decode_loosely).map(|(_, claims)| claims);
    let session_claims = payload(session);
    if let Some(_token) = session {
        let issuer = session_claims
            .as_ref()
            .and_then(|c| c.get("iss"))
            .filter(|iss| js_truthy(iss));
        let Some(issuer) = issuer else {
            return false;
        };
        let ours = issuer.as_str().is_some_and(|iss| {
            Some(strip_scheme(iss).as_str()) == instance.frontend_api.map(str::to_owned).as_deref()
        });
        if !ours {
            return true;
        }
    }
    if suffixed_client_uat.is_none() && suffixed_session.is_none() {
        return false;
    }
    let iat = |claims: &Option<serde_json::Map<String, serde_json::Value>>| {
        claims
            .as_ref()
            .and_then(|c| c.get("iat"))
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    let suffixed_claims = payload(suffixed_session);
    let not_zero = |v: Option<&str>| v != Some("0");
    if not_zero(suffixed_client_uat)
        && not_zero(client_uat)
        && iat(&session_claims) > iat(&suffixed_claims)
    {
        return false;
    }
    if suffixed_client_uat == Some("0") && not_zero(client_uat) {
        return false;
    }
    if !instance.production {
        #[allow(clippy::cast_precision_loss)] // unix seconds fit an f64 exactly
        let expired = suffixed_claims.as_ref().is_some_and(|c| {
            c.get("exp")
                .and_then(serde_json::Value::as_f64)
                .is_some_and(|exp| exp <= now as f64)
        });
        if not_zero(suffixed_client_uat) && client_uat == Some("0") && expired {
            return false;
        }
    }
    if suffixed_client_uat.is_none() && suffixed_session.is_some() {
        return false;
    }
    true
}

/// Clerk compares the issuer without its scheme (`iss.replace(/https?:\/\//gi, '')`).
fn strip_scheme(iss: &str) -> String {
    let mut out = String::with_capacity(iss.len());
    let mut rest = iss;
    while !rest.is_empty() {
        let lower = rest.get(..8).map(str::to_ascii_lowercase);
        let lower7 = rest.get(..7).map(str::to_ascii_lowercase);
        if lower.as_deref() == Some("https://") {
            rest = &rest[8..];
        } else if lower7.as_deref() == Some("http://") {
            rest = &rest[7..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// JavaScript's truthiness of a JSON value (`!!payload.iss`).
fn js_truthy(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        serde_json::Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// A cookie value as Clerk's cookie parser reads it: percent-decoded when it holds a `%` and
/// decodes to UTF-8, else as it is.
fn percent_decoded(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains('%') {
        return std::borrow::Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                #[allow(clippy::cast_possible_truncation)] // two hex digits
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            // decodeURIComponent throws on a lone `%`: the parser then keeps the value.
            (b'%', _, _) => return std::borrow::Cow::Borrowed(value),
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_or(std::borrow::Cow::Borrowed(value), std::borrow::Cow::Owned)
}

/// `Number.parseInt(text) || 0`: leading white space, a sign, then decimal digits (or hex after
/// `0x`) up to the first other character; nothing readable is 0.
pub fn js_parse_int(text: &str) -> f64 {
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        _ => (10, text),
    };
    let mut value = 0.0_f64;
    let mut any = false;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        value = value * f64::from(radix) + f64::from(d);
        any = true;
    }
    if !any {
        return 0.0;
    }
    if negative {
        -value
    } else {
        value
    }
}

/// The cookie path before the token is verified: decided already, or verify this token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    Decided(Decision),
    Verify(&'a str),
}

/// Steps 4 to 10 of Clerk's cookie path (after the handshake's return and the satellite syncs,
/// which the web layer handles): the development browser, then `__client_uat` against the
/// session cookie, then the token's class and its `iat` against `__client_uat`.
pub fn before_verification<'a>(
    browser: &Browser<'a>,
    nav: Navigation,
    production: bool,
) -> Step<'a> {
    let handshake = |reason| Step::Decided(maybe_handshake(reason, nav));
    if !production && browser.dev_browser_in_query {
        return handshake(Reason::DevBrowserSync);
    }
    if !production && browser.dev_browser.is_none() {
        return handshake(Reason::DevBrowserMissing);
    }
    let active_client = browser.client_uat != 0.0 && !browser.client_uat.is_nan();
    let Some(token) = browser.session else {
        return if active_client {
            handshake(Reason::ClientUatButNoSessionToken)
        } else {
            Step::Decided(Decision::signed_out(Reason::SessionTokenAndUatMissing))
        };
    };
    if !active_client {
        return handshake(Reason::SessionTokenButNoClientUat);
    }
    let Some((header, claims)) = decode_loosely(token) else {
        return Step::Decided(Decision::signed_out(Reason::TokenInvalid));
    };
    if is_other_class(&header, &claims) {
        return Step::Decided(Decision::signed_out(Reason::TokenTypeMismatch));
    }
    let iat = claims.get("iat").and_then(serde_json::Value::as_f64);
    if iat.is_some_and(|iat| iat < browser.client_uat) {
        return handshake(Reason::SessionTokenIatBeforeClientUat);
    }
    Step::Verify(token)
}

/// Whether Clerk refreshes an expired token through the Backend API (`isRequestEligibleForRefresh`):
/// a GET that carries `__refresh`. Otherwise, why not.
pub fn refresh_eligibility(nav: Navigation, refresh_cookie: bool) -> Result<(), RefreshError> {
    if !nav.is_get {
        Err(RefreshError::NonEligibleNonGet)
    } else if !refresh_cookie {
        Err(RefreshError::NonEligibleNoRefreshCookie)
    } else {
        Ok(())
    }
}

/// The decision for a token that did not verify (`handleSessionTokenError`): an expired token
/// (whose refresh failed for `refresh`), or one whose `nbf`/`iat` is ahead of the clock, may be
/// cured by a handshake; every other refusal is final. `header` tokens are never redirected (an
/// API client cannot follow Clerk's handshake).
pub fn after_refusal(
    error: &AuthError,
    nav: Navigation,
    header: bool,
    refresh: RefreshError,
) -> Decision {
    let reason = match error.reason {
        Reason::TokenExpired => Reason::SessionTokenExpired(refresh),
        Reason::TokenNotActiveYet => Reason::SessionTokenNbf,
        Reason::TokenIatInTheFuture => Reason::SessionTokenIatInTheFuture,
        other => return Decision::signed_out(other),
    };
    if header {
        Decision::signed_out(reason)
    } else {
        maybe_handshake(reason, nav)
    }
}

/// `handleMaybeHandshakeStatus`: a handshake for a document GET that is not looping, else
/// signed out for the same reason.
pub fn maybe_handshake(reason: Reason, nav: Navigation) -> Decision {
    if nav.document && nav.redirect_count < MAX_REDIRECTS {
        Decision::handshake(reason)
    } else {
        Decision::signed_out(reason)
    }
}

/// Clerk's hosts that may send a browser to the primary domain without a sync: the frontend API,
/// its Account Portal (`accounts.<domain>`), and on development instances the development
/// Account Portals (`isKnownClerkReferrer`).
pub fn known_clerk_referrer(
    referrer_host: &str,
    referrer_origin: &str,
    frontend_api: &str,
    production: bool,
) -> bool {
    if referrer_host == frontend_api {
        return true;
    }
    if !production {
        let legacy = [".lcl.dev", ".lclstage.dev", ".lclclerk.com"]
            .iter()
            .any(|s| referrer_host.starts_with("accounts.") && referrer_host.ends_with(s));
        let current = [
            ".accounts.dev",
            ".accountsstage.dev",
            ".accounts.lclclerk.com",
        ]
        .iter()
        .any(|s| referrer_host.ends_with(s) && !referrer_host.ends_with(&format!(".clerk{s}")));
        if legacy || current {
            return true;
        }
    }
    referrer_origin == accounts_origin(frontend_api)
}

/// `buildAccountsBaseUrl`: the Account Portal's origin for a frontend API host.
fn accounts_origin(frontend_api: &str) -> String {
    let host = if let Some(i) = frontend_api.find("clerk.accountsstage.") {
        format!(
            "{}accountsstage.{}",
            &frontend_api[..i],
            &frontend_api[i + 20..]
        )
    } else if let Some(i) = frontend_api.find("clerk.accounts.") {
        format!("{}accounts.{}", &frontend_api[..i], &frontend_api[i + 15..])
    } else if let Some(i) = frontend_api.find("clerk.") {
        format!("{}accounts.{}", &frontend_api[..i], &frontend_api[i + 6..])
    } else {
        frontend_api.to_owned()
    };
    format!("https://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_reads_as_javascript_does() {
        for (text, expected) in [
            ("1700000000", 1_700_000_000.0),
            ("  42abc", 42.0),
            ("-5", -5.0),
            ("+7", 7.0),
            ("0x10", 16.0),
            ("abc", 0.0),
            ("", 0.0),
            ("1e3", 1.0),
            ("12.9", 12.0),
        ] {
            assert!(
                (js_parse_int(text) - expected).abs() < f64::EPSILON,
                "{text}"
            );
        }
    }

    #[test]
    fn the_account_portal_is_derived_as_clerk_derives_it() {
        assert_eq!(
            accounts_origin("clerk.example.com"),
            "https://accounts.example.com"
        );
        assert_eq!(
            accounts_origin("happy-hippo-1.clerk.accounts.dev"),
            "https://happy-hippo-1.accounts.dev"
        );
        assert!(known_clerk_referrer(
            "happy-hippo-1.accounts.dev",
            "https://happy-hippo-1.accounts.dev",
            "happy-hippo-1.clerk.accounts.dev",
            false
        ));
        assert!(!known_clerk_referrer(
            "evil.example",
            "https://evil.example",
            "clerk.example.com",
            true
        ));
    }

    #[test]
    fn schemes_are_stripped_anywhere_in_the_issuer() {
        assert_eq!(
            strip_scheme("https://clerk.example.com"),
            "clerk.example.com"
        );
        assert_eq!(strip_scheme("HTTP://a.b"), "a.b");
        assert_eq!(strip_scheme("x-https://y"), "x-y");
    }
}
