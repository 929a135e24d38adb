//! Tokens from a JWT template for the signed-in session, for calling other services (Supabase,
//! Hasura, Convex), as every Clerk SDK offers with `getToken({ template })`: the Backend API's
//! `POST /v1/sessions/{sid}/tokens/{template}`, with an optional `expires_in_seconds`
//! (`SessionAPI.getToken` in
//! <https://github.com/clerk/javascript/blob/main/packages/backend/src/api/endpoints/SessionApi.ts>).
//!
//! A minted token is kept per session, template and lifetime until [`RENEW_BEFORE_SECS`] before
//! it expires, so that a page calling another service on every render costs one Backend API call
//! per token lifetime, not one per request. In local mode this app signs the token itself.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::backend_api::{BackendApi, BackendApiError, Budget, Write};
use super::token::{is_clerk_id, now, unverified_claims, SessionClaims};
use super::Clerk;

/// A kept token is minted again this long before its `exp`, so that it never reaches a service
/// about to expire.
pub const RENEW_BEFORE_SECS: i64 = 10;
/// Clerk's bounds on a JWT template's lifetime (`lifetime`, 30 s to 10 years).
pub const LIFETIME_SECS: std::ops::RangeInclusive<u32> = 30..=315_360_000;
/// A template name is a path segment of the Backend API call: letters, digits, `_`, `-`, `.`.
const MAX_TEMPLATE_CHARS: usize = 64;
/// Local mode's lifetime when the request names none (a Clerk template's default is 60 s).
const LOCAL_DEFAULT_LIFETIME_SECS: u32 = 60;
/// Tokens one session may have minted per [`MINT_WINDOW`]: kept tokens cost nothing, but each
/// new template or lifetime is a Backend API call from the budget's reserve, which a signed-in
/// user must not be able to spend alone.
pub const MINTS_PER_SESSION: u32 = 10;
const MINT_WINDOW: Duration = Duration::from_secs(60);

/// A token minted from a template.
#[derive(Debug, Clone)]
pub struct TemplateToken {
    pub jwt: Arc<str>,
    /// The token's `exp` (Unix seconds), when it has one.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateTokenError {
    #[error("a template name is 1 to 64 letters, digits, '_', '-' or '.'")]
    BadTemplateName,
    #[error("expires_in_seconds must be between 30 and 315360000")]
    BadLifetime,
    #[error("the instance has no JWT template named {0:?}")]
    TemplateNotFound(String),
    #[error("Clerk's Backend API is not configured here (set CLERK_SECRET_KEY)")]
    NotConfigured,
    #[error("this session has minted {MINTS_PER_SESSION} tokens in the last minute; try again after Retry-After")]
    TooManyMints { retry_after: u64 },
    #[error(transparent)]
    Clerk(BackendApiError),
}

/// Which token: one session's, from one template, with one lifetime.
type Key = (Arc<str>, Arc<str>, Option<u32>);

/// The tokens minted so far, until shortly before each expires.
pub struct TemplateTokens {
    kept: moka::future::Cache<Key, TemplateToken>,
    /// Mints per session in the current window (the window starts with its first mint).
    mints: moka::sync::Cache<Arc<str>, Arc<std::sync::atomic::AtomicU32>>,
}

impl Default for TemplateTokens {
    fn default() -> Self {
        TemplateTokens {
            kept: moka::future::Cache::builder()
                .max_capacity(10_000)
                // A bound on memory, not the expiry: each token's own `exp` is checked on read.
                .time_to_live(Duration::from_secs(3600))
                .build(),
            mints: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(MINT_WINDOW)
                .build(),
        }
    }
}

impl TemplateTokens {
    /// The token of `template` for `session`, minted now or kept from an earlier request.
    /// Concurrent first requests for one token make one Backend API call.
    pub async fn get(
        &self,
        clerk: &Clerk,
        session: &SessionClaims,
        template: &str,
        lifetime: Option<u32>,
    ) -> Result<TemplateToken, TemplateTokenError> {
        check_template_name(template)?;
        if lifetime.is_some_and(|secs| !LIFETIME_SECS.contains(&secs)) {
            return Err(TemplateTokenError::BadLifetime);
        }
        let key: Key = (
            Arc::from(session.session_id.as_str()),
            Arc::from(template),
            lifetime,
        );
        if let Some(kept) = self.kept.get(&key).await {
            if fresh(&kept) {
                return Ok(kept);
            }
            self.kept.invalidate(&key).await;
        }
        let minted = self.mints.get_with(key.0.clone(), Default::default);
        if minted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MINTS_PER_SESSION {
            return Err(TemplateTokenError::TooManyMints {
                retry_after: MINT_WINDOW.as_secs(),
            });
        }
        let token = self
            .kept
            .try_get_with(key.clone(), mint(clerk, session, template, lifetime))
            .await
            .map_err(|e| (*e).clone())?;
        if !fresh(&token) {
            // Too short-lived to keep (or no `exp`): the next request mints its own.
            self.kept.invalidate(&key).await;
        }
        Ok(token)
    }
}

