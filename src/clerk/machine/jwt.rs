//! JWT M2M and OAuth tokens: from verified claims to a [`MachineToken`], as Clerk's SDK maps
//! them (`M2MToken.fromJwtPayload`, `IdPOAuthAccessToken`).

use serde_json::{Map, Value};

use super::{MachineToken, TokenType};
use crate::clerk::token::{is_clerk_id, AuthError, Reason};

/// The registered claims that are not custom claims of an M2M token.
const REGISTERED: [&str; 6] = ["iss", "sub", "exp", "nbf", "iat", "jti"];

fn clerk_id(value: Option<&Value>, prefix: &str) -> Option<String> {
    let id = value?.as_str()?;
    is_clerk_id(id, prefix).then(|| id.to_owned())
}

/// A space-separated string, or an array of strings.
fn words(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

#[allow(clippy::cast_possible_truncation)] // verified: a time within year 9999
fn expires_at_ms(claims: &Map<String, Value>) -> Option<i64> {
    claims
        .get("exp")
        .and_then(Value::as_f64)
        .map(|exp| (exp * 1000.0) as i64)
}

/// An M2M token's verified claims: `sub` a machine id, `jti` its id; `scopes` (space-separated)
/// else `aud` name the machines that may receive it.
pub fn m2m(claims: Map<String, Value>) -> Result<MachineToken, AuthError> {
    let subject = clerk_id(claims.get("sub"), "mch_").ok_or_else(|| {
        AuthError::new(
            Reason::TokenVerificationFailed,
            "an M2M token's sub claim must be a machine id (mch_…)",
        )
    })?;
    let scopes = words(claims.get("scopes"))
        .or_else(|| words(claims.get("aud")))
        .unwrap_or_default();
    let custom: Map<String, Value> = claims
        .iter()
        .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(MachineToken {
        token_type: TokenType::M2mToken,
        id: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
        subject,
        scopes,
        expires_at_ms: expires_at_ms(&claims),
        claims: (!custom.is_empty()).then_some(custom),
        name: None,
        client_id: None,
    })
}

/// An OAuth access token's verified claims: `sub` the user, `client_id`, `scp` else `scope`.
pub fn oauth(claims: Map<String, Value>) -> Result<MachineToken, AuthError> {
    let subject = clerk_id(claims.get("sub"), "user_").ok_or_else(|| {
        AuthError::new(
            Reason::TokenVerificationFailed,
            "an OAuth access token's sub claim must be a Clerk user id (user_…)",
        )
    })?;
    let scopes = words(claims.get("scp"))
        .or_else(|| words(claims.get("scope")))
        .unwrap_or_default();
    Ok(MachineToken {
        token_type: TokenType::OAuthToken,
        id: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
        subject,
        scopes,
        client_id: claims
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        expires_at_ms: expires_at_ms(&claims),
        name: None,
        claims: Some(claims),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn m2m_scopes_come_from_scopes_else_aud() {
        let base =
            json!({"iss": "i", "sub": "mch_a", "exp": 10, "iat": 1, "nbf": 1, "jti": "mt_1"});
        let mut with_scopes = base.clone();
        with_scopes["scopes"] = json!("mch_b mch_c");
        with_scopes["aud"] = json!(["mch_z"]);
        let token = m2m(map(with_scopes)).unwrap();
        assert_eq!(token.scopes, ["mch_b", "mch_c"]);
        assert_eq!(token.id.as_deref(), Some("mt_1"));
        assert_eq!(token.expires_at_ms, Some(10_000));
        assert_eq!(
            token.claims.unwrap().keys().collect::<Vec<_>>(),
            ["aud", "scopes"]
        );
        let mut with_aud = base.clone();
        with_aud["aud"] = json!(["mch_z"]);
        assert_eq!(m2m(map(with_aud)).unwrap().scopes, ["mch_z"]);
        let minimal = m2m(map(base)).unwrap();
        assert!(minimal.scopes.is_empty());
        assert!(minimal.claims.is_none());
        assert!(m2m(map(json!({"sub": "user_1"}))).is_err());
    }

    #[test]
    fn oauth_scopes_come_from_scp_else_scope() {
        let token = oauth(map(
            json!({"sub": "user_1", "scp": ["read"], "scope": "x y", "client_id": "c1"}),
        ))
        .unwrap();
        assert_eq!(token.scopes, ["read"]);
        assert_eq!(token.client_id.as_deref(), Some("c1"));
        let token = oauth(map(json!({"sub": "user_1", "scope": "x y"}))).unwrap();
        assert_eq!(token.scopes, ["x", "y"]);
        assert!(oauth(map(json!({"sub": "mch_1"}))).is_err());
    }
}
