//! Clerk webhooks as Svix delivers them: signature verification and the event types this app reads.
//!
//! Verification follows Svix and Standard Webhooks exactly (`clerk-auth-spec.md` §6): the key is
//! the `whsec_` secret with its prefix stripped, base64-decoded; the signed content is
//! `"{svix-id}.{svix-timestamp}.{raw body}"`; the `svix-signature` header is a space-separated
//! list of `v1,<base64 HMAC-SHA256>` entries, of which any one may match (compared in constant
//! time; other versions are skipped); the timestamp must be within five minutes of now, either
//! way. Everything here is pure: no Rocket, no database.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::backend_api::BackendUser;
use super::organizations::{BackendMembership, BackendOrganization, DeletedOrganization};

/// Bodies larger than this are refused before any hashing.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// How far the `svix-timestamp` may be from now, in either direction.
pub const TOLERANCE_SECS: i64 = 5 * 60;

const SECRET_PREFIX: &str = "whsec_";

/// Why a delivery was refused. The messages name the problem, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook signing secret is not whsec_ followed by base64")]
    InvalidSecret,
    #[error("missing webhook headers: {}", .0.join(", "))]
    MissingHeaders(Vec<&'static str>),
    #[error("the svix-timestamp header is not a unix time in seconds")]
    InvalidTimestamp,
    #[error("the message timestamp is too old (more than 5 minutes before this server's clock)")]
    TimestampTooOld,
    #[error("the message timestamp is too new (more than 5 minutes after this server's clock)")]
    TimestampTooNew,
    #[error("no matching signature found")]
    NoMatchingSignature,
    #[error("the signed payload is not a Clerk event: {0}")]
    InvalidPayload(String),
}

/// The HMAC key of a `whsec_…` signing secret.
pub struct WebhookSecret {
    key: hmac::Key,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    /// Strips `whsec_` (optional, as in Svix's libraries) and base64-decodes the rest.
    pub fn parse(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret)?;
        if bytes.is_empty() {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(WebhookSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        context.sign()
    }

    /// The `v1,<base64>` signature of a message, as Svix computes it.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.tag(id, timestamp, body);
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
        )
    }
}

/// The three Svix headers as received (`svix-*`, or the Standard Webhooks `webhook-*` names).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A delivery whose signature matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The Svix message id: the same on every retry of one message.
    pub id: String,
    pub timestamp: i64,
}

/// Checks `body` against the headers with `secret`, as of the unix time `now`.
pub fn verify(
    secret: &WebhookSecret,
    headers: &SignedHeaders<'_>,
    body: &[u8],
    now: i64,
) -> Result<Verified, WebhookError> {
    // Whitespace-only values count as missing (Clerk's SDK tests).
    fn present(value: Option<&str>) -> Option<&str> {
        value.map(str::trim).filter(|v| !v.is_empty())
    }
    let (id, timestamp, signature) = (
        present(headers.id),
        present(headers.timestamp),
        present(headers.signature),
    );
    let mut missing = Vec::new();
    if id.is_none() {
        missing.push("svix-id");
    }
    if timestamp.is_none() {
        missing.push("svix-timestamp");
    }
    if signature.is_none() {
        missing.push("svix-signature");
    }
    let (Some(id), Some(timestamp), Some(signature)) = (id, timestamp, signature) else {
        return Err(WebhookError::MissingHeaders(missing));
    };
    let timestamp = parse_timestamp(timestamp)?;
    if now - timestamp > TOLERANCE_SECS {
        return Err(WebhookError::TimestampTooOld);
    }
    if timestamp > now + TOLERANCE_SECS {
        return Err(WebhookError::TimestampTooNew);
    }
    let expected = secret.tag(id, timestamp, body);
    let matched = signature.split_whitespace().any(|entry| {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            return false;
        };
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .is_ok_and(|given| {
                constant_time::verify_slices_are_equal(&given, expected.as_ref()).is_ok()
            })
    });
    if matched {
        Ok(Verified {
            id: id.to_owned(),
            timestamp,
        })
    } else {
        Err(WebhookError::NoMatchingSignature)
    }
}

