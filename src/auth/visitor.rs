//! Who is asking for a page, with Clerk's cookie state machine (spec §4) so that a browser with a
//! live Clerk session is never shown as signed out: an expired or stale `__session` cookie is
//! refreshed through Clerk's handshake (with a secret key) or an interstitial page (without).

use std::sync::Arc;

use rocket::http::{Cookie, Method};
use rocket::request::{self, FromRequest, Request};
use rocket::State;

use super::guards::CurrentUser;
use super::source::{cookie, TokenSource};
use super::user;
use crate::clerk::handshake::{self, CookieState};
use crate::clerk::token::{SessionClaims, Verifier};
use crate::clerk::Clerk;
use crate::error::ApiError;
use crate::observability::{record_auth, AuthOutcome};

/// A page request's visitor, and the path they asked for (for redirects back).
#[derive(Debug)]
pub struct Visitor {
    pub state: VisitorState,
    /// The requested path and query, as received.
    pub path: String,
}

#[derive(Debug)]
pub enum VisitorState {
    SignedIn(Box<CurrentUser>),
    SignedOut,
    /// Signed in at Clerk, but this request's token must be refreshed first.
    Refresh(Refresh),
    /// The token verified but the user cannot be served (no email, Clerk unreachable…).
    Refused(ApiError),
}

