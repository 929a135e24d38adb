//! One decision per request about its session token, on pages and the JSON API alike: Clerk's
//! `authenticateRequest` (`clerk::request_state`), fed from the Rocket request and kept for every
//! guard of the request. A header token is verified as it is; browser cookies follow Clerk's
//! cookie rules (`__client_uat`, the suffixed family, the development browser, the handshake's
//! return), so that a browser signed out in another tab is signed out here too, on every route.
//!
//! A pending session (`sts: "pending"`: the user must still finish a session task) is signed out
//! with reason `session-pending`, as Clerk's `toAuth()` treats it by default
//! (`treatPendingAsSignedOut`); the decision keeps its claims in [`Decided::pending`] for the
//! routes that accept pending sessions (`auth::pending`) and for the pages, which send the user
//! to the task page instead of to sign in.

use std::sync::Arc;

use rocket::http::{Cookie, Method};
use rocket::request::Request;

use super::refresh::{HandshakeCookies, Refresh};
use super::source::{cookie, TokenSource};
use crate::clerk::handshake;
use crate::clerk::org_sync::Target;
use crate::clerk::request_state::{
    self, after_refusal, before_verification, known_clerk_referrer, maybe_handshake,
    refresh_eligibility, AuthStatus, Browser, CookieInstance, Decision, Navigation, Step,
};
use crate::clerk::session_refresh::{self, RefreshRequest};
use crate::clerk::token::{AuthError, Reason, RefreshError, SessionClaims, SessionStatus};
use crate::clerk::Clerk;

/// The request's decision, with what the guards need to act on it.
#[derive(Debug, Clone)]
pub struct Decided {
    pub decision: Decision,
    /// The verified session, when signed in.
    pub session: Option<Arc<SessionClaims>>,
    /// Why not signed in, for the JSON body and the log: the token's own refusal where there was
    /// one (`token-expired`), else Clerk's request reason.
    pub error: Option<AuthError>,
    /// How to refresh, when the decision is a handshake.
    pub refresh: Option<Refresh>,
    /// The verified session of a pending token (signed out, `session-pending`): for the routes
    /// that accept pending sessions, and the pages' way to the task page.
    pub pending: Option<Arc<SessionClaims>>,
}

/// Why a pending session is not served by a route that does not accept one.
pub const PENDING_MESSAGE: &str =
    "the session is pending: the user must finish a session task (such as choosing an \
     organization) first";

impl Decided {
    /// A verified session: signed in when it is active; when pending, signed out for
    /// `session-pending` with the session kept aside (Clerk's `treatPendingAsSignedOut`).
    fn signed_in(session: Arc<SessionClaims>) -> Decided {
        if session.status == SessionStatus::Pending {
            let mut decided = Decided::refused(
                Decision::signed_out(Reason::SessionPending),
                AuthError::new(Reason::SessionPending, PENDING_MESSAGE),
            );
            decided.pending = Some(session);
            return decided;
        }
        Decided {
            decision: Decision::SIGNED_IN,
            session: Some(session),
            error: None,
            refresh: None,
            pending: None,
        }
    }

    fn refused(decision: Decision, error: AuthError) -> Decided {
        Decided {
            decision,
            session: None,
            error: Some(error),
            refresh: None,
            pending: None,
        }
    }

    /// Signed out for `reason`, with Clerk's words for it.
    fn signed_out(decision: Decision) -> Decided {
        let reason = decision.reason.unwrap_or(Reason::SessionTokenMissing);
        Decided::refused(decision, AuthError::new(reason, explain(reason)))
    }

    /// The error a guard answers with when the request is not signed in.
    pub fn error(&self) -> AuthError {
        self.error.clone().unwrap_or_else(|| {
            AuthError::new(
                Reason::SessionTokenMissing,
                explain(Reason::SessionTokenMissing),
            )
        })
    }
}

