//! Clerk webhook deliveries as Svix signs them, made independently of the app's own verifier.

use base64::Engine as _;
use serde_json::{json, Value};

use super::keys::now;

/// A webhook signing secret for tests (`whsec_` + base64 of 32 bytes).
pub const WEBHOOK_SECRET: &str = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0zMi1ieXRlcy1sb25nIQ==";

/// `v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`.
#[must_use]
pub fn sign_webhook(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = aws_lc_rs::hmac::sign(&key, &signed);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// A Clerk event envelope around `data`, as Svix delivers it.
#[must_use]
#[allow(
    clippy::needless_pass_by_value,
    reason = "callers write the data as a `json!` literal in place"
)]
pub fn clerk_event(kind: &str, data: Value) -> Vec<u8> {
    json!({
        "data": data,
        "object": "event",
        "type": kind,
        "timestamp": now() * 1000,
        "instance_id": "ins_test",
        "event_attributes": { "http_request": { "client_ip": "", "user_agent": "" } },
    })
    .to_string()
    .into_bytes()
}

/// A Clerk user object (`UserJSON`) as `user.created`/`user.updated` carry it.
#[must_use]
pub fn clerk_user(id: &str, email: &str, updated_at_ms: i64) -> Value {
    json!({
        "id": id,
        "object": "user",
        "username": null,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "image_url": "https://img.clerk.com/ada",
        "has_image": true,
        "primary_email_address_id": "idn_primary",
        "email_addresses": [
            { "id": "idn_other", "email_address": format!("other.{email}"), "object": "email_address",
              "verification": { "status": "verified", "strategy": "email_code" }, "linked_to": [] },
            { "id": "idn_primary", "email_address": email, "object": "email_address",
              "verification": { "status": "verified", "strategy": "email_code" }, "linked_to": [] }
        ],
        "phone_numbers": [],
        "external_accounts": [],
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "banned": false,
        "locked": false,
        "created_at": 1_700_000_000_000i64,
        "updated_at": updated_at_ms,
        "last_sign_in_at": null,
    })
}

/// A Clerk organization object (`OrganizationJSON`) as `organization.created`/`.updated` carry it
/// and the Backend API lists it.
#[must_use]
pub fn clerk_organization(id: &str, name: &str, slug: &str, updated_at_ms: i64) -> Value {
    json!({
        "id": id,
        "object": "organization",
        "name": name,
        "slug": slug,
        "image_url": "https://img.clerk.com/org",
        "has_image": false,
        "members_count": 1,
        "max_allowed_memberships": 5,
        "admin_delete_enabled": true,
        "public_metadata": {},
        "created_by": "user_creator",
        "created_at": 1_700_000_000_000i64,
        "updated_at": updated_at_ms,
    })
}

/// A Clerk membership object (`OrganizationMembershipJSON`) as `organizationMembership.*` carry
/// it (on `deleted` too) and the Backend API lists it.
#[must_use]
pub fn clerk_membership(
    id: &str,
    org_id: &str,
    user_id: &str,
    role: &str,
    permissions: &[&str],
    updated_at_ms: i64,
) -> Value {
    json!({
        "id": id,
        "object": "organization_membership",
        "role": role,
        "role_name": role.trim_start_matches("org:"),
        "permissions": permissions,
        "public_metadata": {},
        "created_at": 1_700_000_000_000i64,
        "updated_at": updated_at_ms,
        "organization": clerk_organization(org_id, "Nested", "nested", 1),
        "public_user_data": {
            "user_id": user_id,
            "identifier": format!("{user_id}@example.test"),
            "first_name": null,
            "last_name": null,
            "image_url": "",
            "has_image": false,
        },
    })
}
