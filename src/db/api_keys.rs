//! Local mode's API keys: every SQL statement that touches the `api_keys` table.
//!
//! A secret is shown once, when made, and stored only as its SHA-256: a copy of the database
//! gives nobody a working key.

use sqlx::AnyPool;

use super::{query, query_as, unit};

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKey {
    /// `ak_local_…`: how people name the key (to revoke it, say).
    pub key_id: String,
    pub name: String,
    /// The user (`user_…`) the key acts for, if any.
    pub subject: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The lowercase hex SHA-256 of a secret, as stored.
pub fn secret_hash(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Stores a new key whose secret is `secret`.
pub async fn create(pool: &AnyPool, key: &ApiKey, secret: &str) -> Result<(), sqlx::Error> {
    let mut unit = unit(pool).await?;
    query(
        "INSERT INTO api_keys (key_id, secret_hash, name, subject, created_at, expires_at, \
         revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.key_id)
    .bind(secret_hash(secret))
    .bind(&key.name)
    .bind(&key.subject)
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(key.revoked_at)
    .execute(&mut *unit)
    .await?;
    unit.finish().await
}

/// The key whose secret is `secret`, revoked or not.
pub async fn find_by_secret(pool: &AnyPool, secret: &str) -> Result<Option<ApiKey>, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let key = query_as::<ApiKey>(
        "SELECT key_id, name, subject, created_at, expires_at, revoked_at FROM api_keys \
         WHERE secret_hash = $1",
    )
    .bind(secret_hash(secret))
    .fetch_optional(&mut *unit)
    .await?;
    unit.finish().await?;
    Ok(key)
}

/// Revokes the key `key_id` as of `now`; `false` when there is no such key.
pub async fn revoke(pool: &AnyPool, key_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let result =
        query("UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(key_id)
            .execute(&mut *unit)
            .await?;
    unit.finish().await?;
    Ok(result.rows_affected() == 1)
}