/// A message for a request reason that no token refusal explains better.
fn explain(reason: Reason) -> &'static str {
    match reason {
        Reason::SessionTokenAndUatMissing | Reason::SessionTokenMissing => {
            "sign in: send Authorization: Bearer <session token> or the __session cookie"
        }
        Reason::SessionTokenButNoClientUat => {
            "the browser's Clerk client is signed out (__client_uat is 0 or absent): sign in again"
        }
        Reason::ClientUatButNoSessionToken => {
            "the browser's Clerk client is signed in but sent no session token: let ClerkJS refresh it"
        }
        Reason::SessionTokenIatBeforeClientUat => {
            "the session token is older than the browser's Clerk client (the session changed): let ClerkJS refresh it"
        }
        Reason::DevBrowserMissing | Reason::DevBrowserSync => {
            "a development instance's browser must be synced with Clerk first (load a page)"
        }
        Reason::PrimaryDomainCrossOriginSync => "the session must be synced with Clerk first",
        Reason::ActiveOrganizationMismatch => {
            "the URL names another organization than the session's: Clerk activates it first"
        }
        _ => "the session token was refused",
    }
}

/// The decision for this request, made once.
pub async fn decide<'r>(request: &'r Request<'_>, clerk: &Clerk) -> &'r Decided {
    request
        .local_cache_async(async {
            let decided = decide_now(request, clerk).await;
            if let Some(actor) = decided.session.as_ref().and_then(|s| s.actor.as_ref()) {
                // The access line names who really acts (their id, never a token).
                crate::observability::record_actor(request, &actor.sub);
            }
            decided
        })
        .await
}

async fn decide_now(request: &Request<'_>, clerk: &Clerk) -> Decided {
    let headers = request.headers();
    let redirect_count = request_redirect_count(request);
    let nav = Navigation::new(
        request.method() == Method::Get,
        headers.get_one("Sec-Fetch-Dest"),
        headers.get_one("Accept"),
        redirect_count,
    );
    let source = match TokenSource::of(request, &clerk.config) {
        Ok(source) => source,
        Err(error) => {
            let decision = Decision::signed_out(error.reason);
            return Decided::refused(decision, error);
        }
    };
    if let TokenSource::Header(token) = source {
        return match clerk.verifier.verify(token).await {
            Ok(session) => Decided::signed_in(session),
            Err(error) => {
                let browser = browser_of(request, clerk, None);
                // Clerk refreshes the cookie's token if there is one, else the header's.
                let expired = browser.session.unwrap_or(token);
                match try_refresh(request, clerk, &error, nav, expired, &browser).await {
                    Ok(session) => Decided::signed_in(session),
                    Err(why) => Decided::refused(after_refusal(&error, nav, true, why), error),
                }
            }
        };
    }
    if clerk.config.local_mode() {
        // Local mode has no Clerk client: its own sign-in sets `__session` only.
        return local_cookie(source, clerk).await;
    }
    let instance = &clerk.config.instance;
    let dev_browser_query = request
        .query_value::<&str>("__clerk_db_jwt")
        .and_then(Result::ok)
        .filter(|v| !v.is_empty() && !instance.production);
    let browser = browser_of(request, clerk, dev_browser_query);
    if let Some(decided) = return_from_handshake(request, clerk, &browser, nav).await {
        return decided;
    }
    let token = match before_verification(&browser, nav, instance.production) {
        Step::Decided(decision) => {
            let decided = if browser.session.is_none() {
                // Clerk's header names the browser's state; the body tells an API client that
                // sent nothing what to send.
                let missing = Reason::SessionTokenMissing;
                Decided::refused(decision, AuthError::new(missing, explain(missing)))
            } else {
                Decided::signed_out(decision)
            };
            return with_refresh(request, clerk, &browser, decided);
        }
        Step::Verify(token) => token,
    };
    let verified = match clerk.verifier.recall(token) {
        Some(kept) => kept,
        None => clerk.verifier.verify(token).await,
    };
    let decided = match verified {
        Ok(session) => {
            if cross_origin_sync(request, clerk, nav) {
                let decision = maybe_handshake(Reason::PrimaryDomainCrossOriginSync, nav);
                if decision.status == AuthStatus::Handshake {
                    return with_refresh(request, clerk, &browser, Decided::signed_out(decision));
                }
            }
            if let Some(decided) = organization_sync(request, clerk, nav, &session) {
                return with_refresh(request, clerk, &browser, decided);
            }
            Decided::signed_in(session)
        }
        Err(error) => match try_refresh(request, clerk, &error, nav, token, &browser).await {
            Ok(session) => Decided::signed_in(session),
            Err(why) => Decided::refused(after_refusal(&error, nav, false, why), error),
        },
    };
    with_refresh(request, clerk, &browser, decided)
}

