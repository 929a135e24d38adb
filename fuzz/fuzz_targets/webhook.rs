//! Webhook verification as Svix delivers: `WebhookSecret::parse` on any secret, `verify` on any
//! headers and body (and on a correctly signed delivery, so that the signature check passes), and
//! `parse_event` on any body. A delivery whose signature list holds the right `v1` entry verifies
//! within the tolerance; one without it never does.

#![no_main]

use clerk_rocket::clerk::webhook::{
    parse_event, verify, SignedHeaders, WebhookError, WebhookSecret, TOLERANCE_SECS,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// A realistic clock: the webhook code takes `now` from the system clock.
const NOW: i64 = 1_750_000_000;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Option<String>,
    id: Option<String>,
    timestamp: Timestamp,
    /// Signature entries, joined by spaces; `Good` is the right one.
    signatures: Vec<Entry>,
    body: Body,
}

#[derive(Arbitrary, Debug)]
enum Timestamp {
    Absent,
    /// NOW plus these seconds, as Svix writes it.
    Offset(i32),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Entry {
    Good,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Bytes(Vec<u8>),
    Event {
        kind: Kind,
        data: Vec<(String, Field)>,
    },
}

#[derive(Arbitrary, Debug)]
enum Kind {
    UserCreated,
    UserUpdated,
    UserDeleted,
    SessionEnded,
    SessionRemoved,
    SessionRevoked,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Field {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
    Emails(Vec<(String, String)>),
}

fn body(body: &Body) -> Vec<u8> {
    match body {
        Body::Bytes(bytes) => bytes.clone(),
        Body::Event { kind, data } => {
            let kind = match kind {
                Kind::UserCreated => "user.created",
                Kind::UserUpdated => "user.updated",
                Kind::UserDeleted => "user.deleted",
                Kind::SessionEnded => "session.ended",
                Kind::SessionRemoved => "session.removed",
                Kind::SessionRevoked => "session.revoked",
                Kind::Other(s) => s,
            };
            let data: serde_json::Map<String, serde_json::Value> = data
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Field::Text(s) => serde_json::json!(s),
                        Field::Int(i) => serde_json::json!(i),
                        Field::Bool(b) => serde_json::json!(b),
                        Field::Null => serde_json::Value::Null,
                        Field::Emails(list) => serde_json::json!(list
                            .iter()
                            .map(|(id, email)| serde_json::json!({
                                "id": id,
                                "email_address": email,
                            }))
                            .collect::<Vec<_>>()),
                    };
                    (k.clone(), v)
                })
                .collect();
            serde_json::json!({ "type": kind, "object": "event", "data": data })
                .to_string()
                .into_bytes()
        }
    }
}

fuzz_target!(|input: Input| {
    let body = body(&input.body);
    let _ = parse_event(&body);
    // Any secret that parses signs deliveries that verify.
    if let Some(secret) = input.secret.as_deref().and_then(|s| WebhookSecret::parse(s).ok()) {
        let signature = secret.sign("msg_1", NOW, &body);
        let headers = SignedHeaders {
            id: Some("msg_1"),
            timestamp: Some("1750000000"),
            signature: Some(&signature),
        };
        assert!(verify(&secret, &headers, &body, NOW).is_ok());
    }

    let secret = WebhookSecret::parse(SECRET).expect("a good secret");
    let timestamp = match &input.timestamp {
        Timestamp::Absent => None,
        Timestamp::Offset(offset) => Some((NOW + i64::from(*offset)).to_string()),
        Timestamp::Text(s) => Some(s.clone()),
    };
    let signed_at = timestamp
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok());
    let id = input.id.as_deref();
    let good = match (id.map(str::trim), signed_at) {
        (Some(id), Some(at)) => secret.sign(id, at, &body),
        _ => String::new(),
    };
    let signature: Vec<&str> = input
        .signatures
        .iter()
        .map(|entry| match entry {
            Entry::Good => good.as_str(),
            Entry::Text(s) => s.as_str(),
        })
        .collect();
    let signature = signature.join(" ");
    let headers = SignedHeaders {
        id,
        timestamp: timestamp.as_deref(),
        signature: Some(signature.as_str()),
    };
    let result = verify(&secret, &headers, &body, NOW);
    let has_good = !good.is_empty()
        && input.signatures.iter().any(|e| matches!(e, Entry::Good))
        && id.is_some_and(|id| !id.trim().is_empty());
    match (&result, signed_at) {
        (Ok(verified), _) => {
            assert!((verified.timestamp - NOW).abs() <= TOLERANCE_SECS);
            // Only a v1 entry of the right HMAC verifies: one of the fuzzer's texts matched
            // by chance would be a forged signature.
            assert!(
                has_good
                    || input.signatures.iter().any(|e| match e {
                        Entry::Text(s) => s.split_whitespace().any(|w| w == good),
                        Entry::Good => false,
                    }),
                "verified without the right signature: {input:?}"
            );
        }
        (Err(WebhookError::NoMatchingSignature), Some(at)) if (at - NOW).abs() <= TOLERANCE_SECS => {
            assert!(!has_good, "the right signature was refused: {input:?}");
        }
        (Err(_), _) => {}
    }
});
