//! `POST /api/webhooks/clerk`: Clerk's events, delivered by Svix.
//!
//! The body is read raw (at most 1 MiB, else 413 before any hashing), its Svix signature checked
//! on those exact bytes (400 when it does not match; 503 when no signing secret is configured),
//! and only then parsed. The message id and the event's effect commit in one transaction, so a
//! retried message is applied once; the answer is 2xx only after that commit, and 5xx when the
//! database fails, so that Svix retries.

use rocket::data::{ByteUnit, Data};
use rocket::request::{self, FromRequest, Request};
use rocket::serde::json::Json;
use rocket::{Route, State};

use crate::auth::Caches;
use crate::clerk::token::now;
use crate::clerk::webhook::{self, Event, SignedHeaders, WebhookError};
use crate::clerk::Clerk;
use crate::db::revoked_sessions as sessions;
use crate::db::users;
use crate::db::webhook_events::{self as webhook_log, PruneClock};
use crate::db::{write_transaction, Db};
use crate::error::{ApiError, ApiResult};
use crate::observability::Metrics;
use crate::sync::org_merge;
use crate::sync::profile::{self, Applied, ClerkProfile};

/// The Svix headers of the request (`svix-*`, else the Standard Webhooks `webhook-*` names).
pub(super) struct Signed<'r>(SignedHeaders<'r>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Signed<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let header = |name: &str| {
            let headers = request.headers();
            headers
                .get_one(&format!("svix-{name}"))
                .or_else(|| headers.get_one(&format!("webhook-{name}")))
        };
        request::Outcome::Success(Signed(SignedHeaders {
            id: header("id"),
            timestamp: header("timestamp"),
            signature: header("signature"),
        }))
    }
}

/// What a delivery did, as the answer says it (Svix's dashboard shows answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    /// Older than what is stored.
    Stale,
    /// About a user that is deleted here: it stays deleted.
    UserDeleted,
    /// About an organization or membership deleted here (or a membership of an organization
    /// deleted here): it stays deleted.
    Deleted,
    /// A type this app does not act on.
    Ignored,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::UserDeleted => "user-deleted",
            Outcome::Deleted => "deleted",
            Outcome::Ignored => "ignored",
        }
    }
}

fn invalid(e: &WebhookError) -> ApiError {
    let code = match e {
        WebhookError::InvalidPayload(_) => "webhook-payload-invalid",
        _ => "webhook-signature-invalid",
    };
    ApiError::InvalidWebhook {
        code,
        message: e.to_string(),
    }
}

/// The answer to a delivery Svix may stop retrying.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(clippy::struct_field_names)] // the JSON answer names it so
pub struct Received {
    pub received: bool,
    /// The `svix-id` of the delivery.
    pub id: String,
    /// The event type (`user.updated`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// `applied`, `duplicate`, `stale`, `user-deleted`, `deleted` or `ignored`.
    pub outcome: String,
}

/// Clerk's webhooks, verified as Svix signs them (`svix-id`, `svix-timestamp`,
/// `svix-signature`), applied exactly once.
#[utoipa::path(post, path = "/api/webhooks/clerk", tag = "webhooks",
    request_body(content = String, description = "A Clerk event envelope, as Svix delivers it (at most 1 MiB)", content_type = "application/json"),
    params(
        ("svix-id" = String, Header, description = "The message id"),
        ("svix-timestamp" = i64, Header, description = "Unix seconds; within 5 minutes of now"),
        ("svix-signature" = String, Header, description = "Space-separated `v1,<base64>` signatures"),
    ),
    responses(
        (status = 200, body = Received),
        (status = 400, description = "A bad or missing signature, or not a Clerk event", body = crate::error::ErrorBody),
        (status = 413, description = "A body over 1 MiB", body = crate::error::ErrorBody),
        (status = 503, description = "No signing secret configured, or the database failed (Svix retries)", body = crate::error::ErrorBody),
    ))]