fn fresh(token: &TemplateToken) -> bool {
    token
        .expires_at
        .is_some_and(|exp| now() < exp - RENEW_BEFORE_SECS)
}

fn check_template_name(template: &str) -> Result<(), TemplateTokenError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let valid = !template.is_empty()
        && template.len() <= MAX_TEMPLATE_CHARS
        && template.bytes().all(allowed)
        && template != "."
        && template != "..";
    if valid {
        Ok(())
    } else {
        Err(TemplateTokenError::BadTemplateName)
    }
}

async fn mint(
    clerk: &Clerk,
    session: &SessionClaims,
    template: &str,
    lifetime: Option<u32>,
) -> Result<TemplateToken, TemplateTokenError> {
    let jwt = if let Some(local) = &clerk.local {
        local.mint_template(
            session,
            template,
            lifetime.unwrap_or(LOCAL_DEFAULT_LIFETIME_SECS),
        )
    } else {
        let api = clerk
            .backend_api
            .as_ref()
            .ok_or(TemplateTokenError::NotConfigured)?;
        api.template_token(&session.session_id, template, lifetime)
            .await?
    };
    let expires_at = unverified_claims(&jwt)
        .and_then(|claims| claims.get("exp").and_then(serde_json::Value::as_i64));
    Ok(TemplateToken {
        jwt: Arc::from(jwt),
        expires_at,
    })
}

#[derive(Deserialize)]
struct Minted {
    jwt: String,
}

impl BackendApi {
    /// `POST /v1/sessions/{sid}/tokens/{template}`: a token of `template` for the session.
    async fn template_token(
        &self,
        session_id: &str,
        template: &str,
        lifetime: Option<u32>,
    ) -> Result<String, TemplateTokenError> {
        // Both are path segments: checked ids and names only (the template by the caller).
        if !is_clerk_id(session_id, "sess_") {
            return Err(TemplateTokenError::Clerk(BackendApiError::Unavailable(
                "not a Clerk session id".into(),
            )));
        }
        let body = lifetime.map(|secs| json!({ "expires_in_seconds": secs }));
        let write = Write {
            method: reqwest::Method::POST,
            path: format!("/v1/sessions/{session_id}/tokens/{template}"),
            body: body.as_ref(),
            // A verified session's call: the whole budget, the reserve included.
            budget: Budget::Refuse,
        };
        let (status, answer) = self.send(write).await.map_err(TemplateTokenError::Clerk)?;
        match status.as_u16() {
            200..=299 => match serde_json::from_slice::<Minted>(&answer) {
                Ok(minted) if !minted.jwt.is_empty() => Ok(minted.jwt),
                _ => Err(TemplateTokenError::Clerk(BackendApiError::Unavailable(
                    "unexpected token object".into(),
                ))),
            },
            404 => Err(TemplateTokenError::TemplateNotFound(template.to_owned())),
            401 | 403 => Err(TemplateTokenError::Clerk(BackendApiError::SecretKeyInvalid)),
            _ => Err(TemplateTokenError::Clerk(BackendApiError::Unavailable(
                format!("answered {status}"),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_are_safe_path_segments() {
        for good in ["supabase", "hasura-v2", "convex_1", "a.b", "A1"] {
            assert!(check_template_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in [
            "", ".", "..", "a/b", "a?b", "a b", "a%2Fb", "é", "a#", &long,
        ] {
            assert!(check_template_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_is_kept_only_until_shortly_before_it_expires() {
        let token = |expires_at| TemplateToken {
            jwt: Arc::from("x"),
            expires_at,
        };
        assert!(fresh(&token(Some(now() + 60))));
        assert!(!fresh(&token(Some(now() + RENEW_BEFORE_SECS))));
        assert!(!fresh(&token(Some(now() - 1))));
        assert!(!fresh(&token(None)));
    }
}
