//! Verdicts on tokens already seen, by a digest of the token, so that a warm request needs no RSA.
//!
//! An accepted token is kept until its `exp` (never past it) and only while its key is still in
//! the key set; a refused one, for a short while, and only when the refusal can never turn into an
//! acceptance (a bad signature, an expired token; not a future `nbf` or an unknown `kid`). Both
//! are bounded in entries and in bytes, so a flood of distinct tokens cannot grow memory.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::reason::{AuthError, Reason};
use super::SessionClaims;

/// How long a permanent refusal is remembered.
const REFUSED_FOR: Duration = Duration::from_secs(60);

/// The most memory the verdicts may take, roughly, in bytes.
const MAX_BYTES: u64 = 32 * 1024 * 1024;

pub(super) type Digest = [u8; 32];

#[derive(Clone)]
pub(super) enum Verdict {
    Accepted {
        claims: Arc<SessionClaims>,
        kid: Option<Arc<str>>,
    },
    Refused(AuthError),
}

#[derive(Clone)]
struct Entry {
    verdict: Verdict,
    ttl: Duration,
    bytes: u32,
}

struct EntryExpiry;

impl moka::Expiry<Digest, Entry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &Digest,
        entry: &Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub(super) struct VerdictCache {
    entries: Cache<Digest, Entry>,
}

impl Default for VerdictCache {
    fn default() -> Self {
        VerdictCache {
            entries: Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|_, entry: &Entry| entry.bytes)
                .expire_after(EntryExpiry)
                .build(),
        }
    }
}

/// The SHA-256 of a token: the cache never holds the token itself.
pub(super) fn digest(token: &str) -> Digest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl VerdictCache {
    /// The verdict on the token of `digest`, if one is kept and still holds at `now`.
    pub(super) fn get(&self, digest: &Digest, now: i64) -> Option<Verdict> {
        let entry = self.entries.get(digest)?;
        match &entry.verdict {
            Verdict::Accepted { claims, .. } if now >= claims.expires_at => {
                self.entries.invalidate(digest);
                None
            }
            verdict => Some(verdict.clone()),
        }
    }

    /// Forgets a verdict (its key left the key set).
    pub(super) fn forget(&self, digest: &Digest) {
        self.entries.invalidate(digest);
    }

    /// Keeps the verdict on a token of `token_len` bytes, when it may be kept.
    pub(super) fn keep(&self, digest: Digest, verdict: Verdict, token_len: usize, now: i64) {
        let ttl = match &verdict {
            Verdict::Accepted { claims, .. } => {
                match u64::try_from(claims.expires_at.saturating_sub(now)) {
                    Ok(secs) if secs > 0 => Duration::from_secs(secs),
                    _ => return,
                }
            }
            Verdict::Refused(error) if is_permanent(error.reason) => REFUSED_FOR,
            Verdict::Refused(_) => return,
        };
        // The claims as parsed take a few times the token's size.
        let bytes =
            u32::try_from(token_len.saturating_mul(4).saturating_add(256)).unwrap_or(u32::MAX);
        self.entries.insert(
            digest,
            Entry {
                verdict,
                ttl,
                bytes,
            },
        );
    }
}

/// Refusals that no later moment or key fetch can turn into an acceptance of the same token.
fn is_permanent(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::TokenInvalid
            | Reason::TokenInvalidAlgorithm
            | Reason::TokenInvalidSignature
            | Reason::TokenExpired
            | Reason::TokenInvalidAuthorizedParties
            | Reason::TokenInvalidIssuer
            | Reason::TokenVerificationFailed
            | Reason::TokenTypeMismatch
            | Reason::SessionPending
    )
}
