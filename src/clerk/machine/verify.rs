//! One entry point for every machine token: opaque ones through the Backend API, JWT ones with
//! the instance keys; then this server's own check that an M2M token names it.

use std::sync::Arc;
use std::time::Duration;

use super::opaque::OpaqueVerifier;
use super::{digest, jwt, opaque_type, Digest, MachineToken, TokenType};
use crate::clerk::token::{AuthError, Expect, Reason, Verifier};

/// How long a verified JWT machine token is remembered at most (never past its `exp`): long
/// enough to spare RSA on a busy client, short enough to notice a key leaving the key set.
const JWT_KEPT_FOR: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Kept {
    token: Arc<MachineToken>,
    ttl: Duration,
}

struct KeptExpiry;

impl moka::Expiry<Digest, Kept> for KeptExpiry {
    fn expire_after_create(
        &self,
        _key: &Digest,
        kept: &Kept,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(kept.ttl)
    }
}

/// Verifies machine tokens of every form.
pub struct MachineVerifier {
    /// `None` in local mode: it has no Backend API.
    opaque: Option<OpaqueVerifier>,
    jwts: moka::sync::Cache<Digest, Kept>,
    /// `CLERK_MACHINE_ID`: M2M tokens must name this machine.
    machine_id: Option<String>,
}

impl MachineVerifier {
    pub fn new(opaque: Option<OpaqueVerifier>, machine_id: Option<String>) -> Self {
        MachineVerifier {
            opaque,
            jwts: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .expire_after(KeptExpiry)
                .build(),
            machine_id,
        }
    }

    /// Verifies `token`, which [`super::classify`] found to be of the machine type `kind`.
    pub async fn verify(
        &self,
        sessions: &Verifier,
        token: &str,
        kind: TokenType,
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
            opaque.verify(token, kind, now_ms).await?
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
        let digest = digest(token);
        if let Some(kept) = self.jwts.get(&digest) {
            if kept.token.expires_at_ms.is_some_and(|exp| exp > now_ms) {
                return Ok(kept.token);
            }
            self.jwts.invalidate(&digest);
        }
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
        let claims = sessions
            .verify_machine_jwt(token, expect, now_ms.div_euclid(1000))
            .await?;
        let verified = Arc::new(match kind {
            TokenType::M2mToken => jwt::m2m(claims)?,
            _ => jwt::oauth(claims)?,
        });
        if let Some(exp) = verified.expires_at_ms {
            let left = Duration::from_millis(u64::try_from(exp - now_ms).unwrap_or(0));
            self.jwts.insert(
                digest,
                Kept {
                    token: Arc::clone(&verified),
                    ttl: left.min(JWT_KEPT_FOR),
                },
            );
        }
        Ok(verified)
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