impl VisitorState {
    /// How the request log and Clerk's headers describe this visitor.
    fn outcome(&self) -> AuthOutcome {
        match self {
            VisitorState::SignedIn(_) => AuthOutcome {
                status: "signed-in",
                reason: None,
            },
            VisitorState::SignedOut => AuthOutcome {
                status: "signed-out",
                reason: None,
            },
            VisitorState::Refresh(
                Refresh::Handshake { reason, .. } | Refresh::Interstitial { reason, .. },
            ) => AuthOutcome {
                status: "handshake",
                reason: Some(reason),
            },
            VisitorState::Refresh(Refresh::Reload { .. }) => AuthOutcome {
                status: "handshake",
                reason: None,
            },
            VisitorState::Refused(error) => AuthOutcome {
                status: "signed-out",
                reason: Some(error.code()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// 307 to the frontend API's handshake; `redirect_count` is the loop counter so far.
    Handshake {
        location: String,
        redirect_count: u32,
        reason: &'static str,
    },
    /// No secret key: a page that lets ClerkJS refresh the cookie, then reloads.
    Interstitial {
        redirect_count: u32,
        reason: &'static str,
    },
    /// A development instance's handshake came back: reload without its query parameters.
    Reload { location: String },
}

/// Why a page cannot be shown as asked; pages turn it into their answer.
#[derive(Debug)]
pub enum Denied {
    /// Signed out: send them to sign in, then back to `return_to`.
    SignIn { return_to: String },
    /// Signed in at Clerk but this request's token needs refreshing first.
    Refresh(Refresh),
    /// Signed in, without the right.
    Forbidden,
    /// The session verified but the request cannot be served.
    Refused(ApiError),
}

impl Visitor {
    /// The signed-in user, or why not (sign in, refresh first, or refused).
    pub fn require(self) -> Result<CurrentUser, Denied> {
        match self.state {
            VisitorState::SignedIn(user) => Ok(*user),
            VisitorState::SignedOut => Err(Denied::SignIn {
                return_to: self.path,
            }),
            VisitorState::Refresh(refresh) => Err(Denied::Refresh(refresh)),
            VisitorState::Refused(error) => Err(Denied::Refused(error)),
        }
    }

    /// The signed-in administrator, or why not.
    pub fn require_admin(self, clerk: &Clerk) -> Result<CurrentUser, Denied> {
        let current = self.require()?;
        if current.is_admin(clerk) {
            Ok(current)
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// The signed-in user if any; a refresh still happens first, so that nobody sees a false
    /// signed-out page.
    pub fn optional(self) -> Result<Option<CurrentUser>, Denied> {
        match self.state {
            VisitorState::SignedIn(user) => Ok(Some(*user)),
            VisitorState::SignedOut | VisitorState::Refused(_) => Ok(None),
            VisitorState::Refresh(refresh) => Err(Denied::Refresh(refresh)),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let path = request.uri().to_string();
        let state = match request.guard::<&State<Clerk>>().await.succeeded() {
            Some(clerk) => visit(request, clerk).await,
            None => VisitorState::Refused(ApiError::Internal("Clerk state is not managed".into())),
        };
        record_auth(request, state.outcome());
        request::Outcome::Success(Visitor { state, path })
    }
}

async fn visit(request: &Request<'_>, clerk: &Clerk) -> VisitorState {
    // Header tokens (API clients) and local mode have no browser session to refresh.
    let (token, suffixed, client_uat) = match TokenSource::of(request, &clerk.config) {
        Ok(TokenSource::Cookie {
            token,
            suffixed,
            client_uat,
        }) if !clerk.config.local_mode() => (token, suffixed, client_uat),
        _ => {
            return match request.guard::<CurrentUser>().await {
                request::Outcome::Success(user) => VisitorState::SignedIn(Box::new(user)),
                // A valid token whose user cannot be served is explained, not sent to sign in.
                _ => match ApiError::recorded(request) {
                    Some(error) if !error.is_token_problem() => VisitorState::Refused(error),
                    _ => VisitorState::SignedOut,
                },
            };
        }
    };
    if let Some(state) = return_from_handshake(request, clerk).await {
        return state;
    }
    let kept = token.and_then(|t| clerk.verifier.recall(t));
    let issued_at = |t: &str| match &kept {
        Some(Ok(claims)) => claims.issued_at,
        _ => Verifier::unverified_issued_at(t),
    };
    match handshake::cookie_state_with(token, client_uat, issued_at) {
        CookieState::SignedOut => VisitorState::SignedOut,
        CookieState::Refresh(reason) => refresh(request, clerk, reason, token, suffixed),
        CookieState::Verify => {
            let token = token.unwrap_or_default();
            let verified = match kept {
                Some(kept) => kept,
                None => clerk.verifier.verify(token).await,
            };
            match verified {
                Ok(session) => signed_in(request, session).await,
                Err(error) => {
                    if let Some(reason) = handshake::refreshable(&error) {
                        refresh(request, clerk, reason, Some(token), suffixed)
                    } else {
                        rocket::debug!("page request signed out: {error}");
                        VisitorState::SignedOut
                    }
                }
            }
        }
    }
}

async fn signed_in(request: &Request<'_>, session: Arc<SessionClaims>) -> VisitorState {
    match user::resolve_request(request, &session).await {
        Ok(user) => VisitorState::SignedIn(Box::new(CurrentUser { user, session })),
        Err(error) => VisitorState::Refused(error),
    }
}

fn refresh(
    request: &Request<'_>,
    clerk: &Clerk,
    reason: &'static str,
    token: Option<&str>,
    suffixed: bool,
) -> VisitorState {
    let headers = request.headers();
    if !handshake::eligible(
        request.method() == Method::Get,
        headers.get_one("Sec-Fetch-Dest"),
        headers.get_one("Accept"),
    ) {
        return VisitorState::SignedOut;
    }
    let redirect_count = cookie(request, handshake::REDIRECT_COUNT_COOKIE)
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(0);
    if redirect_count >= handshake::MAX_REDIRECTS {
        rocket::warn!(
            "Clerk session refresh ({reason}) gave up after {redirect_count} redirects in a row: \
             check that the publishable key, secret key and issuer belong to one instance, and the clock"
        );
        return VisitorState::SignedOut;
    }
    let instance = &clerk.config.instance;
    let (Some(frontend_api), Some(url)) = (
        &instance.frontend_api,
        public_url(request, instance.production),
    ) else {
        return VisitorState::SignedOut;
    };
    if clerk.backend_api.is_some() {
        let dev_browser = cookie(request, "__clerk_db_jwt").filter(|_| !instance.production);
        let location =
            handshake::handshake_url(frontend_api, &url, suffixed, reason, token, dev_browser);
        VisitorState::Refresh(Refresh::Handshake {
            location,
            redirect_count,
            reason,
        })
    } else if clerk.config.publishable_key.is_some() {
        VisitorState::Refresh(Refresh::Interstitial {
            redirect_count,
            reason,
        })
    } else {
        VisitorState::SignedOut
    }
}

/// The way back from a handshake: a nonce (query in development, cookie in production) that the
/// Backend API turns into Set-Cookie directives carrying the fresh session token.
///
/// Each look-up is a Backend API call with the secret key, which anyone can ask for by adding a
/// nonce to a URL: only a document GET (where a handshake lands) is resolved, only a nonce of a
/// sane shape, the query form only for development instances (production ones set a cookie),
/// and the Backend API client single-flights, remembers failures and keeps to its budget.
async fn return_from_handshake(request: &Request<'_>, clerk: &Clerk) -> Option<VisitorState> {
    let api = clerk.backend_api.as_ref()?;
    let from_query = request
        .query_value::<&str>(handshake::NONCE_PARAM)
        .and_then(Result::ok)
        .filter(|_| !clerk.config.instance.production);
    let from_cookie = cookie(request, handshake::NONCE_PARAM);
    let nonce = from_query.or(from_cookie)?;
    let headers = request.headers();
    if !handshake::eligible(
        request.method() == Method::Get,
        headers.get_one("Sec-Fetch-Dest"),
        headers.get_one("Accept"),
    ) {
        return None;
    }
    if from_cookie.is_some() {
        request
            .cookies()
            .remove(Cookie::from(handshake::NONCE_PARAM));
    }
    if !handshake::valid_nonce(nonce) {
        rocket::debug!("ignoring a malformed Clerk handshake nonce");
        return None;
    }
    let directives = match api.handshake_payload(nonce).await {
        Ok(directives) => directives,
        Err(e) => {
            // Logged and ignored, as Clerk's SDK does: the nonce may belong to a sibling app.
            rocket::warn!("Clerk handshake nonce could not be resolved: {e}");
            return None;
        }
    };
    // Sent as they came, in order (see `HandshakeCookies`): not through the jar, which keeps one
    // cookie per name where Clerk clears the host-only cookie and then sets the domain one.
    let sendable: Vec<String> = directives
        .iter()
        .filter(|directive| {
            let ok = sendable_directive(directive);
            if !ok {
                rocket::warn!("ignoring a handshake directive that is not a Set-Cookie value");
            }
            ok
        })
        .cloned()
        .collect();
    request.local_cache(|| HandshakeCookies(sendable));
    let Some(token) = handshake::session_from_directives(&directives) else {
        return Some(VisitorState::SignedOut);
    };
    let session = match clerk.verifier.verify(&token).await {
        Ok(session) => session,
        Err(e) => {
            rocket::warn!("the session token from Clerk's handshake was refused: {e}");
            return Some(VisitorState::SignedOut);
        }
    };
    if !clerk.config.instance.production {
        if let Some(url) = public_url(request, false) {
            return Some(VisitorState::Refresh(Refresh::Reload {
                location: handshake::without_handshake_params(&url),
            }));
        }
    }
    Some(signed_in(request, session).await)
}

/// The `Set-Cookie` directives of the handshake resolved for this request, byte for byte and in
/// Clerk's order; the security headers fairing adds them to whatever the request answers.
#[derive(Debug, Default)]
pub struct HandshakeCookies(pub Vec<String>);

/// The handshake's `Set-Cookie` directives for this request's answer (none for most requests).
pub fn handshake_cookies<'r>(request: &'r Request<'_>) -> &'r [String] {
    &request.local_cache(HandshakeCookies::default).0
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
fn public_url(request: &Request<'_>, production: bool) -> Option<String> {
    let headers = request.headers();
    let first = |name: &str| {
        headers
            .get_one(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = match first("X-Forwarded-Proto") {
        Some("https") => "https",
        Some("http") => "http",
        Some(_) => return None,
        None if production => "https",
        None => "http",
    };
    let host = first("X-Forwarded-Host").or_else(|| first("Host"))?;
    let valid_host = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid_host.then(|| format!("{scheme}://{host}{}", request.uri()))
}
