//! Instance keys and the session tokens they sign, plus the unique names tests key their data by.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The frontend API host the kit's tokens name as their issuer.
pub const ISSUER_HOST: &str = "clerk.example.test";
/// The origin the kit's tokens name as their authorized party (`azp`).
pub const ORIGIN: &str = "https://app.example.test";

/// An RSA signing key with its key id, as Clerk's instance keys are.
pub struct TestKey {
    pub kid: String,
    pub private_pem: String,
    pub public_pem: String,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    fn generate(kid: &str) -> TestKey {
        let private_pem = crate::clerk::local::generate_rsa_pem().unwrap();
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap(),
        )
        .unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        let der = pem_body(&private_pem);
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
        let spki = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_der()
            .unwrap();
        let public_pem = pem("PUBLIC KEY", spki.as_ref());
        TestKey {
            kid: kid.to_owned(),
            private_pem,
            public_pem,
            encoding,
            jwk,
        }
    }

    /// Signs `claims` with this key, RS256, `kid` in the header.
    #[must_use]
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with extra header fields (`typ`, `cat`, …), which `jsonwebtoken`'s `Header` cannot
    /// carry: the signature is made by hand.
    #[must_use]
    pub fn sign_with_header(&self, header_extra: &Value, claims: &Value) -> String {
        let mut header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        for (k, v) in header_extra.as_object().unwrap() {
            header[k] = v.clone();
        }
        let signing_input = format!("{}.{}", b64(&header), b64(claims));
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pem_body(&self.private_pem)).unwrap();
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!(
            "{signing_input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        )
    }
}

/// `value` as a JWT segment: unpadded base64url of its JSON.
#[must_use]
pub fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The first of two instance keys, made once per test run (RSA key generation is slow in debug
/// builds).
pub fn key_a() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("ins_test_a"))
}

/// The second instance key: a rotation, or another instance.
pub fn key_b() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("ins_test_b"))
}

/// The app's clock, so that tokens and webhooks agree with what the app checks them against.
#[must_use]
pub fn now() -> i64 {
    crate::clerk::token::now()
}

/// The claims of a valid Clerk v2 session token for `user`; tests change what they test.
#[must_use]
pub fn claims(user: &str) -> Value {
    let now = now();
    json!({
        "iss": format!("https://{ISSUER_HOST}"),
        "sub": user,
        "sid": format!("sess_{user}"),
        "azp": ORIGIN,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 60,
        "v": 2,
        "email": format!("{user}@example.test"),
        // Signed in just now (first factor; no second enrolled): admin actions' reverification.
        "fva": [0, -1],
    })
}

/// `claims` with `changes` applied; a `null` change removes the claim.
#[must_use]
#[allow(
    clippy::needless_pass_by_value,
    reason = "callers write the changes as a `json!` literal in place"
)]
pub fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

/// `pk_test_…`/`pk_live_…` for a frontend API host.
#[must_use]
pub fn publishable_key(host: &str, live: bool) -> String {
    let prefix = if live { "pk_live_" } else { "pk_test_" };
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{host}$"))
    )
}

/// A name no other test of this run (or of an earlier run) uses.
#[must_use]
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // The pid leads, so that the schemas of finished runs can be told apart (see `backend`).
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    )
}

/// A Clerk-shaped user id (`user_…`) of its own.
#[must_use]
pub fn user_id() -> String {
    unique("user").replace("user_", "user_t")
}
