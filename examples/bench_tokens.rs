//! Keys and session tokens for the HTTP benchmarks (`bench/run`, `bench/soak`; see bench/README.md).
//!
//! `bench_tokens key DIR` writes `DIR/key.pem` (RSA-2048, kept when present) and
//! `DIR/www/.well-known/jwks.json` (its public half, as a Clerk instance publishes it, in a folder
//! that a static server may serve). `bench_tokens mint …` writes Clerk-shaped
//! v2 session tokens signed with that key, one per line, signing on every core: valid ones,
//! expired ones, or ones whose signature was tampered with.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The `kid` of the benchmark key, shaped like a Clerk instance's.
const KID: &str = "ins_bench0000000000000000000000";

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates DIR/key.pem unless it exists, and (re)writes DIR/www/.well-known/jwks.json.
    Key { dir: PathBuf },
    /// Writes `users × per_user` tokens to `out`: token t is for user `first_user + t % users`.
    Mint(Mint),
}

#[derive(Parser)]
#[allow(clippy::struct_field_names)]
struct Mint {
    /// The folder holding key.pem.
    #[arg(long)]
    dir: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// The `iss` claim: the server's CLERK_JWT_ISSUER.
    #[arg(long)]
    iss: String,
    /// The `azp` claim: one of the server's CLERK_AUTHORIZED_PARTIES.
    #[arg(long, default_value = "http://localhost:3000")]
    azp: String,
    #[arg(long)]
    users: u64,
    #[arg(long, default_value_t = 0)]
    first_user: u64,
    /// Distinct tokens (sessions) per user.
    #[arg(long, default_value_t = 1)]
    per_user: u64,
    /// Lifetime of valid tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
    #[arg(long, value_enum, default_value_t = Kind::Valid)]
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    Valid,
    /// Expired an hour ago (signature valid).
    Expired,
    /// One character of the signature changed.
    BadSignature,
    /// Valid, without the `email` claim: a first sign-in looks the user up at the Backend API.
    NoEmail,
}

fn main() {
    match Cli::parse().command {
        Command::Key { dir } => key(&dir),
        Command::Mint(mint) => mint_all(&mint),
    }
}

fn key(dir: &Path) {
    std::fs::create_dir_all(dir).expect("the key folder");
    let path = dir.join("key.pem");
    if !path.exists() {
        let pem = clerk_rocket::clerk::local::generate_rsa_pem().expect("an RSA key");
        std::fs::write(&path, pem).expect("key.pem written");
    }
    let key = encoding_key(dir);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("a JWK of the key");
    jwk.common.key_id = Some(KID.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
    let jwks = serde_json::to_string(&JwkSet { keys: vec![jwk] }).expect("JSON");
    let public = dir.join("www/.well-known");
    std::fs::create_dir_all(&public).expect("the public folder");
    std::fs::write(public.join("jwks.json"), jwks).expect("jwks.json written");
}

fn encoding_key(dir: &Path) -> EncodingKey {
    let pem = std::fs::read(dir.join("key.pem")).expect("key.pem (run `key` first)");
    EncodingKey::from_rsa_pem(&pem).expect("an RSA private key")
}

fn mint_all(mint: &Mint) {
    let key = encoding_key(&mint.dir);
    let total = mint.users * mint.per_user;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u64;
    let chunk = total.div_ceil(threads).max(1);
    let iat = clerk_rocket::clerk::token::now() - 5;
    let started = Instant::now();
    let parts: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|n| {
                let (start, end) = ((n * chunk).min(total), ((n + 1) * chunk).min(total));
                let part = mint.out.with_extension(format!("part{n}"));
                let key = &key;
                scope.spawn(move || {
                    let mut out =
                        BufWriter::new(std::fs::File::create(&part).expect("a token file part"));
                    for t in start..end {
                        writeln!(out, "{}", token(mint, key, t, iat)).expect("write");
                        if n == 0 && t > start && (t - start) % 100_000 == 0 {
                            eprintln!(
                                "bench_tokens: {} of {} tokens ({:.0} s)",
                                (t - start) * threads,
                                total,
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    out.flush().expect("flush");
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a signing thread"))
            .collect()
    });
    let mut out = BufWriter::new(std::fs::File::create(&mint.out).expect("the token file"));
    for part in parts {
        let mut file = std::fs::File::open(&part).expect("a token file part");
        std::io::copy(&mut file, &mut out).expect("copy");
        std::fs::remove_file(&part).expect("remove a part");
    }
    out.flush().expect("flush");
}

fn token(mint: &Mint, key: &EncodingKey, t: u64, now: i64) -> String {
    let user = mint.first_user + t % mint.users;
    let session = t / mint.users;
    let (iat, exp) = match mint.kind {
        Kind::Expired => (now - 7200, now - 3600),
        Kind::Valid | Kind::BadSignature | Kind::NoEmail => (now, now + mint.ttl),
    };
    let mut claims = json!({
        "azp": mint.azp,
        "email": format!("bench{user}@example.test"),
        "exp": exp,
        "iat": iat,
        "iss": mint.iss,
        "jti": format!("{t:x}{now:x}"),
        "nbf": iat - 5,
        "sid": format!("sess_bench_{user}_{session}_{now:x}"),
        "sub": format!("user_bench_{user:08}"),
        "v": 2,
    });
    if mint.kind == Kind::NoEmail {
        claims.as_object_mut().expect("an object").remove("email");
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let token = jsonwebtoken::encode(&header, &claims, key).expect("signing");
    if mint.kind == Kind::BadSignature {
        // A character in the middle of the signature: still base64url, no longer the signature.
        let at = token.rfind('.').expect("three parts") + 100;
        let mut bytes = token.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ASCII")
    } else {
        token
    }
}
