//! Token parsing without keys: `inspect_header` and `unverified_claims` on any string, and
//! `explain_claims` (the verifier's claim rules, in words) on any claims object, under several
//! rule sets and clocks, extreme settings included.
//!
//! The first input byte picks the rules and the clock; the rest is read both as a token and as a
//! claims JSON object.

#![no_main]

use clerk_rocket::clerk::token::{
    explain_claims, inspect_header, unverified_claims, Rules, MAX_TOKEN_BYTES,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// The claims `explain_claims` reports, always all of them, in the verifier's order.
const RULES: usize = 10;

fn rules(mode: u8) -> Rules {
    Rules {
        issuer: "https://clerk.example.com".into(),
        audience: (mode & 1 != 0).then(|| "https://api.example.com".into()),
        authorized_parties: if mode & 2 != 0 {
            vec!["https://app.example.com".into(), "http://localhost:3000".into()]
        } else {
            vec![]
        },
        clock_skew_secs: [0, 5, 86_400, u64::MAX][usize::from((mode >> 2) & 3)],
        max_lifetime_secs: [60, 86_400, 0, u64::MAX][usize::from((mode >> 4) & 3)],
    }
}

fn now(mode: u8) -> i64 {
    [1_750_000_000, 0, 253_402_300_799, i64::MAX][usize::from(mode >> 6)]
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (rules, now) = (rules(mode), now(mode));
    if let Ok(text) = std::str::from_utf8(rest) {
        let header = inspect_header(text);
        if text.len() > MAX_TOKEN_BYTES {
            assert!(header.is_err(), "a token over the size limit was accepted");
        }
        if let Ok(header) = header {
            assert_eq!(text.split('.').count(), 3);
            if let Some(kid) = header.kid {
                assert!(!kid.is_empty());
            }
        }
        if let Some(claims) = unverified_claims(text) {
            let _ = explain_claims(&claims, &rules, now);
        }
    }
    if let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(rest) {
        let checks = explain_claims(&claims, &rules, now);
        assert!(!checks.is_empty() && checks.len() <= RULES + 2, "{checks:?}");
        for check in &checks {
            // What the refusal says must be printable as the API answers it.
            if let Some(failure) = &check.failure {
                let _ = failure.to_string();
                let _ = failure.reason.code();
            }
        }
    }
});
