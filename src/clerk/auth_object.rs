//! One auth object for every token type (Clerk's `SessionAuthObject` and machine auth objects):
//! who the request is, whatever it authenticated with.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::machine::{MachineToken, TokenType};
use super::token::{evaluate, ActiveOrg, Check, Missing, SessionClaims};

/// A verified request's identity.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthObject {
    Session(Arc<SessionClaims>),
    Machine(Arc<MachineToken>),
}

impl AuthObject {
    pub fn token_type(&self) -> TokenType {
        match self {
            AuthObject::Session(_) => TokenType::SessionToken,
            AuthObject::Machine(token) => token.token_type,
        }
    }

    /// `sub`: the user (sessions, OAuth tokens), the machine (M2M) or the owner (API keys).
    pub fn subject(&self) -> &str {
        match self {
            AuthObject::Session(claims) => &claims.user_id,
            AuthObject::Machine(token) => &token.subject,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            AuthObject::Session(claims) => Some(&claims.user_id),
            AuthObject::Machine(token) => token.user_id(),
        }
    }

    /// A session's status (`active`, or `pending` on a route that accepts pending sessions);
    /// machine tokens have none.
    pub fn session_status(&self) -> Option<super::token::SessionStatus> {
        match self {
            AuthObject::Session(claims) => Some(claims.status),
            AuthObject::Machine(_) => None,
        }
    }

    pub fn session_id(&self) -> Option<&str> {
        match self {
            AuthObject::Session(claims) => Some(&claims.session_id),
            AuthObject::Machine(_) => None,
        }
    }

    /// The session's active organization (machine tokens have none).
    pub fn org(&self) -> Option<&ActiveOrg> {
        match self {
            AuthObject::Session(claims) => claims.authorization.org.as_ref(),
            AuthObject::Machine(_) => None,
        }
    }

    /// The active organization's id, or the organization that owns an API key.
    pub fn org_id(&self) -> Option<&str> {
        match self {
            AuthObject::Session(_) => self.org().map(|org| org.id.as_str()),
            AuthObject::Machine(token) => token.org_id(),
        }
    }

    /// The session's `fea` entries (`o:seats`, `u:beta`).
    pub fn features(&self) -> &[String] {
        match self {
            AuthObject::Session(claims) => claims.authorization.features.entries(),
            AuthObject::Machine(_) => &[],
        }
    }

    pub fn scopes(&self) -> &[String] {
        match self {
            AuthObject::Session(_) => &[],
            AuthObject::Machine(token) => &token.scopes,
        }
    }

    pub fn machine_id(&self) -> Option<&str> {
        match self {
            AuthObject::Session(_) => None,
            AuthObject::Machine(token) => token.machine_id(),
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            AuthObject::Session(_) => None,
            AuthObject::Machine(token) => token.client_id.as_deref(),
        }
    }

    /// An API key's name.
    pub fn name(&self) -> Option<&str> {
        match self {
            AuthObject::Session(_) => None,
            AuthObject::Machine(token) => token.name.as_deref(),
        }
    }

    /// A session's claims, or a machine token's custom claims.
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        match self {
            AuthObject::Session(claims) => Some(&claims.claims),
            AuthObject::Machine(token) => token.claims.as_ref(),
        }
    }

    /// Clerk's `has()`, fail-closed; machine tokens never have anything.
    pub fn has(&self, check: &Check<'_>) -> bool {
        self.evaluate(check).is_ok()
    }

    /// [`Self::has`], saying which part of `check` failed.
    pub fn evaluate(&self, check: &Check<'_>) -> Result<(), Missing> {
        match self {
            AuthObject::Session(claims) => {
                evaluate(&claims.authorization, Some(&claims.user_id), check)
            }
            AuthObject::Machine(_) => Err(Missing::Nothing),
        }
    }
}
