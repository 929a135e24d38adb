//! Verdicts on tokens already seen, by a digest of the token, so that a warm request needs no RSA.
//!
//! An accepted token is kept until its `exp` (never past it) and only while its key is still in
//! the key set; a refused one, for a short while, and only when the refusal can never turn into an
//! acceptance (a bad signature, an expired token; not a future `nbf` or an unknown `kid`). Both
//! are bounded in entries and in bytes, so a flood of distinct tokens cannot grow memory. Session
//! tokens and JWT machine tokens are kept by the same rules (one cache each, since the session
//! verifier refuses a machine token that the machine verifier accepts).

use std::sync::Arc;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::Weighter;

use super::reason::{AuthError, Reason};
use super::SessionClaims;
use crate::clerk::keys::KeyStore;

/// How long a permanent refusal is remembered, in seconds.
const REFUSED_FOR: i64 = 60;

/// The most memory the verdicts may take, roughly, in bytes.
const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// What an accepted token's [`super::Memo`] takes, roughly (a weak reference to a user row, and
/// the times and generations it holds for).
const MEMO_BYTES: usize = 96;

pub(super) type Digest = [u8; 32];

/// What a verified token yields: kept no longer than its expiration.
pub trait Expiring {
    /// The unix second from which the token is expired; `None`: it is never kept.
    fn expires_at(&self) -> Option<i64>;
}

impl Expiring for SessionClaims {
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

pub(super) enum Verdict<T> {
    Accepted {
        claims: Arc<T>,
        kid: Option<Arc<str>>,
    },
    Refused(AuthError),
}

// Not derived: that would ask `T: Clone`, and only the `Arc` is cloned.
impl<T> Clone for Verdict<T> {
    fn clone(&self) -> Self {
        match self {
            Verdict::Accepted { claims, kid } => Verdict::Accepted {
                claims: Arc::clone(claims),
                kid: kid.clone(),
            },
            Verdict::Refused(error) => Verdict::Refused(error.clone()),
        }
    }
}

struct Entry<T> {
    verdict: Verdict<T>,
    /// The unix second from which the entry no longer holds (checked on every read).
    until: i64,
    bytes: u32,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            verdict: self.verdict.clone(),
            until: self.until,
            bytes: self.bytes,
        }
    }
}

/// Entries weigh their estimated bytes, so that the cache is bounded in memory.
#[derive(Clone, Copy)]
struct ByBytes;

impl<T> Weighter<Digest, Entry<T>> for ByBytes {
    fn weight(&self, _key: &Digest, entry: &Entry<T>) -> u64 {
        u64::from(entry.bytes)
    }
}

/// Verdicts on tokens that yield a `T`.
pub struct VerdictCache<T> {
    /// foldhash, seeded per process: SipHash of the keys showed in `perf` of every request.
    entries: Cache<Digest, Entry<T>, ByBytes, foldhash::fast::RandomState>,
}

impl<T: Expiring + Send + Sync + 'static> Default for VerdictCache<T> {
    fn default() -> Self {
        VerdictCache {
            entries: Cache::with(
                // Typical entries (a Clerk session token of about 1 KB) weigh about 5 KB.
                usize::try_from(MAX_BYTES / 4096).unwrap_or(usize::MAX),
                MAX_BYTES,
                ByBytes,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            ),
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

impl<T: Expiring + Send + Sync + 'static> VerdictCache<T> {
    /// The verdict on the token of `digest`, if one is kept and still holds at `now`.
    pub(super) fn get(&self, digest: &Digest, now: i64) -> Option<Verdict<T>> {
        let entry = self.entries.get(digest)?;
        if now >= entry.until {
            self.entries.remove(digest);
            return None;
        }
        Some(entry.verdict)
    }

    /// The kept answer on the token of `digest`: an acceptance only until its `exp` and while
    /// the key that verified it is still published (else forgotten, so that the token is
    /// verified again, against the current key set); a permanent refusal.
    pub(super) fn recall(
        &self,
        digest: &Digest,
        now: i64,
        keys: &Arc<KeyStore>,
    ) -> Option<Result<Arc<T>, AuthError>> {
        match self.get(digest, now)? {
            Verdict::Accepted { claims, kid } => {
                if keys.still_has(kid.as_deref()) {
                    return Some(Ok(claims));
                }
                self.entries.remove(digest);
                None
            }
            Verdict::Refused(error) => Some(Err(error)),
        }
    }

    /// Keeps the answer on a token of `token_len` bytes signed with `kid`, when it may be kept.
    pub(super) fn remember(
        &self,
        digest: Digest,
        result: &Result<Arc<T>, AuthError>,
        kid: Option<String>,
        token_len: usize,
        now: i64,
    ) {
        let verdict = match result {
            Ok(claims) => Verdict::Accepted {
                claims: Arc::clone(claims),
                kid: kid.map(Arc::from),
            },
            Err(error) => Verdict::Refused(error.clone()),
        };
        self.keep(digest, verdict, token_len, now);
    }

    /// Keeps the verdict on a token of `token_len` bytes, when it may be kept.
    fn keep(&self, digest: Digest, verdict: Verdict<T>, token_len: usize, now: i64) {
        let until = match &verdict {
            Verdict::Accepted { claims, .. } => match claims.expires_at() {
                Some(exp) if exp > now => exp,
                _ => return,
            },
            Verdict::Refused(error) if is_permanent(error.reason) => now + REFUSED_FOR,
            Verdict::Refused(_) => return,
        };
        // The claims as parsed take a few times the token's size; an accepted session's memo
        // a little more (its row is held weakly, by the user cache).
        let memo = match &verdict {
            Verdict::Accepted { .. } => MEMO_BYTES,
            Verdict::Refused(_) => 0,
        };
        let bytes = u32::try_from(token_len.saturating_mul(4).saturating_add(256 + memo))
            .unwrap_or(u32::MAX);
        self.entries.insert(
            digest,
            Entry {
                verdict,
                until,
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
    )
}
