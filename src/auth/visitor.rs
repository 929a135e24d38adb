//! Who is asking for a page, with Clerk's cookie state machine (spec §4) so that a browser with a
//! live Clerk session is never shown as signed out: an expired or stale `__session` cookie is
//! refreshed through Clerk's handshake (with a secret key) or an interstitial page (without).
//! A visitor whose session is pending (Clerk's session tasks) is neither signed in nor sent to
//! sign in: pages send them to the task page (`pages::tasks`), as Clerk's SDKs do.

use rocket::request::{self, FromRequest, Request};
use rocket::State;

use super::decision::decide;
use super::guards::CurrentUser;
use super::refresh::Refresh;
use super::user;
use crate::clerk::request_state::AuthStatus;
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
    /// Signed in at Clerk, but the session waits for a session task (`sts: "pending"`); the
    /// user row was looked up as a signed-in visitor's is, so a banned user is refused instead.
    Pending(Box<CurrentUser>),
    SignedOut,
    /// Signed in at Clerk, but this request's token must be refreshed first.
    Refresh(Refresh),
    /// The token verified but the user cannot be served (no email, Clerk unreachable…).
    Refused(ApiError),
}

/// Why a page cannot be shown as asked; pages turn it into their answer.
#[derive(Debug)]
pub enum Denied {
    /// Signed out: send them to sign in, then back to `return_to`.
    SignIn { return_to: String },
    /// The session is pending: send them to the task page, then back to `return_to`.
    Tasks { return_to: String },
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
            VisitorState::Pending(_) => Err(Denied::Tasks {
                return_to: self.path,
            }),
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
    /// signed-out page. A pending session is signed out here, as in Clerk's SDK.
    pub fn optional(self) -> Result<Option<CurrentUser>, Denied> {
        match self.state {
            VisitorState::SignedIn(user) => Ok(Some(*user)),
            VisitorState::SignedOut | VisitorState::Refused(_) | VisitorState::Pending(_) => {
                Ok(None)
            }
            VisitorState::Refresh(refresh) => Err(Denied::Refresh(refresh)),
        }
    }

    /// Whether the visitor's session is pending (a session task is left).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, VisitorState::Pending(_))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visitor {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let path = request.uri().to_string();
        let (state, outcome) =
            if let Some(clerk) = request.guard::<&State<Clerk>>().await.succeeded() {
                visit(request, clerk).await
            } else {
                let error = ApiError::Internal("Clerk state is not managed".into());
                let outcome = AuthOutcome::signed_out(error.code());
                (VisitorState::Refused(error), outcome)
            };
        record_auth(request, outcome);
        request::Outcome::Success(Visitor { state, path })
    }
}

/// The page's visitor from the request's one decision (`decision.rs`), and how the request log
/// and Clerk's headers describe it.
async fn visit(request: &Request<'_>, clerk: &Clerk) -> (VisitorState, AuthOutcome) {
    let decided = decide(request, clerk).await;
    let outcome = AuthOutcome::of(decided.decision);
    if let (AuthStatus::SignedOut, None, Some(session)) =
        (decided.decision.status, &decided.refresh, &decided.pending)
    {
        // Looked up as a signed-in visitor is: a banned user's pending session is refused.
        return match user::resolve_request(request, session).await {
            Ok(user) => (
                VisitorState::Pending(Box::new(CurrentUser {
                    user,
                    session: session.clone(),
                })),
                outcome,
            ),
            Err(error) => {
                let outcome = AuthOutcome::signed_out(error.code());
                (VisitorState::Refused(error), outcome)
            }
        };
    }
    match (decided.decision.status, &decided.refresh, &decided.session) {
        // A development handshake came back (with an active or a pending session): reload.
        (_, Some(refresh @ Refresh::Reload { .. }), _)
        | (AuthStatus::Handshake, Some(refresh), _) => {
            (VisitorState::Refresh(refresh.clone()), outcome)
        }
        (AuthStatus::SignedIn, _, Some(session)) => {
            match user::resolve_request(request, session).await {
                Ok(user) => (
                    VisitorState::SignedIn(Box::new(CurrentUser {
                        user,
                        session: session.clone(),
                    })),
                    outcome,
                ),
                Err(error) => {
                    let outcome = AuthOutcome::signed_out(error.code());
                    (VisitorState::Refused(error), outcome)
                }
            }
        }
        _ => {
            // A valid token whose user cannot be served is explained, not sent to sign in.
            let error = ApiError::from(decided.error());
            if error.is_token_problem() {
                (VisitorState::SignedOut, outcome)
            } else {
                (VisitorState::Refused(error), outcome)
            }
        }
    }
}