/// An integer of unix seconds: digits only (Svix signs the number as it parsed it).
fn parse_timestamp(text: &str) -> Result<i64, WebhookError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::InvalidTimestamp);
    }
    text.parse().map_err(|_| WebhookError::InvalidTimestamp)
}

/// Clerk's event envelope: `{data, object: "event", type, timestamp, instance_id, …}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// `user.deleted` carries only `{object: "user", id, deleted: true}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DeletedUser {
    pub id: String,
}

/// A Clerk session object, as session events carry it; only the fields this app reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SessionData {
    pub id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    /// When the session would have expired, in milliseconds.
    #[serde(default)]
    pub expire_at: Option<i64>,
}

/// The events this app acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `user.created` or `user.updated`: the whole user object.
    UserUpserted { kind: String, user: BackendUser },
    /// `user.deleted`.
    UserDeleted(DeletedUser),
    /// `session.ended`, `session.removed` or `session.revoked`: the session can no longer be used.
    SessionEnded { kind: String, session: SessionData },
    /// `organization.created` or `organization.updated`: the whole organization object.
    OrganizationUpserted {
        kind: String,
        organization: BackendOrganization,
    },
    /// `organization.deleted`.
    OrganizationDeleted(DeletedOrganization),
    /// `organizationMembership.created`, `.updated` or `.deleted`: the whole membership.
    Membership {
        kind: String,
        membership: BackendMembership,
    },
    /// Any other type: acknowledged and ignored.
    Other { kind: String },
}

impl Event {
    /// The event's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Event::UserUpserted { kind, .. }
            | Event::SessionEnded { kind, .. }
            | Event::OrganizationUpserted { kind, .. }
            | Event::Membership { kind, .. }
            | Event::Other { kind } => kind,
            Event::UserDeleted(_) => "user.deleted",
            Event::OrganizationDeleted(_) => "organization.deleted",
        }
    }
}

/// Parses a verified body. Unknown types are [`Event::Other`]; a known type whose data lacks
/// what this app needs is an error.
pub fn parse_event(body: &[u8]) -> Result<Event, WebhookError> {
    let envelope: Envelope = super::json::parse(body)
        .map_err(|e| WebhookError::InvalidPayload(format!("not an event envelope ({e})")))?;
    let kind = envelope.kind;
    let data = envelope.data;
    let (event, id) = match kind.as_str() {
        "user.created" | "user.updated" => {
            let user: BackendUser = read(&kind, data, "a user")?;
            let id = user.id.clone();
            (Event::UserUpserted { kind, user }, id)
        }
        "user.deleted" => {
            let user: DeletedUser = read(&kind, data, "a deleted user")?;
            let id = user.id.clone();
            (Event::UserDeleted(user), id)
        }
        "session.ended" | "session.removed" | "session.revoked" => {
            let session: SessionData = read(&kind, data, "a session")?;
            let id = session.id.clone();
            (Event::SessionEnded { kind, session }, id)
        }
        "organization.created" | "organization.updated" => {
            let organization: BackendOrganization = read(&kind, data, "an organization")?;
            let id = organization.id.clone();
            (Event::OrganizationUpserted { kind, organization }, id)
        }
        "organization.deleted" => {
            let organization: DeletedOrganization = read(&kind, data, "a deleted organization")?;
            let id = organization.id.clone();
            (Event::OrganizationDeleted(organization), id)
        }
        "organizationMembership.created"
        | "organizationMembership.updated"
        | "organizationMembership.deleted" => {
            let membership: BackendMembership = read(&kind, data, "an organization membership")?;
            // Each of the three ids names a row: an empty one refuses the event.
            let ids = [
                &membership.id,
                &membership.organization.id,
                &membership.public_user_data.user_id,
            ];
            let id = if ids.iter().any(|id| id.trim().is_empty()) {
                String::new()
            } else {
                membership.id.clone()
            };
            (Event::Membership { kind, membership }, id)
        }
        _ => return Ok(Event::Other { kind }),
    };
    if id.trim().is_empty() {
        return Err(WebhookError::InvalidPayload(format!(
            "{} data has an empty id",
            event.kind()
        )));
    }
    Ok(event)
}

