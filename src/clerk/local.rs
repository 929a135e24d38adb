//! Local mode: this app as its own development issuer, so that it runs with no Clerk account.
//!
//! An RSA key is created on first start and kept in a file (`data/local-dev-key.pem` by default,
//! git-ignored). Tokens signed with it have the shape of Clerk's v2 session tokens and go
//! through exactly the same verifier as Clerk's.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{json, Value};

use super::token::now;
use crate::config::LOCAL_ISSUER;

pub const LOCAL_KID: &str = "local-dev";

#[derive(Debug, thiserror::Error)]
pub enum LocalKeyError {
    #[error("local-mode key {path}: {problem}")]
    Key { path: String, problem: String },
    #[error("not an RSA private key ({0})")]
    NotRsa(String),
}

pub struct LocalIssuer {
    encoding_key: EncodingKey,
    jwk: Jwk,
}

/// Who a local-mode token is for.
#[derive(Debug, Clone, Default)]
pub struct LocalUser {
    pub email: String,
    /// `user_…`; derived from the email when absent, so one email is always one user.
    pub user_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub admin: bool,
}

impl LocalIssuer {
    /// Reads the key at `path`, creating it (and its folder) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, LocalKeyError> {
        let problem = |problem: String| LocalKeyError::Key {
            path: path.display().to_string(),
            problem,
        };
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_rsa_pem().map_err(problem)?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| problem(e.to_string()))?;
                }
                // Written aside, then linked into place: the link fails if another process (the
                // server and `clerk-rocket token` starting together) made the key first, and
                // nobody ever reads a half-written key.
                let aside = path.with_extension(format!("tmp-{}", random_hex(8)));
                write_private(&aside, &pem).map_err(|e| problem(e.to_string()))?;
                let linked = std::fs::hard_link(&aside, path);
                let _ = std::fs::remove_file(&aside);
                match linked {
                    Ok(()) => {
                        log::info!(
                            "local mode: created a development signing key at {}",
                            path.display()
                        );
                        pem
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?
                    }
                    Err(e) => return Err(problem(e.to_string())),
                }
            }
            Err(e) => return Err(problem(e.to_string())),
        };
        Self::from_pem(&pem).map_err(|e| problem(e.to_string()))
    }

    pub fn from_pem(pem: &str) -> Result<Self, LocalKeyError> {
        let not_rsa = |e: jsonwebtoken::errors::Error| LocalKeyError::NotRsa(e.to_string());
        let encoding_key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(not_rsa)?;
        let mut jwk = Jwk::from_encoding_key(&encoding_key, Algorithm::RS256).map_err(not_rsa)?;
        jwk.common.key_id = Some(LOCAL_KID.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        Ok(LocalIssuer { encoding_key, jwk })
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_jwk(&self.jwk).expect("a JWK made from our own key converts back")
    }

    /// The public key as a JWKS document, as `/.well-known/jwks.json` serves it.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// Signs a Clerk-shaped v2 session token for `user`, valid for `ttl_secs`.
    pub fn mint(&self, user: &LocalUser, authorized_party: &str, ttl_secs: u64) -> String {
        self.sign(
            &Self::session_claims(user, authorized_party, ttl_secs),
            None,
        )
    }

    /// [`Self::mint`] with `org` active: v2 organization claims (`o`, `fea` with the bitmaps of
    /// its permissions, `pla`).
    pub fn mint_with_org(
        &self,
        user: &LocalUser,
        org: &LocalOrg,
        authorized_party: &str,
        ttl_secs: u64,
    ) -> Result<String, String> {
        let mut claims = Self::session_claims(user, authorized_party, ttl_secs);
        let (fea, per, fpm) = super::token::org::encode_v2(&org.permissions)?;
        let role = org.role.strip_prefix("org:").unwrap_or(&org.role);
        claims["o"] = json!({
            "id": org_id_for(&org.slug), "slg": org.slug, "rol": role, "per": per, "fpm": fpm,
        });
        if !fea.is_empty() {
            claims["fea"] = Value::String(fea);
        }
        Ok(self.sign(&claims, None))
    }

    /// Signs a JWT M2M token for the machine `machine_id` (`mch_…`), receivable by the machines
    /// `scopes`, valid for `ttl_secs`: Clerk's shape (`cat`, `jti`, `scopes`, `aud`).
    pub fn mint_m2m(&self, machine_id: &str, scopes: &[String], ttl_secs: u64) -> String {
        let iat = now();
        let claims = json!({
            "iss": LOCAL_ISSUER,
            "sub": machine_id,
            "iat": iat,
            "nbf": iat - 5,
            "exp": iat.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            "jti": format!("mt_{}", random_hex(16)),
            "scopes": scopes.join(" "),
            "aud": scopes,
        });
        self.sign(&claims, Some(M2M_CATEGORY))
    }

    /// Signs a JWT-template token for `session` (local mode has no templates: the standard
    /// claims of the session, and `tpl` naming the template asked for), valid for `ttl_secs`.
    pub fn mint_template(
        &self,
        session: &super::token::SessionClaims,
        template: &str,
        ttl_secs: u32,
    ) -> String {
        let iat = now();
        let mut claims = json!({
            "iss": LOCAL_ISSUER,
            "sub": session.user_id,
            "sid": session.session_id,
            "iat": iat,
            "nbf": iat - 5,
            "exp": iat + i64::from(ttl_secs),
            "jti": random_hex(10),
            "tpl": template,
        });
        if let Some(azp) = &session.authorized_party {
            claims["azp"] = Value::String(azp.clone());
        }
        self.sign(&claims, None)
    }

    fn sign(&self, claims: &Value, category: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(LOCAL_KID.to_owned());
        let Some(category) = category else {
            return jsonwebtoken::encode(&header, claims, &self.encoding_key)
                .expect("signing with our own RSA key");
        };
        // jsonwebtoken's Header has no `cat`: the signing input is made by hand.
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": LOCAL_KID, "cat": category });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding_key, Algorithm::RS256)
                .expect("signing with our own RSA key");
        format!("{input}.{signature}")
    }

    fn session_claims(user: &LocalUser, authorized_party: &str, ttl_secs: u64) -> Value {
        let iat = now();
        let mut claims = json!({
            "iss": LOCAL_ISSUER,
            "sub": user.user_id.clone().unwrap_or_else(|| user_id_for(&user.email)),
            "sid": format!("sess_local_{}", random_hex(12)),
            "azp": authorized_party,
            "iat": iat,
            "nbf": iat - 5,
            "exp": iat.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            "jti": random_hex(10),
            "v": 2,
            "email": user.email,
        });
        let extra = [
            ("first_name", &user.first_name),
            ("last_name", &user.last_name),
        ];
        for (name, value) in extra {
            if let Some(value) = value {
                claims[name] = Value::String(value.clone());
            }
        }
        if user.admin {
            claims["metadata"] = json!({ "role": "admin" });
        }
        claims
    }
}

