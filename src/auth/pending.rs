//! Whether a route serves pending sessions: the second type parameter of [`super::Auth`], in the
//! style of its token types.
//!
//! A pending session (`sts: "pending"`) belongs to a user who signed in but must still finish a
//! session task: choose an organization, set up MFA or reset their password. Clerk's SDK treats
//! it as signed out unless the route passes `treatPendingAsSignedOut: false`
//! (<https://clerk.com/docs/guides/configure/session-tasks>); here a route opts in in its
//! signature, as an onboarding route would:
//!
//! ```ignore
//! #[get("/onboarding/status")]
//! fn status(auth: Auth<SessionOnly, AcceptPending>) -> … // active or pending sessions
//! ```
//!
//! A pending session accepted this way is still the user's: revoked sessions and deleted or
//! banned users are refused as everywhere.

/// Whether a route accepts pending sessions: a marker type for [`super::Auth`].
pub trait Pending: Send + Sync + 'static {
    const ACCEPTS: bool;
}

/// A pending session is signed out (`401 session-pending`): every route's default, and Clerk's.
pub struct PendingIsSignedOut;

/// A pending session is served as signed in (Clerk's `treatPendingAsSignedOut: false`); the
/// route reads [`crate::clerk::token::SessionClaims::status`] to tell.
pub struct AcceptPending;

impl Pending for PendingIsSignedOut {
    const ACCEPTS: bool = false;
}

impl Pending for AcceptPending {
    const ACCEPTS: bool = true;
}
