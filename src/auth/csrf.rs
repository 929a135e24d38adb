//! Anti-forgery tokens for the admin pages' forms: an HMAC-SHA256 of the session id (`sid`) under
//! a server key, checked in constant time.
//!
//! Bound to the session, a token taken from one session is worthless in another, and nothing is
//! stored: any instance that shares the key checks any token. The key derives from
//! `CLERK_SECRET_KEY` when one is set (every instance of a deployment shares it); otherwise
//! (local mode, or Clerk mode without a secret key, where admin actions cannot reach Clerk
//! anyway) it is random per process, so a form loaded before a restart must be reloaded.

use aws_lc_rs::hmac;
use base64::Engine as _;

use crate::config::ClerkConfig;

/// The name of the form field that carries the token.
pub const FIELD: &str = "csrf";

/// The server key of the anti-forgery tokens.
/// `None` when no key could be made: every token is then refused.
pub struct CsrfKey(Option<hmac::Key>);

impl CsrfKey {
    pub fn new(config: &ClerkConfig) -> CsrfKey {
        CsrfKey::from_secret(config.secret_key.as_deref())
    }

    fn from_secret(secret_key: Option<&str>) -> CsrfKey {
        let key = if let Some(secret) = secret_key {
            // A key of its own, so that a token never doubles as anything signed with the
            // secret key itself.
            let root = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
            let derived = hmac::sign(&root, b"clerk-rocket admin form tokens v1");
            Some(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
        } else {
            let mut bytes = [0u8; 32];
            if aws_lc_rs::rand::fill(&mut bytes).is_ok() {
                Some(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
            } else {
                log::error!("no randomness for the admin form key: admin forms will refuse");
                None
            }
        };
        CsrfKey(key)
    }

    /// The token of the session `session_id`.
    pub fn token(&self, session_id: &str) -> String {
        self.0.as_ref().map_or_else(String::new, |key| {
            let tag = hmac::sign(key, session_id.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
        })
    }

    /// Whether `token` is the token of `session_id` (constant time in the token's bytes).
    pub fn verify(&self, session_id: &str, token: Option<&str>) -> bool {
        let Some(key) = &self.0 else {
            return false;
        };
        let Some(tag) = token.and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.trim())
                .ok()
        }) else {
            return false;
        };
        !session_id.is_empty() && hmac::verify(key, session_id.as_bytes(), &tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: Option<&str>) -> CsrfKey {
        CsrfKey::from_secret(secret)
    }

    #[test]
    fn a_token_holds_for_its_session_only() {
        let key = key(Some("sk_test_one"));
        let token = key.token("sess_a");
        assert!(key.verify("sess_a", Some(&token)));
        assert!(!key.verify("sess_b", Some(&token)), "another session");
        assert!(!key.verify("sess_a", None));
        assert!(!key.verify("sess_a", Some("")));
        assert!(!key.verify("sess_a", Some("not base64!")));
        let mut forged = token.clone().into_bytes();
        forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
        assert!(!key.verify("sess_a", Some(&String::from_utf8(forged).unwrap())));
    }

    #[test]
    fn instances_sharing_a_secret_key_agree_and_others_do_not() {
        let token = key(Some("sk_test_one")).token("sess_a");
        assert!(key(Some("sk_test_one")).verify("sess_a", Some(&token)));
        assert!(!key(Some("sk_test_two")).verify("sess_a", Some(&token)));
        assert!(!key(None).verify("sess_a", Some(&token)), "random keys");
    }
}
