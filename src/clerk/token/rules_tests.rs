//! The claim rules, one class of bad token at a time.

use serde_json::json;

use super::*;

const NOW: i64 = 1_800_000_000;

fn rules() -> Rules {
    Rules {
        issuer: "https://clerk.example.test".into(),
        audience: None,
        authorized_parties: vec![],
        clock_skew_secs: 5,
        max_lifetime_secs: 86_400,
    }
}

fn good() -> Value {
    json!({
        "iss": "https://clerk.example.test", "sub": "user_abc", "sid": "sess_abc",
        "iat": NOW, "nbf": NOW - 10, "exp": NOW + 60,
    })
}

fn failure(changes: &Value, rules: &Rules) -> Option<Reason> {
    let mut claims = good();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    first_failure(claims.as_object().unwrap(), rules, NOW).map(|e| e.reason)
}

#[test]
fn a_good_token_passes_every_rule() {
    assert_eq!(failure(&json!({}), &rules()), None);
    let explained = explain_claims(good().as_object().unwrap(), &rules(), NOW);
    assert_eq!(explained.len(), RULES.len());
    assert!(explained.iter().all(|c| c.failure.is_none()));
}

#[test]
fn times_of_the_wrong_type_or_out_of_range_are_refused() {
    let v = Some(Reason::TokenVerificationFailed);
    for claim in ["exp", "nbf", "iat"] {
        for bad in [
            json!("1800000000"),
            json!(true),
            json!([NOW]),
            json!({ "t": NOW }),
            json!(-1),
            json!(1e300),
            json!(9_223_372_036_854_775_807_i64),
            json!(18_446_744_073_709_551_615_u64),
        ] {
            assert_eq!(
                failure(&json!({ claim: bad }), &rules()),
                v,
                "{claim}: {bad}"
            );
        }
    }
    assert_eq!(failure(&json!({ "iat": null }), &rules()), v);
    assert_eq!(failure(&json!({ "nbf": null }), &rules()), None);
}

#[test]
fn ids_and_origins_must_look_like_clerks() {
    let v = Some(Reason::TokenVerificationFailed);
    for bad in [
        json!("user_a\u{0}b"),
        json!("user_a\u{202e}b"),
        json!("user_'; DROP TABLE users;--"),
        json!("user_é"),
        json!("user_"),
        json!("USER_abc"),
        json!(format!("user_{}", "a".repeat(200))),
        json!(42),
        json!(["user_abc"]),
    ] {
        assert_eq!(failure(&json!({ "sub": bad }), &rules()), v, "sub {bad}");
        let sid = bad.as_str().map(|s| s.replacen("user_", "sess_", 1));
        assert_eq!(
            failure(
                &json!({ "sid": sid.map_or(bad.clone(), Value::from) }),
                &rules()
            ),
            v,
            "sid {bad}"
        );
    }
    let azp = Some(Reason::TokenInvalidAuthorizedParties);
    assert_eq!(failure(&json!({ "azp": 7 }), &rules()), azp);
    assert_eq!(failure(&json!({ "azp": "http://a b" }), &rules()), azp);
    let iss = Some(Reason::TokenInvalidIssuer);
    assert_eq!(
        failure(&json!({ "iss": ["https://clerk.example.test"] }), &rules()),
        iss
    );
    assert_eq!(failure(&json!({ "sts": 1 }), &rules()), v);
}

#[test]
fn an_audience_is_refused_unless_configured_and_named() {
    let v = Some(Reason::TokenVerificationFailed);
    for aud in [
        json!("other"),
        json!([]),
        json!(["x"]),
        json!(""),
        json!(null),
    ] {
        let expected = if aud.is_null() { None } else { v };
        assert_eq!(failure(&json!({ "aud": aud }), &rules()), expected, "{aud}");
    }
    let with_aud = Rules {
        audience: Some("api".into()),
        ..rules()
    };
    assert_eq!(failure(&json!({ "aud": "api" }), &with_aud), None);
    assert_eq!(failure(&json!({ "aud": ["x", "api"] }), &with_aud), None);
    assert_eq!(failure(&json!({ "aud": "other" }), &with_aud), v);
    assert_eq!(failure(&json!({}), &with_aud), v);
}

#[test]
fn lifetime_is_bounded() {
    let rules = rules();
    assert_eq!(failure(&json!({ "exp": NOW + 86_400 }), &rules), None);
    assert_eq!(
        failure(&json!({ "exp": NOW + 86_401 }), &rules),
        Some(Reason::TokenVerificationFailed)
    );
}

#[test]
fn messages_never_name_the_configuration() {
    let rules = Rules {
        audience: Some("secret-audience".into()),
        authorized_parties: vec!["https://secret-party.test".into()],
        ..rules()
    };
    for changes in [
        json!({ "iss": "https://other.test" }),
        json!({ "aud": "x" }),
        json!({ "azp": "https://x.test" }),
        json!({ "azp": null }),
    ] {
        let mut claims = good();
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let error = first_failure(claims.as_object().unwrap(), &rules, NOW).unwrap();
        for secret in ["clerk.example.test", "secret-audience", "secret-party"] {
            assert!(!error.message.contains(secret), "{}", error.message);
        }
    }
}

#[test]
fn a_pending_session_verifies_with_its_status() {
    // The decision signs it out (or a route accepts it); the rules accept it.
    assert_eq!(failure(&json!({ "sts": "pending" }), &rules()), None);
    assert_eq!(failure(&json!({ "sts": "active" }), &rules()), None);
    let status = |sts: Value| {
        let mut claims = good();
        claims["sts"] = sts;
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        super::super::check_claims(claims, &rules(), NOW)
            .unwrap()
            .status
    };
    assert_eq!(
        status(json!("pending")),
        super::super::SessionStatus::Pending
    );
    assert_eq!(status(json!("active")), super::super::SessionStatus::Active);
    assert_eq!(status(json!("")), super::super::SessionStatus::Active);
}
