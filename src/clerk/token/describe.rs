//! Claims in words, for `clerk-rocket check --token` and for refusal messages.

use serde_json::Value;

/// A claim's value in words, for [`super::ClaimCheck::found`]: text quoted and shortened, times also as
/// dates relative to `now`.
pub(super) fn describe(value: Option<&Value>, now: i64) -> String {
    match value {
        None | Some(Value::Null) => "absent".into(),
        Some(Value::String(s)) if s.is_empty() => "empty".into(),
        Some(Value::String(s)) => format!("{:?}", truncate(s)),
        Some(Value::Number(n)) => match n.as_f64() {
            // Plausible unix times (after 2001) are shown as dates too.
            Some(secs) if secs > 1e9 => describe_time(secs, now),
            _ => n.to_string(),
        },
        Some(other) => truncate(&other.to_string()),
    }
}

/// A unix time as `2026-11-26T07:00:00Z`, or as the number when it is out of range.
#[allow(clippy::cast_possible_truncation)] // out of range shows as the number
pub(super) fn rfc3339(secs: f64) -> String {
    let whole = secs as i64;
    time::OffsetDateTime::from_unix_timestamp(whole)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| whole.to_string())
}

/// A unix time as `1764140000 (2026-11-26T07:00:00Z, 75 s ago)`.
#[allow(clippy::cast_possible_truncation)] // out of range shows as the number
fn describe_time(secs: f64, now: i64) -> String {
    let whole = secs as i64;
    let date = time::OffsetDateTime::from_unix_timestamp(whole)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    let delta = whole.saturating_sub(now);
    let relative = match delta {
        0 => "now".to_owned(),
        d if d > 0 => format!("in {d} s"),
        d => format!("{} s ago", d.unsigned_abs()),
    };
    match date {
        Some(date) => format!("{whole} ({date}, {relative})"),
        None => whole.to_string(),
    }
}

/// Client-supplied text as a message may echo it: short, printable ASCII only (`crate::echo`).
pub(super) fn truncate(s: &str) -> String {
    crate::echo::printable(s, 100)
}
