//! The `act` claim: someone else acting as the session's user. Clerk sets it on sessions that an
//! instance member opened through the dashboard's impersonation (`{"sub": "user_…" (the member),
//! "sid": …, "iss": …}`) and on agent sessions (`"type": "agent"`), as RFC 8693's actor claim
//! (`@clerk/shared`'s `ActClaim`).
//!
//! The values are shown in pages, `/api/whoami`, the access log and the audit trail: they are
//! kept as printable ASCII only (anything else becomes `?`) and at most 128 characters, so that
//! no log line, header or CSV cell can be split or forged by them. Clerk's ids are all ASCII.

use serde::Serialize;
use serde_json::{Map, Value};

/// The longest `act` value kept; longer ones are cut.
const MAX_LEN: usize = 128;

/// Who is acting as the session's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActClaim {
    /// The actor: the impersonating member's Clerk user id, or the agent's id. `unknown` when
    /// the claim names none (the session is still treated as acted).
    pub sub: String,
    /// The actor's own session, when named.
    pub sid: Option<String>,
    /// The issuer of the actor's identity, when named.
    pub iss: Option<String>,
    /// `agent` for an agent session; `null` for an impersonation.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl ActClaim {
    /// The `act` claim of verified `claims`, if any. Any `act` that is present and not `null`
    /// counts, however malformed: a session someone else drives is never taken for the user's.
    pub fn of(claims: &Map<String, Value>) -> Option<ActClaim> {
        let act = claims.get("act").filter(|v| !v.is_null())?;
        let field = |name: &str| act.get(name).and_then(Value::as_str).map(printable);
        Some(ActClaim {
            sub: field("sub")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".to_owned()),
            sid: field("sid"),
            iss: field("iss"),
            kind: field("type"),
        })
    }

    /// An agent session (`type: "agent"`), rather than a member's impersonation.
    pub fn is_agent(&self) -> bool {
        self.kind.as_deref() == Some("agent")
    }
}

/// `text` with every character outside printable ASCII replaced by `?`, cut at [`MAX_LEN`].
fn printable(text: &str) -> String {
    text.chars()
        .take(MAX_LEN)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn act(value: Value) -> Option<ActClaim> {
        ActClaim::of(json!({ "act": value }).as_object().unwrap())
    }

    #[test]
    fn impersonation_and_agents() {
        let member = act(
            json!({"sub": "user_admin", "sid": "sess_1", "iss": "https://dashboard.clerk.com"}),
        )
        .unwrap();
        assert_eq!(member.sub, "user_admin");
        assert!(!member.is_agent());
        assert!(act(json!({"sub": "agt_1", "type": "agent"}))
            .unwrap()
            .is_agent());
        assert_eq!(act(Value::Null), None);
        assert_eq!(ActClaim::of(&Map::new()), None);
        // Present but malformed: still acted.
        assert_eq!(act(json!("user_x")).unwrap().sub, "unknown");
        assert_eq!(act(json!({"sub": 7})).unwrap().sub, "unknown");
    }

    #[test]
    fn only_printable_ascii_is_kept() {
        let evil =
            act(json!({"sub": "user_a\nreason=forged <b>\u{202e}é", "sid": "x".repeat(500)}))
                .unwrap();
        assert_eq!(evil.sub, "user_a?reason=forged?<b>??");
        assert_eq!(evil.sid.unwrap().len(), MAX_LEN);
    }
}