fn read<T: serde::de::DeserializeOwned>(
    kind: &str,
    data: Value,
    what: &str,
) -> Result<T, WebhookError> {
    serde_json::from_value(data)
        .map_err(|e| WebhookError::InvalidPayload(format!("{kind} data is not {what} ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The published Svix / Standard Webhooks test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    fn check(sig: &str, ts: &str, now: i64) -> Result<Verified, WebhookError> {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        verify(&secret, &headers(ID, ts, sig), PAYLOAD, now)
    }

    #[test]
    fn the_published_test_vector_signs_and_verifies() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(secret.sign(ID, TS, PAYLOAD), SIGNATURE);
        let verified = check(SIGNATURE, "1614265330", TS).unwrap();
        assert_eq!(verified.id, ID);
        assert_eq!(verified.timestamp, TS);
        // The prefix is optional, as in Svix's libraries.
        let bare = WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(bare.sign(ID, TS, PAYLOAD), SIGNATURE);
    }

    #[test]
    fn wrong_truncated_and_other_version_signatures_fail() {
        let ts = "1614265330";
        let wrong = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=";
        let truncated = &SIGNATURE[..SIGNATURE.len() - 8];
        let v2 = SIGNATURE.replace("v1,", "v2,");
        let v1a = SIGNATURE.replace("v1,", "v1a,");
        let no_comma = SIGNATURE.replace("v1,", "v1");
        for sig in [
            wrong, truncated, &v2, &v1a, &no_comma, "v1,", "v1,%%%", "garbage",
        ] {
            assert_eq!(
                check(sig, ts, TS),
                Err(WebhookError::NoMatchingSignature),
                "{sig}"
            );
        }
        let other_body = verify(
            &WebhookSecret::parse(SECRET).unwrap(),
            &headers(ID, ts, SIGNATURE),
            br#"{"test":2432232314}"#,
            TS,
        );
        assert_eq!(other_body, Err(WebhookError::NoMatchingSignature));
        let other_id = verify(
            &WebhookSecret::parse(SECRET).unwrap(),
            &headers("msg_other", ts, SIGNATURE),
            PAYLOAD,
            TS,
        );
        assert_eq!(other_id, Err(WebhookError::NoMatchingSignature));
        let other_secret = verify(
            &WebhookSecret::parse("whsec_c2VjcmV0").unwrap(),
            &headers(ID, ts, SIGNATURE),
            PAYLOAD,
            TS,
        );
        assert_eq!(other_secret, Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn any_one_of_several_signatures_is_enough() {
        let ts = "1614265330";
        let several = format!("v1,Zm9v v2,abc {SIGNATURE} v1,bm9wZQ==");
        assert!(check(&several, ts, TS).is_ok());
        let spaced = format!("  v1,bm9wZQ==   {SIGNATURE}  ");
        assert!(check(&spaced, ts, TS).is_ok());
        assert_eq!(
            check("v1,Zm9v v1,bm9wZQ==", ts, TS),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn timestamps_within_five_minutes_either_way() {
        let ts = "1614265330";
        assert!(check(SIGNATURE, ts, TS + 300).is_ok(), "just inside, late");
        assert!(check(SIGNATURE, ts, TS - 300).is_ok(), "just inside, early");
        assert_eq!(
            check(SIGNATURE, ts, TS + 301),
            Err(WebhookError::TimestampTooOld)
        );
        assert_eq!(
            check(SIGNATURE, ts, TS - 301),
            Err(WebhookError::TimestampTooNew)
        );
        for bad in [
            "abc",
            "-1614265330",
            "1614265330.5",
            "1e9",
            "99999999999999999999",
        ] {
            assert_eq!(
                check(SIGNATURE, bad, TS),
                Err(WebhookError::InvalidTimestamp),
                "{bad}"
            );
        }
        // Surrounding whitespace is trimmed, as Svix does.
        assert!(check(SIGNATURE, " 1614265330 ", TS).is_ok());
    }

    #[test]
    fn missing_and_blank_headers_are_listed() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        let none = verify(&secret, &SignedHeaders::default(), PAYLOAD, TS);
        assert_eq!(
            none,
            Err(WebhookError::MissingHeaders(vec![
                "svix-id",
                "svix-timestamp",
                "svix-signature"
            ]))
        );
        let blank = verify(&secret, &headers(ID, "  ", SIGNATURE), PAYLOAD, TS);
        assert_eq!(
            blank,
            Err(WebhookError::MissingHeaders(vec!["svix-timestamp"]))
        );
    }

    #[test]
    fn secrets_must_decode_to_a_key() {
        for bad in ["whsec_", "whsec_!!!", "", "whsec_%%%%"] {
            assert_eq!(
                WebhookSecret::parse(bad).unwrap_err(),
                WebhookError::InvalidSecret,
                "{bad}"
            );
        }
        assert!(!format!("{:?}", WebhookSecret::parse(SECRET).unwrap()).contains("MfKQ"));
    }

    #[test]
    fn events_parse() {
        let created = br#"{"type":"user.created","object":"event","timestamp":1,
            "data":{"id":"user_1","username":null,"first_name":"A","banned":true,
            "public_metadata":{"role":"admin"},"updated_at":1700000000123,
            "primary_email_address_id":"idn_1",
            "email_addresses":[{"id":"idn_1","email_address":"a@b.test","verification":null}]}}"#;
        let Event::UserUpserted { kind, user } = parse_event(created).unwrap() else {
            panic!("a user event");
        };
        assert_eq!(kind, "user.created");
        assert_eq!(user.id, "user_1");
        assert!(user.banned);
        assert_eq!(user.role(), Some("admin"));
        assert_eq!(user.updated_at, Some(1_700_000_000_123));
        assert_eq!(user.primary_email(), Some("a@b.test"));

        let deleted =
            br#"{"type":"user.deleted","data":{"object":"user","id":"user_1","deleted":true}}"#;
        assert_eq!(
            parse_event(deleted).unwrap(),
            Event::UserDeleted(DeletedUser {
                id: "user_1".into()
            })
        );
        let ended = br#"{"type":"session.revoked","data":{"id":"sess_1","user_id":"user_1","expire_at":1700000000000,"status":"revoked"}}"#;
        assert!(matches!(
            parse_event(ended).unwrap(),
            Event::SessionEnded { session, .. } if session.id == "sess_1"
        ));
        let org = br#"{"type":"organization.updated","data":{"id":"org_1","object":"organization","name":"Acme","slug":"acme","updated_at":7}}"#;
        assert!(matches!(
            parse_event(org).unwrap(),
            Event::OrganizationUpserted { organization, .. } if organization.name == "Acme"
        ));
        let gone = br#"{"type":"organization.deleted","data":{"object":"organization","id":"org_1","deleted":true}}"#;
        assert_eq!(parse_event(gone).unwrap().kind(), "organization.deleted");
        let member = br#"{"type":"organizationMembership.deleted","data":{"id":"orgmem_1","role":"org:member",
            "organization":{"id":"org_1","name":"Acme"},"public_user_data":{"user_id":"user_1"}}}"#;
        assert!(matches!(
            parse_event(member).unwrap(),
            Event::Membership { membership, .. } if membership.public_user_data.user_id == "user_1"
        ));
        let other = br#"{"type":"email.created","data":{"x":1}}"#;
        assert_eq!(
            parse_event(other).unwrap(),
            Event::Other {
                kind: "email.created".into()
            }
        );
        for bad in [
            &b"not json"[..],
            br#"{"data":{}}"#,
            br#"{"type":"user.updated","data":{"first_name":"no id"}}"#,
            br#"{"type":"user.deleted","data":null}"#,
            br#"{"type":"session.ended","data":{"id":5}}"#,
            br#"{"type":"user.updated","data":{"id":""}}"#,
            br#"{"type":"session.revoked","data":{"id":" "}}"#,
            br#"{"type":"organization.created","data":{"name":"no id"}}"#,
            br#"{"type":"organization.deleted","data":{"id":""}}"#,
            br#"{"type":"organizationMembership.created","data":{"id":"orgmem_1","role":"org:member"}}"#,
            br#"{"type":"organizationMembership.updated","data":{"id":"orgmem_1","role":"org:member",
                "organization":{"id":"org_1"},"public_user_data":{"user_id":""}}}"#,
        ] {
            assert!(
                matches!(parse_event(bad), Err(WebhookError::InvalidPayload(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
