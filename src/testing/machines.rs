//! Organization claims (v1 and v2), machine tokens (JWT and opaque), and a fake of the Backend
//! API's three verify endpoints that records its calls.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use super::fake_clerk::FakeClerk;
use super::keys::{now, unique, TestKey, ISSUER_HOST};
use crate::clerk::machine::TokenType;

/// v1 organization claims (`org_id`, `org_slug`, `org_role`, `org_permissions`), to merge into
/// [`claims`](super::claims) with [`with`](super::with).
#[must_use]
pub fn org_claims_v1(id: &str, slug: &str, role: &str, permissions: &[&str]) -> Value {
    json!({ "org_id": id, "org_slug": slug, "org_role": role, "org_permissions": permissions })
}

/// v2 organization claims (`v: 2`, `o`, and `fea` holding one `o:` entry per feature, with the
/// `fpm` bitmaps of `permissions`, written `org:<feature>:<permission>`) for the same data as
/// [`org_claims_v1`]. The role may carry the `org:` prefix or not.
#[must_use]
pub fn org_claims_v2(id: &str, slug: &str, role: &str, permissions: &[&str]) -> Value {
    let owned: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    let (fea, per, fpm) = crate::clerk::token::org::encode_v2(&owned).unwrap();
    let rol = role.strip_prefix("org:").unwrap_or(role);
    json!({
        "v": 2,
        "fea": if fea.is_empty() { Value::Null } else { Value::String(fea) },
        "o": { "id": id, "slg": slug, "rol": rol, "per": per, "fpm": fpm },
    })
}

/// The claims of a JWT M2M token of `machine`, receivable by `scopes`: Clerk's shape.
#[must_use]
pub fn m2m_claims(machine: &str, scopes: &[&str]) -> Value {
    let now = now();
    json!({
        "iss": format!("https://{ISSUER_HOST}"),
        "sub": machine,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 3600,
        "jti": unique("mt"),
        "scopes": scopes.join(" "),
        "aud": scopes,
    })
}

/// The claims of a JWT OAuth access token for `user`, from `client_id`, with `scopes`.
#[must_use]
pub fn oauth_claims(user: &str, client_id: &str, scopes: &[&str]) -> Value {
    let now = now();
    json!({
        "iss": format!("https://{ISSUER_HOST}"),
        "sub": user,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 3600,
        "jti": unique("oat"),
        "client_id": client_id,
        "scp": scopes,
    })
}

impl TestKey {
    /// Signs `claims` as a JWT M2M token (header `cat` Clerk's M2M category).
    #[must_use]
    pub fn sign_m2m(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({ "cat": "cl_B7d4PD333AAA" }), claims)
    }

    /// Signs `claims` as a JWT OAuth access token (header `typ: at+jwt`).
    #[must_use]
    pub fn sign_oauth(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({ "typ": "at+jwt" }), claims)
    }
}

/// A well-formed opaque token of `kind` (`mt_…`, `oat_…`, `ak_…`) no other test uses.
#[must_use]
pub fn opaque_token(kind: TokenType) -> String {
    let prefix = kind.opaque_prefix().expect("a machine token type");
    format!("{prefix}{}", unique("secret"))
}

/// The path of `kind`'s verify endpoint on the Backend API.
#[must_use]
pub fn verify_path(kind: TokenType) -> &'static str {
    match kind {
        TokenType::M2mToken => "/m2m_tokens/verify",
        TokenType::OAuthToken => "/oauth_applications/access_tokens/verify",
        TokenType::ApiKey | TokenType::SessionToken => "/api_keys/verify",
    }
}

/// The JSON body a verify endpoint answers for a valid token of `kind` held by `subject` with
/// `scopes`, expiring in an hour; tests change what they test (`revoked`, `expired`, …).
#[must_use]
pub fn verified_json(kind: TokenType, subject: &str, scopes: &[&str]) -> Value {
    let now_ms = now() * 1000;
    let mut body = json!({
        "id": unique(kind.opaque_prefix().unwrap_or("x_").trim_end_matches('_')),
        "subject": subject, "scopes": scopes, "claims": null,
        "revoked": false, "revocation_reason": null, "expired": false,
        "expiration": now_ms + 3_600_000, "created_at": now_ms, "updated_at": now_ms,
    });
    match kind {
        TokenType::M2mToken => body["object"] = json!("machine_to_machine_token"),
        TokenType::OAuthToken => {
            body["object"] = json!("clerk_idp_oauth_access_token");
            body["client_id"] = json!("client_test");
        }
        _ => {
            body["type"] = json!("api_key");
            body["name"] = json!("test key");
        }
    }
    body
}

impl FakeClerk {
    /// Answers `body` (200) to `kind`'s verify endpoint for `token`, replacing an earlier answer
    /// for it (a revocation, say). Other tokens get 404, as Clerk answers unknown ones.
    pub async fn serve_machine_token(&self, kind: TokenType, token: &str, body: Value) {
        let field = match kind {
            TokenType::M2mToken => "token",
            TokenType::OAuthToken => "access_token",
            _ => "secret",
        };
        Mock::given(method("POST"))
            .and(path(verify_path(kind)))
            .and(body_partial_json(json!({ field: token })))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .with_priority(self.next_priority.fetch_sub(1, Ordering::Relaxed))
            .mount(&self.server)
            .await;
    }

    /// How many verify calls reached the Backend API for `kind`.
    pub async fn verify_calls(&self, kind: TokenType) -> usize {
        self.hits(verify_path(kind)).await
    }

    /// The bearer keys the verify calls for `kind` were made with, in order.
    pub async fn verify_keys(&self, kind: TokenType) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == verify_path(kind))
            .filter_map(|r| {
                r.headers
                    .get("authorization")?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .collect()
    }
}
