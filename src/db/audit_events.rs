//! The audit trail of administrators' actions on users: every SQL statement that touches the
//! `audit_events` table.
//!
//! Rows are only ever inserted: nothing in the app updates or deletes them, so that the trail
//! says what was attempted even when the attempt failed.

use std::fmt::Write as _;

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};

use super::pagination::{Keyed, PageStart, Window};
use super::{query, query_as, unit};
use crate::observability::valid_request_id;

/// One attempt by an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    /// Who really acted: the Clerk user id of the administrator, or, when someone else acted as
    /// the administrator's session (Clerk's `act` claim), that actor's id.
    pub actor: String,
    /// When someone else acted (`actor`): the Clerk user id of the administrator acted as.
    pub acted_as: Option<String>,
    /// When someone else acted: `impersonator` (Clerk's dashboard impersonation) or `agent`.
    pub actor_type: Option<String>,
    /// `ban`, `unban`, `revoke-sessions` or `set-role`.
    pub action: String,
    /// The Clerk user id of the user acted on (or the id as given, when no user had it).
    pub target: String,
    /// What was asked, as JSON (`{"role":"admin"}`, `{"sessions":2}`, `{}`).
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// `ok`, or the error code the attempt was answered with.
    pub result: String,
    /// What happened at Clerk: `not-asked` (refused first, or local mode), `done`, `failed`,
    /// `partial` (some sessions ended, not all), `reverted` (undone by the last-admin rule) or
    /// `revert-failed`. `null` on events recorded before this was.
    pub clerk_outcome: Option<String>,
    /// What happened here: `written`, `not-written`, `superseded` (a newer word from Clerk was
    /// stored already, and kept) or `failed` (the database failed after Clerk made the change).
    pub local_outcome: Option<String>,
    #[serde(with = "super::users::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// The `x-request-id` of the request that made the attempt.
    pub request_id: String,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    actor: String,
    acted_as: Option<String>,
    actor_type: Option<String>,
    action: String,
    target: String,
    parameters: String,
    result: String,
    clerk_outcome: Option<String>,
    local_outcome: Option<String>,
    created_at: i64,
    request_id: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        AuditEvent {
            id: row.id,
            actor: row.actor,
            acted_as: row.acted_as,
            actor_type: row.actor_type,
            action: row.action,
            target: row.target,
            // Written by `record` from a `Value`, so it parses; anything else shows as text.
            parameters: serde_json::from_str(&row.parameters)
                .unwrap_or(serde_json::Value::String(row.parameters)),
            result: row.result,
            clerk_outcome: row.clerk_outcome,
            local_outcome: row.local_outcome,
            created_at: row.created_at,
            request_id: row.request_id,
        }
    }
}

const COLUMNS: &str = "id, actor, acted_as, actor_type, action, target, parameters, result, \
                       clerk_outcome, local_outcome, created_at, request_id";

/// An attempt to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub actor: &'a str,
    /// The user acted as, when `actor` is someone else acting (Clerk's `act` claim).
    pub acted_as: Option<&'a str>,
    /// `impersonator` or `agent`, with `acted_as`.
    pub actor_type: Option<&'a str>,
    pub action: &'a str,
    pub target: &'a str,
    pub parameters: &'a serde_json::Value,
    pub result: &'a str,
    pub clerk_outcome: &'a str,
    pub local_outcome: &'a str,
    pub created_at: i64,
    /// Stored only when [`valid_request_id`] accepts it (the request log replaces any other, so
    /// this is a second line of defence): else empty.
    pub request_id: &'a str,
}

/// Inserts one row, inside the transaction of the change it records or a [`Unit`](super::Unit).
pub async fn record(
    conn: &mut AnyConnection,
    event: &NewAuditEvent<'_>,
) -> Result<(), sqlx::Error> {
    query(
        "INSERT INTO audit_events (actor, action, target, parameters, result, created_at, \
         request_id, clerk_outcome, local_outcome, acted_as, actor_type) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(event.actor)
    .bind(event.action)
    .bind(event.target)
    .bind(event.parameters.to_string())
    .bind(event.result)
    .bind(event.created_at)
    .bind(if valid_request_id(event.request_id) {
        event.request_id
    } else {
        ""
    })
    .bind(event.clerk_outcome)
    .bind(event.local_outcome)
    .bind(event.acted_as)
    .bind(event.actor_type)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Which rows a list shows: each filter, when set, must match exactly.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    pub actor: Option<&'a str>,
    pub target: Option<&'a str>,
    pub action: Option<&'a str>,
}

impl Keyed for AuditEvent {
    fn key(&self) -> i64 {
        self.id
    }
}

/// A page of the rows matching `filter`, newest first, by keyset on `id`.
pub async fn list(
    pool: &AnyPool,
    filter: AuditFilter<'_>,
    start: PageStart,
    limit: u32,
) -> Result<Window<AuditEvent>, sqlx::Error> {
    let (bound, order, anchor) = start.keyset();
    let mut conditions = String::new();
    let mut values = Vec::new();
    for (column, value) in [
        ("actor", filter.actor),
        ("target", filter.target),
        ("action", filter.action),
    ] {
        if let Some(value) = value {
            values.push(value);
            let _ = write!(conditions, " AND {column} = ${}", values.len() + 2);
        }
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events WHERE id {bound} $1{conditions} \
         ORDER BY id {order} LIMIT $2"
    );
    let mut statement = query_as::<AuditRow>(&sql)
        .bind(anchor)
        .bind(i64::from(limit) + 1);
    for value in values {
        statement = statement.bind(value);
    }
    let mut unit = unit(pool).await?;
    let rows = statement.fetch_all(&mut *unit).await?;
    unit.finish().await?;
    Ok(start.window(rows.into_iter().map(AuditEvent::from).collect(), limit))
}
