//! What a request needs before it can be decided signed in: Clerk's handshake, the
//! interstitial, or a reload; and the handshake's `Set-Cookie` directives for the answer.
//! Shared by the decision (`decision.rs`), the API guards and the page visitor.

use rocket::request::Request;

/// A session refresh the request must go through first.
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

/// The `Set-Cookie` directives of the handshake resolved for this request, byte for byte and in
/// Clerk's order; the security headers fairing adds them to whatever the request answers.
#[derive(Debug, Default)]
pub struct HandshakeCookies(pub Vec<String>);

/// The handshake's `Set-Cookie` directives for this request's answer (none for most requests).
pub fn handshake_cookies<'r>(request: &'r Request<'_>) -> &'r [String] {
    &request.local_cache(HandshakeCookies::default).0
}
