//! One entry point for every machine token: opaque ones through the Backend API, JWT ones with
//! the instance keys; then this server's own check that an M2M token names it.

use std::net::IpAddr;
use std::sync::Arc;

use super::opaque::OpaqueVerifier;
use super::{jwt, opaque_type, MachineToken, TokenType};
use crate::clerk::token::{AuthError, Expect, Expiring, Reason, VerdictCache, Verifier};

impl Expiring for MachineToken {
    fn expires_at(&self) -> Option<i64> {
        self.expires_at_ms.map(|ms| ms.div_euclid(1000))
    }
}

/// Verifies machine tokens of every form.
pub struct MachineVerifier {
    /// `None` in local mode: it has no Backend API.
    opaque: Option<OpaqueVerifier>,
    /// JWT ones, kept as session tokens are (see `token::cache`).
    jwts: VerdictCache<MachineToken>,
    /// `CLERK_MACHINE_ID`: M2M tokens must name this machine.
    machine_id: Option<String>,
}

impl MachineVerifier {
    pub fn new(opaque: Option<OpaqueVerifier>, machine_id: Option<String>) -> Self {
        MachineVerifier {
            opaque,
            jwts: VerdictCache::default(),
            machine_id,
        }
    }

    /// Verifies `token`, which [`super::classify`] found to be of the machine type `kind`, sent
    /// by `client` (an address, whose unknown opaque tokens are limited).
    pub async fn verify(
        &self,
        sessions: &Verifier,
        token: &str,
        kind: TokenType,
        client: IpAddr,
    ) -> Result<Arc<MachineToken>, AuthError> {
        let now_ms = now_ms();
        let verified = if opaque_type(token).is_some() {
            let Some(opaque) = &self.opaque else {
                return Err(AuthError::new(
                    Reason::TokenInvalid,
                    "local mode verifies no opaque M2M or OAuth tokens; mint a JWT one with \
                     `clerk-rocket token --machine mch_…`",
                ));
            };
            opaque.verify(token, kind, now_ms, client).await?
        } else {
            self.verify_jwt(sessions, token, kind, now_ms).await?
        };
        if let Some(machine_id) = &self.machine_id {
            if !verified.is_for_machine(machine_id) {
                return Err(AuthError::new(
                    Reason::TokenAudienceMismatch,
                    format!(
                        "this M2M token is not addressed to this machine ({machine_id} is not \
                         among its scopes)"
                    ),
                ));
            }
        }
        Ok(verified)
    }

    async fn verify_jwt(
        &self,
        sessions: &Verifier,
        token: &str,
        kind: TokenType,
        now_ms: i64,
    ) -> Result<Arc<MachineToken>, AuthError> {
        let expect = match kind {
            TokenType::M2mToken => Expect::M2m,
            TokenType::OAuthToken => Expect::OAuth,
            TokenType::ApiKey | TokenType::SessionToken => {
                return Err(AuthError::new(
                    Reason::TokenTypeMismatch,
                    "not a machine token in JWT form",
                ))
            }
        };
        let map = |claims| match kind {
            TokenType::M2mToken => jwt::m2m(claims),
            _ => jwt::oauth(claims),
        };
        sessions
            .verify_machine_jwt(&self.jwts, token, expect, now_ms.div_euclid(1000), map)
            .await
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