#[rocket::post("/webhooks/clerk", data = "<data>")]
pub async fn clerk_webhook(
    signed: Signed<'_>,
    data: Data<'_>,
    clerk: &State<Clerk>,
    db: &Db,
    caches: Caches<'_>,
    prune_clock: &State<PruneClock>,
    metrics: &State<Metrics>,
) -> ApiResult<Json<Received>> {
    let count = |kind: &str, result: &str| {
        metrics
            .webhook_events
            .with_label_values(&[kind, result])
            .inc();
    };
    let Some(secret) = &clerk.webhook_secret else {
        return Err(ApiError::Unavailable {
            code: "webhook-secret-missing",
            message: "webhooks are not configured here: set CLERK_WEBHOOK_SIGNING_SECRET".into(),
            retry_after: 60,
        });
    };
    let body = data
        .open(ByteUnit::from(webhook::MAX_BODY_BYTES))
        .into_bytes()
        .await
        .map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
    if !body.is_complete() {
        return Err(ApiError::PayloadTooLarge(
            "webhook bodies are limited to 1 MiB".into(),
        ));
    }
    let now = now();
    let verified = webhook::verify(secret, &signed.0, &body, now).map_err(|e| {
        count("unverified", "invalid");
        invalid(&e)
    })?;
    let event = webhook::parse_event(&body).map_err(|e| {
        count("unparsable", "invalid");
        invalid(&e)
    })?;
    let outcome = apply(db, &verified.id, &event, now).await.map_err(|e| {
        rocket::error!(
            "webhook {} ({}) not applied, Svix will retry: {e}",
            verified.id,
            event.kind()
        );
        count(event.kind(), "error");
        ApiError::from(e)
    })?;
    count(event.kind(), outcome.as_str());
    // This instance serves the change from its next request; others within their cache bound.
    match (&event, outcome) {
        (Event::SessionEnded { session, .. }, Outcome::Applied) => {
            caches.revocations.forget(&session.id).await;
        }
        (Event::UserUpserted { user, .. }, _) => caches.users.forget(&user.id),
        (Event::UserDeleted(deleted), _) => caches.users.forget(&deleted.id),
        (Event::OrganizationUpserted { .. }, _) => {
            clerk.note_organizations();
            caches.orgs.forget_all();
        }
        (Event::OrganizationDeleted(_), _) => caches.orgs.forget_all(),
        (Event::Membership { membership, .. }, _) => {
            clerk.note_organizations();
            caches.orgs.forget(
                &membership.public_user_data.user_id,
                &membership.organization.id,
            );
        }
        _ => {}
    }
    if prune_clock.due(now) {
        prune(db, now).await;
    }
    Ok(Json(Received {
        received: true,
        id: verified.id.clone(),
        kind: event.kind().to_owned(),
        outcome: outcome.as_str().to_owned(),
    }))
}

/// Records the message id and applies the event in one transaction.
async fn apply(
    pool: &sqlx::AnyPool,
    svix_id: &str,
    event: &Event,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let mut tx = write_transaction(pool).await?;
    // First, so that a concurrent delivery of the same id waits for this one (PostgreSQL).
    if !webhook_log::record(&mut tx, svix_id, event.kind(), now).await? {
        tx.rollback().await?;
        return Ok(Outcome::Duplicate);
    }
    let outcome = match event {
        Event::UserUpserted { user, .. } => {
            match profile::upsert_from_clerk(&mut tx, &ClerkProfile::from(user), now).await? {
                Applied::Created | Applied::Updated | Applied::Unchanged => Outcome::Applied,
                Applied::Stale => Outcome::Stale,
                Applied::Deleted => Outcome::UserDeleted,
            }
        }
        Event::UserDeleted(deleted) => {
            users::mark_deleted(&mut tx, &deleted.id, now).await?;
            Outcome::Applied
        }
        Event::SessionEnded { session, .. } => {
            let expires_at = now + sessions::RETENTION_SECS;
            sessions::revoke(
                &mut tx,
                &session.id,
                session.user_id.as_deref(),
                now,
                expires_at,
            )
            .await?;
            Outcome::Applied
        }
        Event::OrganizationUpserted { organization, .. } => {
            merged(org_merge::upsert_organization(&mut tx, organization, now).await?)
        }
        Event::OrganizationDeleted(deleted) => {
            org_merge::delete_organization(&mut tx, &deleted.id, now).await?;
            Outcome::Applied
        }
        Event::Membership { kind, membership } if kind.ends_with(".deleted") => {
            org_merge::delete_membership(&mut tx, membership, now).await?;
            Outcome::Applied
        }
        Event::Membership { membership, .. } => {
            merged(org_merge::upsert_membership(&mut tx, membership, now).await?)
        }
        Event::Other { .. } => Outcome::Ignored,
    };
    tx.commit().await?;
    Ok(outcome)
}

/// The outcome of an organization or membership merged into its row.
fn merged(applied: Applied) -> Outcome {
    match applied {
        Applied::Created | Applied::Updated | Applied::Unchanged => Outcome::Applied,
        Applied::Stale => Outcome::Stale,
        Applied::Deleted => Outcome::Deleted,
    }
}

/// Drops processed ids older than their retention and expired revocations; failures are logged
/// (the next hour tries again), never answered.
async fn prune(pool: &sqlx::AnyPool, now: i64) {
    match webhook_log::prune(pool, now).await {
        Ok(0) => {}
        Ok(n) => rocket::info!("pruned {n} processed webhook ids"),
        Err(e) => rocket::warn!("pruning processed webhook ids failed: {e}"),
    }
    match sessions::prune(pool, now).await {
        Ok(0) => {}
        Ok(n) => rocket::info!("pruned {n} expired revoked sessions"),
        Err(e) => rocket::warn!("pruning revoked sessions failed: {e}"),
    }
}

pub fn routes() -> Vec<Route> {
    rocket::routes![clerk_webhook]
}
