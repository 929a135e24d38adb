//! Full verification, `Verifier::verify_at`, against a fixed key (`KeyStore::fixed`), as the app
//! verifies with `CLERK_JWT_KEY` or in local mode.
//!
//! Three kinds of input: any string as a token; a token whose header and claims the fuzzer
//! builds, correctly signed with the fixed key, so that every claim rule is reached; and such a
//! token with its signature or payload altered afterwards. A token the verifier accepts must
//! satisfy the rules it was checked against.

#![no_main]

use std::sync::{Arc, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clerk_rocket::clerk::keys::KeyStore;
use clerk_rocket::clerk::local::{generate_rsa_pem, LocalIssuer};
use clerk_rocket::clerk::token::{Rules, Verifier};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://clerk.example.com";
const NOW: i64 = 1_750_000_000;

struct Fixture {
    signer: KeyPair,
    /// With and without an audience and authorized parties.
    verifiers: [Verifier; 2],
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pem = generate_rsa_pem().expect("an RSA key");
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let signer = KeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap();
        let issuer = LocalIssuer::from_pem(&pem).unwrap();
        let verifier = |strict: bool| {
            let keys = Arc::new(KeyStore::fixed(issuer.decoding_key()));
            Verifier::new(
                keys,
                Rules {
                    issuer: ISSUER.into(),
                    audience: strict.then(|| "https://api.example.com".into()),
                    authorized_parties: if strict {
                        vec!["https://app.example.com".into()]
                    } else {
                        vec![]
                    },
                    clock_skew_secs: 5,
                    max_lifetime_secs: 86_400,
                },
            )
        };
        Fixture {
            signer,
            verifiers: [verifier(false), verifier(true)],
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(String),
    Signed(Token),
    Tampered { token: Token, at: u16, byte: u8 },
}

#[derive(Arbitrary, Debug)]
struct Token {
    header: Vec<(HeaderName, Claim)>,
    claims: Vec<(ClaimName, Claim)>,
    strict: bool,
    /// Seconds from NOW at which the token is verified.
    clock: i32,
}

#[derive(Arbitrary, Debug)]
enum HeaderName {
    Alg,
    Kid,
    Typ,
    Cat,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum ClaimName {
    Sub,
    Iss,
    Sid,
    Azp,
    Aud,
    Exp,
    Nbf,
    Iat,
    Sts,
    Email,
    Role,
    Metadata,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Claim {
    /// The value a good token has for this name.
    Good,
    Text(String),
    /// NOW plus these seconds.
    Time(i32),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<String>),
    Object(Vec<(String, String)>),
}

fn header_name(name: &HeaderName) -> String {
    match name {
        HeaderName::Alg => "alg".into(),
        HeaderName::Kid => "kid".into(),
        HeaderName::Typ => "typ".into(),
        HeaderName::Cat => "cat".into(),
        HeaderName::Other(s) => s.clone(),
    }
}

fn claim_name(name: &ClaimName) -> String {
    match name {
        ClaimName::Sub => "sub",
        ClaimName::Iss => "iss",
        ClaimName::Sid => "sid",
        ClaimName::Azp => "azp",
        ClaimName::Aud => "aud",
        ClaimName::Exp => "exp",
        ClaimName::Nbf => "nbf",
        ClaimName::Iat => "iat",
        ClaimName::Sts => "sts",
        ClaimName::Email => "email",
        ClaimName::Role => "role",
        ClaimName::Metadata => "metadata",
        ClaimName::Other(s) => return s.clone(),
    }
    .into()
}

fn good(name: &str) -> Value {
    match name {
        "alg" => json!("RS256"),
        "kid" => json!("ins_fuzz"),
        "typ" => json!("JWT"),
        "cat" => json!("cl_B7d4PD111AAA"),
        "sub" => json!("user_2fuzz"),
        "iss" => json!(ISSUER),
        "sid" => json!("sess_2fuzz"),
        "azp" => json!("https://app.example.com"),
        "aud" => json!("https://api.example.com"),
        "exp" => json!(NOW + 60),
        "nbf" | "iat" => json!(NOW - 5),
        "sts" => json!("active"),
        "email" => json!("fuzz@example.com"),
        "metadata" => json!({ "role": "admin" }),
        _ => json!("x"),
    }
}

fn value(name: &str, claim: &Claim) -> Value {
    match claim {
        Claim::Good => good(name),
        Claim::Text(s) => json!(s),
        Claim::Time(offset) => json!(NOW + i64::from(*offset)),
        Claim::Int(i) => json!(i),
        Claim::Float(f) => json!(f),
        Claim::Bool(b) => json!(b),
        Claim::Null => Value::Null,
        Claim::List(items) => json!(items),
        Claim::Object(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect(),
        ),
    }
}

/// A good token's fields, each then overridden (or added) by the fuzzer's.
fn object<N>(base: &[&str], fields: &[(N, Claim)], name: fn(&N) -> String) -> Map<String, Value> {
    let mut map: Map<String, Value> = base.iter().map(|n| ((*n).to_owned(), good(n))).collect();
    for (n, claim) in fields {
        let n = name(n);
        let v = value(&n, claim);
        map.insert(n, v);
    }
    map
}

fn sign(token: &Token) -> String {
    let header = object(&["alg", "kid", "typ"], &token.header, header_name);
    let claims = object(
        &["sub", "iss", "sid", "azp", "exp", "nbf", "iat"],
        &token.claims,
        claim_name,
    );
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    );
    let f = fixture();
    let mut signature = vec![0; f.signer.public_modulus_len()];
    f.signer
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn check(token: &str, strict: bool, now: i64) {
    let f = fixture();
    let verifier = &f.verifiers[usize::from(strict)];
    let result = f.runtime.block_on(verifier.verify_at(token, now));
    match result {
        Ok(session) => {
            assert_eq!(session.issuer, ISSUER);
            assert!(!session.user_id.is_empty());
            assert!(!session.session_id.is_empty());
            assert!(session.expires_at >= now - 5, "accepted an expired token");
            if strict {
                assert_eq!(
                    session.authorized_party.as_deref(),
                    Some("https://app.example.com")
                );
            }
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = error.reason.code();
        }
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(token) => check(&token, false, NOW),
        Input::Signed(token) => {
            let signed = sign(&token);
            check(&signed, token.strict, NOW + i64::from(token.clock));
        }
        Input::Tampered { token, at, byte } => {
            let original = sign(&token);
            let mut bytes = original.clone().into_bytes();
            let at = usize::from(at) % bytes.len();
            bytes[at] = byte;
            let Ok(tampered) = String::from_utf8(bytes) else {
                return;
            };
            let f = fixture();
            let verifier = &f.verifiers[usize::from(token.strict)];
            let result = f.runtime.block_on(verifier.verify_at(&tampered, NOW));
            // RSA PKCS#1 v1.5 is deterministic: a changed byte makes another token, which must
            // not verify unless the change kept what the base64 means (its unused trailing bits).
            if tampered != original && result.is_ok() {
                let decode = |t: &str| {
                    t.split('.')
                        .map(|p| URL_SAFE_NO_PAD.decode(p).ok())
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    decode(&tampered),
                    decode(&original),
                    "a tampered token verified: {tampered}"
                );
            }
        }
    }
});