fn browser_of<'r>(
    request: &'r Request<'_>,
    clerk: &Clerk,
    dev_browser_query: Option<&'r str>,
) -> Browser<'r> {
    let instance = &clerk.config.instance;
    request_state::select(
        &|name: &str| cookie(request, name),
        CookieInstance {
            frontend_api: instance.frontend_api.as_deref(),
            suffix: instance.cookie_suffix.as_deref(),
            production: instance.production,
        },
        dev_browser_query,
        crate::clerk::token::now(),
    )
}

/// Clerk's refresh without a redirect, for an expired token on a GET that carries `__refresh`:
/// the Backend API mints a fresh session token, whose cookies go out with this answer. Else,
/// why not (the end of Clerk's reason `session-token-expired-refresh-…`).
async fn try_refresh(
    request: &Request<'_>,
    clerk: &Clerk,
    error: &AuthError,
    nav: Navigation,
    expired_token: &str,
    browser: &Browser<'_>,
) -> Result<Arc<SessionClaims>, RefreshError> {
    if error.reason != Reason::TokenExpired {
        return Err(RefreshError::NonEligibleNoRefreshCookie);
    }
    let refresh_token = clerk
        .config
        .instance
        .cookie_suffix
        .as_deref()
        .and_then(|sfx| cookie(request, &format!("__refresh_{sfx}")));
    refresh_eligibility(nav, refresh_token.is_some())?;
    let (Some(api), Some(refresh_token)) = (clerk.backend_api.as_ref(), refresh_token) else {
        return Err(RefreshError::FetchError);
    };
    let url = public_url(request, clerk.config.instance.production).unwrap_or_default();
    let origin = reqwest::Url::parse(&url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let headers = request
        .headers()
        .iter()
        .map(|h| (h.name.as_str().to_owned(), h.value.into_owned()))
        .collect();
    let directives = session_refresh::refresh(
        api,
        RefreshRequest {
            expired_token,
            refresh_token,
            origin: &origin,
            headers,
            suffixed: browser.suffixed,
        },
    )
    .await?;
    let token =
        handshake::session_from_directives(&directives).ok_or(RefreshError::InvalidSessionToken)?;
    let session = clerk
        .verifier
        .verify(&token)
        .await
        .map_err(|_| RefreshError::InvalidSessionToken)?;
    let sendable: Vec<String> = directives
        .into_iter()
        .filter(|directive| sendable_directive(directive))
        .collect();
    request.local_cache(|| HandshakeCookies(sendable));
    Ok(session)
}

async fn local_cookie(source: TokenSource<'_>, clerk: &Clerk) -> Decided {
    let TokenSource::Cookie {
        token: Some(token), ..
    } = source
    else {
        return Decided::signed_out(Decision::signed_out(Reason::SessionTokenMissing));
    };
    match clerk.verifier.verify(token).await {
        Ok(session) => Decided::signed_in(session),
        Err(error) => Decided::refused(Decision::signed_out(error.reason), error),
    }
}

/// Clerk's `primary-domain-cross-origin-sync`: a document reached from another site (a satellite
/// domain, perhaps) goes through one handshake, unless it came from Clerk itself.
fn cross_origin_sync(request: &Request<'_>, clerk: &Clerk, nav: Navigation) -> bool {
    let headers = request.headers();
    if !nav.is_get
        || headers.get_one("Sec-Fetch-Dest") != Some("document")
        || nav.redirect_count != 0
    {
        return false;
    }
    let Some(referrer) = headers.get_one("Referer") else {
        return false;
    };
    let Ok(referrer) = reqwest::Url::parse(referrer) else {
        return false;
    };
    let instance = &clerk.config.instance;
    let Some(own) =
        public_url(request, instance.production).and_then(|url| reqwest::Url::parse(&url).ok())
    else {
        return false;
    };
    let referrer_origin = referrer.origin().ascii_serialization();
    if referrer_origin == own.origin().ascii_serialization() {
        return false;
    }
    let host = referrer.host_str().unwrap_or_default();
    let fapi = instance.frontend_api.as_deref().unwrap_or_default();
    !known_clerk_referrer(host, &referrer_origin, fapi, instance.production)
}

/// What the request's path asks to be active (`CLERK_ORGANIZATION_PATTERNS`,
/// `CLERK_PERSONAL_ACCOUNT_PATTERNS`), if anything. The slug `current` is this app's name for the
/// active organization (`/orgs/current`), never one to activate.
fn organization_target(request: &Request<'_>, clerk: &Clerk) -> Option<Target> {
    let sync = &clerk.config.organizations.sync;
    if !sync.is_enabled() {
        return None;
    }
    sync.target(request.uri().path().as_str())
        .filter(|target| !matches!(target, Target::OrganizationSlug(slug) if slug == "current"))
}

/// Clerk's `handleMaybeOrganizationSyncHandshake`: a signed-in document GET whose URL names
/// another organization than the token's active one (or the personal account while one is
/// active) goes through the handshake, whose URL asks the frontend API to activate it. Not when
/// looping (Clerk goes on signed in with the token's organization), not for other requests, and
/// not without a secret key (the interstitial cannot activate an organization).
fn organization_sync(
    request: &Request<'_>,
    clerk: &Clerk,
    nav: Navigation,
    session: &SessionClaims,
) -> Option<Decided> {
    let instance = &clerk.config.instance;
    if clerk.backend_api.is_none()
        || instance.frontend_api.is_none()
        || public_url(request, instance.production).is_none()
    {
        return None;
    }
    let target = organization_target(request, clerk)?;
    let active = session
        .authorization
        .org
        .as_ref()
        .map(|org| (org.id.as_str(), org.slug.as_deref()));
    if !target.must_activate(active) {
        return None;
    }
    if nav.redirect_count >= request_state::MAX_REDIRECTS {
        rocket::warn!(
            "organization activation handshake loop detected ({:?} for {}): going on with the              token's organization",
            target.query_value(),
            request.uri().path()
        );
        return None;
    }
    let decision = maybe_handshake(Reason::ActiveOrganizationMismatch, nav);
    (decision.status == AuthStatus::Handshake).then(|| Decided::signed_out(decision))
}

/// A handshake decision made real: the handshake's URL with a secret key, the interstitial with
/// only a publishable key; with neither, signed out for the same reason.
fn with_refresh(
    request: &Request<'_>,
    clerk: &Clerk,
    browser: &Browser<'_>,
    mut decided: Decided,
) -> Decided {
    if decided.decision.status != AuthStatus::Handshake {
        return decided;
    }
    let reason = decided.decision.reason.unwrap_or(Reason::UnexpectedError);
    let redirect_count = request_redirect_count(request);
    let instance = &clerk.config.instance;
    let refresh = match (
        &instance.frontend_api,
        public_url(request, instance.production),
    ) {
        (Some(frontend_api), Some(url)) if clerk.backend_api.is_some() => {
            let dev_browser = browser.dev_browser.filter(|_| !instance.production);
            // Through the proxy when there is one, as Clerk's SDK does (its `frontendApi` is
            // then the proxy's URL).
            let base = clerk
                .config
                .proxy
                .as_ref()
                .and_then(|proxy| {
                    crate::fapi_proxy::public_url(proxy, request, instance.production)
                })
                .unwrap_or_else(|| format!("https://{frontend_api}"));
            handshake::handshake_url(
                &base,
                &url,
                browser.suffixed,
                reason.code(),
                browser.session,
                dev_browser,
            )
            // As Clerk's SDK does on every handshake: the organization the URL names comes along.
            .map(|location| match organization_target(request, clerk) {
                Some(target) => handshake::with_organization(&location, target.query_value()),
                None => location,
            })
            .map(|location| Refresh::Handshake {
                location,
                redirect_count,
                reason: reason.code(),
            })
        }
        (Some(_), Some(_)) if clerk.config.publishable_key.is_some() => {
            Some(Refresh::Interstitial {
                redirect_count,
                reason: reason.code(),
            })
        }
        _ => None,
    };
    match refresh {
        Some(refresh) => decided.refresh = Some(refresh),
        None => decided.decision = Decision::signed_out(reason),
    }
    decided
}

/// `__clerk_redirect_count`: handshakes in a row so far (anything unreadable is none).
fn request_redirect_count(request: &Request<'_>) -> u32 {
    cookie(request, handshake::REDIRECT_COUNT_COOKIE)
        .and_then(|c| c.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

/// The way back from a handshake: a nonce (query in development, cookie in production) that the
/// Backend API turns into Set-Cookie directives carrying the fresh session token.
///
/// Each look-up is a Backend API call with the secret key, which anyone can ask for by adding a
/// nonce to a URL or a cookie: only a document GET (where a handshake lands) is resolved, only a
/// nonce of a sane shape, the query form only for development instances (production ones set a
/// cookie); only when the browser has a Clerk client (`__client_uat`, which Clerk's frontend API
/// sets with a production nonce and ClerkJS keeps; on a development instance also the dev
/// browser that the handshake carries back, for a browser that never ran ClerkJS) and no
/// session that verifies; at most one per client (`super::client`) per `NONCE_WINDOW`; and the
/// Backend API client remembers failures and spends the browsers' share of the budget only.
async fn return_from_handshake(
    request: &Request<'_>,
    clerk: &Clerk,
    browser: &Browser<'_>,
    nav: Navigation,
) -> Option<Decided> {
    let api = clerk.backend_api.as_ref()?;
    let production = clerk.config.instance.production;
    let from_query = request
        .query_value::<&str>(handshake::NONCE_PARAM)
        .and_then(Result::ok)
        .filter(|_| !production);
    let from_cookie = cookie(request, handshake::NONCE_PARAM);
    let nonce = from_query.or(from_cookie)?;
    if !nav.document {
        return None;
    }
    if from_cookie.is_some() {
        request
            .cookies()
            .remove(Cookie::from(handshake::NONCE_PARAM));
    }
    if !handshake::valid_nonce(nonce) {
        return None;
    }
    let has_client = cookie(request, "__client_uat").is_some()
        || browser.client_uat != 0.0
        || (!production && browser.dev_browser.is_some());
    if !has_client {
        return None;
    }
    if let Some(token) = browser.session {
        let valid = match clerk.verifier.recall(token) {
            Some(kept) => kept.is_ok(),
            None => clerk.verifier.verify(token).await.is_ok(),
        };
        if valid {
            return None;
        }
    }
    let client = super::client::client_ip(request, &clerk.config.trusted_proxies);
    let resolved = api.handshake_payload(nonce, client).await;
    if let (Some(resolved), Some(metrics)) = (
        &resolved,
        request.rocket().state::<crate::observability::Metrics>(),
    ) {
        metrics.count_nonce(resolved);
    }
    let Some(Ok(directives)) = resolved else {
        // Ignored, as Clerk's SDK does: the nonce may belong to a sibling app, or this client
        // had one looked up a moment ago. Not logged (a nonce is a credential, and anyone can
        // send one): counted in the metrics instead.
        return None;
    };
    // Sent as they came, in order (see `HandshakeCookies`): not through the jar, which keeps one
    // cookie per name where Clerk clears the host-only cookie and then sets the domain one.
    let sendable: Vec<String> = directives
        .iter()
        .filter(|directive| sendable_directive(directive))
        .cloned()
        .collect();
    request.local_cache(|| HandshakeCookies(sendable));
    let Some(token) = handshake::session_from_directives(&directives) else {
        return Some(Decided::signed_out(Decision::signed_out(
            Reason::SessionTokenMissing,
        )));
    };
    let session = match clerk.verifier.verify(&token).await {
        Ok(session) => session,
        Err(error) => {
            rocket::warn!("the session token from Clerk's handshake was refused: {error}");
            return Some(Decided::refused(Decision::signed_out(error.reason), error));
        }
    };
    let mut decided = Decided::signed_in(session);
    if !production {
        if let Some(url) = public_url(request, false) {
            decided.refresh = Some(Refresh::Reload {
                location: handshake::without_handshake_params(&url),
            });
        }
    }
    Some(decided)
}

/// A cookie directive that a `Set-Cookie` header can carry as it is: parsable, no control
/// characters (CR/LF would split the header), ASCII only.
fn sendable_directive(directive: &str) -> bool {
    directive
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        && Cookie::parse(directive).is_ok()
}

/// The URL the browser asked for, as the browser sees it (behind a proxy: `X-Forwarded-*`).
pub fn public_url(request: &Request<'_>, production: bool) -> Option<String> {
    public_origin(request, production).map(|origin| format!("{origin}{}", request.uri()))
}

/// This server's origin as the browser sees it (behind a proxy: `X-Forwarded-*`); `None` when
/// a header names something that is not a scheme or a host.
pub fn public_origin(request: &Request<'_>, production: bool) -> Option<String> {
    let headers = request.headers();
    let first = |name: &str| {
        headers
            .get_one(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = crate::forwarded::scheme(request, production)?;
    let host = first("X-Forwarded-Host").or_else(|| first("Host"))?;
    let valid_host = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid_host.then(|| format!("{scheme}://{host}"))
}