/// An organization a local-mode session token names as active.
#[derive(Debug, Clone, Default)]
pub struct LocalOrg {
    pub slug: String,
    /// `admin` or `org:admin`.
    pub role: String,
    /// `org:<feature>:<permission>` each.
    pub permissions: Vec<String>,
}

/// The `cat` header of Clerk's JWT M2M tokens.
const M2M_CATEGORY: &str = "cl_B7d4PD333AAA";

/// A stable Clerk-style organization id for a slug: `org_local_` + 16 hex digits of its SHA-256.
pub fn org_id_for(slug: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, slug.trim().as_bytes());
    format!("org_local_{}", hex(&digest.as_ref()[..8]))
}

/// A new secret of `bytes` random bytes, in hex.
pub fn random_secret(bytes: usize) -> String {
    random_hex(bytes)
}

/// A stable Clerk-style user id for an email: `user_local_` + 16 hex digits of its SHA-256.
pub fn user_id_for(email: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        email.trim().to_lowercase().as_bytes(),
    );
    format!("user_local_{}", hex(&digest.as_ref()[..8]))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("the system random source");
    hex(&buf)
}

/// Lowercase hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    // By table, not `write!("{b:02x}")` per byte: request ids are made this way on every request.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A new RSA-2048 private key as PKCS#8 PEM.
pub fn generate_rsa_pem() -> Result<String, String> {
    let pair =
        KeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed".to_string())?;
    let der = pair
        .as_der()
        .map_err(|_| "RSA key encoding failed".to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    std::fs::write(path, contents)
}
