//! Machine tokens: M2M tokens, OAuth access tokens and API keys (`clerk-machines-orgs.md` §2).
//!
//! [`classify`] tells a token's type as Clerk's SDK does. Opaque tokens (`mt_`, `oat_`, `ak_`)
//! are verified by the Backend API ([`opaque`]); JWT M2M and OAuth tokens by the instance keys,
//! with the session verifier's rules ([`crate::clerk::token::Verifier::verify_machine_jwt`]),
//! then mapped by [`jwt`].

pub mod jwt;
pub mod opaque;
mod shape;
mod verify;

use serde_json::{Map, Value};

pub use shape::{check_shape, MAX_BODY_CHARS, MIN_BODY_CHARS};
pub use verify::{now_ms, MachineVerifier};

/// The SHA-256 of a token: the caches of verdicts never hold the token itself.
type Digest = [u8; 32];

fn digest(token: &str) -> Digest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Clerk's four token types, by their names in Clerk's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    SessionToken,
    M2mToken,
    OAuthToken,
    ApiKey,
}

impl TokenType {
    /// `session_token`, `m2m_token`, `oauth_token` or `api_key`.
    pub fn name(self) -> &'static str {
        match self {
            TokenType::SessionToken => "session_token",
            TokenType::M2mToken => "m2m_token",
            TokenType::OAuthToken => "oauth_token",
            TokenType::ApiKey => "api_key",
        }
    }

    /// The prefix of this type's opaque form.
    pub fn opaque_prefix(self) -> Option<&'static str> {
        match self {
            TokenType::SessionToken => None,
            TokenType::M2mToken => Some("mt_"),
            TokenType::OAuthToken => Some("oat_"),
            TokenType::ApiKey => Some("ak_"),
        }
    }
}

/// The type of an opaque machine token, by its prefix; `None` for anything else (a JWT).
pub fn opaque_type(token: &str) -> Option<TokenType> {
    [
        TokenType::M2mToken,
        TokenType::OAuthToken,
        TokenType::ApiKey,
    ]
    .into_iter()
    .find(|kind| kind.opaque_prefix().is_some_and(|p| token.starts_with(p)))
}

/// Clerk's classification (`B/tokens/machine.ts`): the opaque prefixes; a three-part JWT whose
/// header `typ` is `at+jwt` is an OAuth token, one whose payload `sub` starts with `mch_` an M2M
/// token; anything else is a session token. Reads the token unverified: it only picks the
/// verifier, which then checks everything.
pub fn classify(token: &str) -> TokenType {
    if let Some(kind) = opaque_type(token) {
        return kind;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if parts.len() != 3 || !parts.iter().all(|p| segment(p)) {
        return TokenType::SessionToken;
    }
    let typ = super::token::unverified_header(token)
        .and_then(|h| h.get("typ").and_then(Value::as_str).map(str::to_owned));
    if typ.is_some_and(|t| super::token::is_at_jwt(&t)) {
        return TokenType::OAuthToken;
    }
    let machine_sub = super::token::unverified_claims(token).is_some_and(|claims| {
        claims
            .get("sub")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("mch_"))
    });
    if machine_sub {
        TokenType::M2mToken
    } else {
        TokenType::SessionToken
    }
}

/// A verified machine token, whichever its form (Clerk's `M2MToken`, `IdPOAuthAccessToken`,
/// `APIKey`: the fields this app reads).
#[derive(Debug, Clone, PartialEq)]
pub struct MachineToken {
    pub token_type: TokenType,
    /// `mt_…`, `oat_…`, `ak_…` (the JWT's `jti`), when known.
    pub id: Option<String>,
    /// `mch_…` (M2M), `user_…` (OAuth), `user_…` or `org_…` (API key).
    pub subject: String,
    /// M2M: the machine ids allowed to receive the token; OAuth and API keys: granted scopes.
    pub scopes: Vec<String>,
    /// Custom claims, when the token carries any.
    pub claims: Option<Map<String, Value>>,
    /// An API key's name.
    pub name: Option<String>,
    /// An OAuth token's client.
    pub client_id: Option<String>,
    /// When the token stops being valid, in unix milliseconds; `None`: never.
    pub expires_at_ms: Option<i64>,
}

impl MachineToken {
    /// The machine that holds an M2M token.
    pub fn machine_id(&self) -> Option<&str> {
        (self.token_type == TokenType::M2mToken).then_some(self.subject.as_str())
    }

    /// The user an OAuth token or a user's API key acts for.
    pub fn user_id(&self) -> Option<&str> {
        match self.token_type {
            TokenType::OAuthToken | TokenType::ApiKey if self.subject.starts_with("user_") => {
                Some(&self.subject)
            }
            _ => None,
        }
    }

    /// The organization an API key belongs to.
    pub fn org_id(&self) -> Option<&str> {
        (self.token_type == TokenType::ApiKey && self.subject.starts_with("org_"))
            .then_some(self.subject.as_str())
    }

    /// Whether an M2M token names `machine_id` as a receiver. Other types are not addressed to
    /// machines, so they pass.
    pub fn is_for_machine(&self, machine_id: &str) -> bool {
        self.token_type != TokenType::M2mToken || self.scopes.iter().any(|s| s == machine_id)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    fn jwt(header: &Value, payload: &Value) -> String {
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn tokens_are_classified_as_clerk_does() {
        let alg = json!({"alg": "RS256"});
        let cases = [
            ("mt_abc".to_owned(), TokenType::M2mToken),
            ("oat_abc".to_owned(), TokenType::OAuthToken),
            ("ak_abc".to_owned(), TokenType::ApiKey),
            ("anything".to_owned(), TokenType::SessionToken),
            (jwt(&alg, &json!({"sub": "mch_1"})), TokenType::M2mToken),
            (
                jwt(
                    &json!({"alg": "RS256", "typ": "at+jwt"}),
                    &json!({"sub": "user_1"}),
                ),
                TokenType::OAuthToken,
            ),
            (
                jwt(&json!({"typ": "application/at+jwt"}), &json!({})),
                TokenType::OAuthToken,
            ),
            (
                jwt(&alg, &json!({"sub": "user_1"})),
                TokenType::SessionToken,
            ),
            (
                // Not a JWT's shape: whatever it claims, a session token (and refused as one).
                format!("{}.", jwt(&alg, &json!({"sub": "mch_1"}))),
                TokenType::SessionToken,
            ),
        ];
        for (token, kind) in cases {
            assert_eq!(classify(&token), kind, "{token}");
        }
    }

    #[test]
    fn auth_fields_follow_the_subject() {
        let token = |token_type, subject: &str| MachineToken {
            token_type,
            id: None,
            subject: subject.into(),
            scopes: vec!["mch_b".into()],
            claims: None,
            name: None,
            client_id: None,
            expires_at_ms: None,
        };
        let m2m = token(TokenType::M2mToken, "mch_a");
        assert_eq!(m2m.machine_id(), Some("mch_a"));
        assert_eq!(m2m.user_id(), None);
        assert!(m2m.is_for_machine("mch_b"));
        assert!(!m2m.is_for_machine("mch_c"));
        let user_key = token(TokenType::ApiKey, "user_1");
        assert_eq!(user_key.user_id(), Some("user_1"));
        assert_eq!(user_key.org_id(), None);
        assert!(user_key.is_for_machine("mch_c"));
        let org_key = token(TokenType::ApiKey, "org_1");
        assert_eq!(org_key.org_id(), Some("org_1"));
        assert_eq!(
            token(TokenType::OAuthToken, "user_2").user_id(),
            Some("user_2")
        );
    }
}
