//! Who is making a request, as Rocket request guards.
//!
//! [`Session`] yields the verified claims of the request's session token; [`CurrentUser`] builds
//! on it and yields the local user row, refusing revoked sessions and users that Clerk deleted or
//! banned ([`user::resolve`]); [`Admin`] (reading) and [`AdminWriter`] (changing) build on
//! that. A failed guard records its [`ApiError`] for the catcher. Pages use [`Visitor`] instead,
//! which never fails: it says whether the visitor is signed in, signed out, refused, or needs a
//! session refresh (Clerk's handshake) first. Every guard reads the token through one
//! [`TokenSource`].
//!
//! Those guards accept session tokens only. [`Auth<A>`] says in a route's signature which token
//! types it accepts (sessions, M2M tokens, OAuth access tokens, API keys: `machine.rs`), and
//! [`Authorized<R, A>`] what the caller must hold (a role, permission, feature or plan). A pending
//! session (Clerk's session tasks) is signed out everywhere, unless a route says
//! [`Auth<A, AcceptPending>`](AcceptPending) (`pending.rs`); pages send its user to the task page.
//!
//! [`ApiError`]: crate::error::ApiError

pub mod client;
pub mod csrf;
mod decision;
mod forget;
mod guards;
mod known_users;
mod machine;
mod org_access;
mod org_standing;
mod pending;
mod refresh;
mod requirement;
mod source;
mod stage;
mod user;
mod visitor;

pub use decision::public_origin;
pub use guards::{Admin, AdminWriter, Caches, CurrentUser, Session};
pub use known_users::KnownUsers;
pub use machine::{
    Accepts, Any, ApiKeyOnly, Auth, Authorized, MachineOnly, OAuthOnly, SessionOnly,
};
pub use org_access::{authorize, org_access, OrgAccess, ReadMemberships};
pub use org_standing::{OrgStanding, OrgStandings, Standing};
pub use pending::{AcceptPending, Pending, PendingIsSignedOut};
pub use refresh::{handshake_cookies, HandshakeCookies, Refresh};
pub use requirement::{missing, Requirement};
pub use source::{allowed_origin, is_own_origin, request_origin, Carrier, TokenSource};
pub use stage::stage;
pub use visitor::{Denied, Visitor, VisitorState};
