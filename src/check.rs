//! `clerk-rocket check`: the configuration doctor.
//!
//! Most Clerk integration failures are configuration mistakes that look like auth bugs. [`run`]
//! takes the settings exactly as the server reads them (a validated [`ClerkConfig`]), checks them
//! against reality (Clerk's frontend API and Backend API, this machine's clock, the database) and,
//! given a token, explains claim by claim whether this server would accept it. Each [`Finding`] is
//! one line: `ok`, `warning` or `error`, with a fix when there is one.
//!
//! It fetches keys through [`keys::fetch_jwks`] and judges tokens with the verifier's own
//! [`Verifier::verify_signature`](crate::clerk::token::Verifier::verify_signature) and
//! [`token::explain_claims`], so it cannot disagree with the server. It never prints a token, the
//! secret key or the webhook signing secret; key ids, issuers, `azp` values and times are shown.
//!
//! Choices: authorized parties missing with a production instance (`pk_live_`) is an error (the
//! server starts, but any origin of the instance can use its tokens); missing in a release build
//! of an instance not known to be production, a warning; in development, fine. Pending migrations
//! are a warning (`serve` applies them at start); a database that `serve` would refuse to migrate
//! is an error.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rocket::figment::Figment;
use serde_json::Value;

use crate::clerk::keys::{self, FetchError, FetchedJwks, JwksSource};
use crate::clerk::token::{self, AuthError, Reason};
use crate::clerk::Clerk;
use crate::config::{decode_publishable_key, ClerkConfig};
use crate::db::{self, AnyPool};

/// How bad a finding is. Any [`Level::Error`] makes `clerk-rocket check` exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One finding: printed as one line, `error   clock: …  fix: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// What it is about: `mode`, `publishable key`, `issuer`, `keys`, `jwks`, `secret key`,
    /// `instance`, `clock`, `audience`, `authorized parties`, `webhook secret`, `database`,
    /// `migrations`, `token`, `token <claim>` or `token email`.
    pub topic: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

impl Finding {
    fn ok(topic: &'static str, message: impl Into<String>) -> Self {
        Finding {
            level: Level::Ok,
            topic,
            message: message.into(),
            fix: None,
        }
    }

    fn warning(topic: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            level: Level::Warning,
            topic,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    fn error(topic: &'static str, message: impl Into<String>, fix: Option<String>) -> Self {
        Finding {
            level: Level::Error,
            topic,
            message: message.into(),
            fix,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<8}{}: {}",
            self.level.as_str(),
            self.topic,
            self.message
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "  fix: {fix}")?;
        }
        Ok(())
    }
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error)
}

/// The `databases.app` settings of `figment`, as `serve` and `migrate` read them.
pub fn database_config(figment: &Figment) -> Result<rocket_db_pools::Config, String> {
    figment
        .extract_inner("databases.app")
        .map_err(|e| format!("databases.app: {e}"))
}

/// Checks `config` against reality, and explains `token` when one is given.
pub async fn run(
    config: &ClerkConfig,
    http: &reqwest::Client,
    database: Result<rocket_db_pools::Config, String>,
    token: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if config.local_mode() {
        let message = format!(
            "local mode is on: tokens are signed by this app's development key ({}), not by \
             Clerk; the checks against Clerk are skipped",
            config.local_key_file.display()
        );
        out.push(if cfg!(debug_assertions) {
            Finding::ok("mode", message)
        } else {
            Finding::warning(
                "mode",
                message,
                "local mode is for development: set CLERK_LOCAL_MODE=false and \
                 CLERK_PUBLISHABLE_KEY of your Clerk instance",
            )
        });
    } else {
        instance(config, &mut out);
        let frontend = frontend_jwks(config, http, &mut out).await;
        let backend = backend_api(config, http, frontend.as_ref().map(|s| &s.jwks), &mut out).await;
        clock(
            config.clock_skew_secs,
            frontend.as_ref().or(backend.as_ref()),
            &mut out,
        );
        audience(config, &mut out);
        authorized_parties(config, &mut out);
    }
    webhook_secret(config, &mut out);
    database_findings(database, &mut out).await;
    if let Some(token) = token {
        explain_token(config, http, token.trim(), &mut out).await;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The instance and its keys

fn instance(config: &ClerkConfig, out: &mut Vec<Finding>) {
    let issuer = &config.instance.issuer;
    let jwks_url = &config.instance.jwks_url;
    let jwks_note = if *jwks_url == format!("{issuer}/.well-known/jwks.json") {
        ""
    } else {
        " (CLERK_JWKS_URL)"
    };
    let Some(pk) = &config.publishable_key else {
        out.push(Finding::warning(
            "publishable key",
            format!(
                "not set: the issuer {issuer} and JWKS {jwks_url}{jwks_note} come from other \
                 settings; the pages cannot load ClerkJS and the suffixed __session cookie is \
                 not read"
            ),
            "set CLERK_PUBLISHABLE_KEY (pk_test_… or pk_live_… from the Clerk dashboard's API \
             keys page)",
        ));
        return;
    };
    match decode_publishable_key(pk) {
        Ok(decoded) => {
            let (prefix, kind) = if decoded.production {
                ("pk_live_", "production")
            } else {
                ("pk_test_", "development")
            };
            out.push(Finding::ok(
                "publishable key",
                format!(
                    "{prefix}… decodes to the frontend API {} ({kind} instance); issuer \
                     {issuer}; JWKS {jwks_url}{jwks_note}",
                    decoded.frontend_api
                ),
            ));
            let derived = format!("https://{}", decoded.frontend_api);
            if *issuer != derived {
                out.push(Finding::warning(
                    "issuer",
                    format!(
                        "CLERK_JWT_ISSUER is {issuer:?}, but the publishable key's instance \
                         issues tokens as {derived:?}: its tokens are refused with \
                         token-invalid-issuer"
                    ),
                    "unset CLERK_JWT_ISSUER (the publishable key gives the issuer), or use the \
                     publishable key of the instance that issues as CLERK_JWT_ISSUER",
                ));
            }
        }
        // `ClerkConfig::from_figment` refuses such a key; kept for configs built by hand.
        Err(e) => out.push(Finding::error(
            "publishable key",
            e.problem,
            Some("copy CLERK_PUBLISHABLE_KEY from the Clerk dashboard's API keys page".into()),
        )),
    }
}

/// A JWKS fetched for the check, with when the request left and the answer arrived (unix seconds).
struct Sample {
    url: String,
    jwks: FetchedJwks,
    sent: f64,
    received: f64,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn sample(
    http: &reqwest::Client,
    source: JwksSource,
) -> Result<Sample, (String, FetchError)> {
    let sent = unix_now();
    match keys::fetch_jwks(http, &source).await {
        Ok(jwks) => Ok(Sample {
            url: source.url,
            jwks,
            sent,
            received: unix_now(),
        }),
        Err(e) => Err((source.url, e)),
    }
}

fn key_list(jwks: &FetchedJwks) -> String {
    let ids = jwks.key_ids();
    let s = if ids.len() == 1 { "" } else { "s" };
    format!("{} key{s} ({})", ids.len(), ids.join(", "))
}

async fn frontend_jwks(
    config: &ClerkConfig,
    http: &reqwest::Client,
    out: &mut Vec<Finding>,
) -> Option<Sample> {
    let pem = config.jwt_key_pem.is_some();
    if pem {
        out.push(Finding::ok(
            "keys",
            "CLERK_JWT_KEY is set: tokens are verified with that key alone, and no JWKS is \
             fetched by the server",
        ));
    }
    let source = JwksSource {
        url: config.instance.jwks_url.clone(),
        bearer: None,
    };
    match sample(http, source).await {
        Ok(sample) => {
            out.push(Finding::ok(
                "jwks",
                format!("{} holds {}", sample.url, key_list(&sample.jwks)),
            ));
            Some(sample)
        }
        Err((url, e)) => {
            let message = format!("no keys from {url}: {e}");
            let fix = "check CLERK_PUBLISHABLE_KEY (or CLERK_JWKS_URL) and outbound HTTPS to \
                       the frontend API host (DNS, firewall, proxy); CLERK_SECRET_KEY adds the \
                       Backend API as a second key source";
            out.push(if pem {
                Finding::warning("jwks", message, fix)
            } else {
                Finding::error("jwks", message, Some(fix.into()))
            });
            None
        }
    }
}

async fn backend_api(
    config: &ClerkConfig,
    http: &reqwest::Client,
    frontend: Option<&FetchedJwks>,
    out: &mut Vec<Finding>,
) -> Option<Sample> {
    let Some(secret) = &config.secret_key else {
        out.push(Finding::ok(
            "secret key",
            "not set: no Backend API (no email lookup for tokens without an email claim, no \
             handshake, no second key source)",
        ));
        return None;
    };
    let live_secret = secret.starts_with("sk_live_");
    let kind = |live: bool| if live { "production" } else { "development" };
    if let Some(pk) = config
        .publishable_key
        .as_deref()
        .and_then(|pk| decode_publishable_key(pk).ok())
    {
        if pk.production != live_secret {
            out.push(Finding::error(
                "secret key",
                format!(
                    "a {} secret key with a {} publishable key: they belong to two instances",
                    kind(live_secret),
                    kind(pk.production)
                ),
                Some(
                    "take CLERK_SECRET_KEY and CLERK_PUBLISHABLE_KEY from the same instance's \
                     API keys page in the Clerk dashboard"
                        .into(),
                ),
            ));
        }
    }
    let source = JwksSource {
        url: format!("{}/v1/jwks", config.api_url),
        bearer: Some(secret.clone()),
    };
    let sample = match sample(http, source).await {
        Ok(sample) => sample,
        Err((url, FetchError::Status(status))) if matches!(status.as_u16(), 401 | 403) => {
            out.push(Finding::error(
                "secret key",
                format!("invalid: the Backend API ({url}) answered {status}"),
                Some(
                    "copy the secret key (sk_…) of the instance from the Clerk dashboard's API \
                     keys page; it may have been rolled"
                        .into(),
                ),
            ));
            return None;
        }
        Err((url, e)) => {
            out.push(Finding::error(
                "secret key",
                format!("the Backend API's JWKS could not be read from {url}: {e}"),
                Some(format!(
                    "check CLERK_API_URL ({}) and outbound HTTPS to it",
                    config.api_url
                )),
            ));
            return None;
        }
    };
    match frontend {
        Some(front) => {
            let shared: Vec<String> = sample
                .jwks
                .key_ids()
                .into_iter()
                .filter(|id| front.keys.contains_key(id))
                .collect();
            if shared.is_empty() {
                out.push(Finding::error(
                    "instance",
                    format!(
                        "keys from two Clerk instances: the frontend API's JWKS holds {} but \
                         the secret key's instance signs with {}",
                        front.key_ids().join(", "),
                        sample.jwks.key_ids().join(", ")
                    ),
                    Some(
                        "take CLERK_PUBLISHABLE_KEY and CLERK_SECRET_KEY from the same instance \
                         (development and production instances have different keys)"
                            .into(),
                    ),
                ));
            } else {
                out.push(Finding::ok(
                    "secret key",
                    format!(
                        "accepted by the Backend API, and of the same instance: both JWKS hold {}",
                        shared.join(", ")
                    ),
                ));
            }
        }
        None => out.push(Finding::ok(
            "secret key",
            format!(
                "accepted by the Backend API, whose JWKS holds {} (not compared: the frontend \
                 API's JWKS was not read)",
                key_list(&sample.jwks)
            ),
        )),
    }
    Some(sample)
}

// ---------------------------------------------------------------------------------------------
// The clock

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) into unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The least clock offset (the server's clock less ours, in seconds) consistent with a `Date`
/// of `date` (whole seconds) written between `sent` and `received` by our clock.
pub fn clock_offset(date: i64, sent: f64, received: f64) -> f64 {
    let low = date as f64 - received;
    let high = date as f64 + 1.0 - sent;
    if low > 0.0 {
        low
    } else if high < 0.0 {
        high
    } else {
        0.0
    }
}

fn clock(skew: u64, sample: Option<&Sample>, out: &mut Vec<Finding>) {
    // Without an answer there is nothing to measure; the failed fetch is reported already.
    let Some(sample) = sample else {
        return;
    };
    let host = reqwest::Url::parse(&sample.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| sample.url.clone());
    let Some(date) = sample.jwks.date.as_deref().and_then(parse_http_date) else {
        out.push(Finding::warning(
            "clock",
            format!("{host} sent no readable Date header: the clock offset cannot be measured"),
            "keep this server's clock synchronized with NTP (timedatectl set-ntp true, or chrony)",
        ));
        return;
    };
    let offset = clock_offset(date, sample.sent, sample.received);
    let seconds = offset.abs().ceil();
    let skew_f = skew as f64;
    let message = if seconds == 0.0 {
        format!("this server's clock agrees with the Date header of {host} (allowed skew {skew} s)")
    } else if offset > 0.0 {
        format!(
            "this server's clock is {seconds:.0} s behind the Date header of {host} (allowed \
             skew {skew} s)"
        )
    } else {
        format!(
            "this server's clock is {seconds:.0} s ahead of the Date header of {host} (allowed \
             skew {skew} s)"
        )
    };
    let fix = "synchronize this server's clock with NTP (timedatectl set-ntp true, or chrony); \
               CLERK_CLOCK_SKEW_SECS absorbs a few seconds, no more (session tokens live 60 s)";
    out.push(if seconds > skew_f {
        Finding::error("clock", message, Some(fix.into()))
    } else if seconds > skew_f / 2.0 {
        Finding::warning("clock", message, fix)
    } else {
        Finding::ok("clock", message)
    });
}

// ---------------------------------------------------------------------------------------------
// Claim rules and secrets

fn audience(config: &ClerkConfig, out: &mut Vec<Finding>) {
    if let Some(aud) = &config.audience {
        out.push(Finding::warning(
            "audience",
            format!(
                "CLERK_JWT_AUDIENCE is {aud:?}: tokens without that aud are refused, and Clerk \
                 session tokens carry no aud unless the session token is customized"
            ),
            "unset CLERK_JWT_AUDIENCE, or add \"aud\" to the session token (Sessions → \
             Customize session token)",
        ));
    }
}

fn authorized_parties(config: &ClerkConfig, out: &mut Vec<Finding>) {
    let fix = "set CLERK_AUTHORIZED_PARTIES to the exact origins of your frontends, e.g. \
               https://app.example.com";
    if !config.authorized_parties.is_empty() {
        out.push(Finding::ok(
            "authorized parties",
            format!(
                "azp must be one of {}",
                config.authorized_parties.join(", ")
            ),
        ));
    } else if config.instance.production {
        out.push(Finding::error(
            "authorized parties",
            "not set with a production instance (pk_live_): the azp claim is not checked, so \
             tokens minted for any origin of the instance are accepted",
            Some(fix.into()),
        ));
    } else if !cfg!(debug_assertions) {
        out.push(Finding::warning(
            "authorized parties",
            "not set: the azp claim of tokens is not checked",
            fix,
        ));
    } else {
        out.push(Finding::ok(
            "authorized parties",
            "not set: azp is not checked (fine in development; required in production)",
        ));
    }
}

fn webhook_secret(config: &ClerkConfig, out: &mut Vec<Finding>) {
    const TOPIC: &str = "webhook secret";
    let fix =
        "copy the Signing Secret (whsec_…) of the instance's webhook endpoint from the Clerk \
               dashboard (Webhooks) into CLERK_WEBHOOK_SIGNING_SECRET";
    let Some(secret) = &config.webhook_signing_secret else {
        out.push(if config.local_mode() {
            Finding::ok(TOPIC, "not set (not needed in local mode)")
        } else {
            Finding::warning(
                TOPIC,
                "not set: webhook events from Clerk (user updates, deletions, bans) cannot be \
                 verified",
                fix,
            )
        });
        return;
    };
    // `ClerkConfig::from_figment` refuses a malformed secret; this also covers configs built
    // by hand, and checks the length that Standard Webhooks asks for (24 to 64 bytes).
    let decoded = secret
        .strip_prefix("whsec_")
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64));
    match decoded {
        Some(Ok(key)) if (24..=64).contains(&key.len()) => out.push(Finding::ok(
            TOPIC,
            format!("set (whsec_…, a {}-byte key)", key.len()),
        )),
        Some(Ok(key)) if !key.is_empty() => out.push(Finding::warning(
            TOPIC,
            format!(
                "decodes to a {}-byte key; Clerk's signing secrets hold 24 to 64 bytes: was it \
                 cut when copied?",
                key.len()
            ),
            fix,
        )),
        _ => out.push(Finding::error(
            TOPIC,
            "malformed: expected whsec_ followed by base64",
            Some(fix.into()),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The database

/// The URL with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "the configured database URL".into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

async fn database_findings(
    database: Result<rocket_db_pools::Config, String>,
    out: &mut Vec<Finding>,
) {
    let mut settings = match database {
        Ok(settings) => settings,
        Err(e) => {
            out.push(Finding::error(
                "database",
                format!("not configured: {e}"),
                Some("set DATABASE_URL (sqlite://data/app.db?mode=rwc or postgres://…)".into()),
            ));
            return;
        }
    };
    let shown = redact(&settings.url);
    settings.max_connections = 1;
    settings.min_connections = None;
    let unreachable = |e: String| {
        Finding::error(
            "database",
            format!("{shown} is unreachable: {e}"),
            Some(
                "check that the database server runs and that DATABASE_URL names the right \
                 host, port, user, password and database"
                    .into(),
            ),
        )
    };
    let pool = match AnyPool::connect(&settings).await {
        Ok(pool) => pool,
        Err(e) => {
            out.push(unreachable(e.to_string()));
            return;
        }
    };
    if !pool.ping().await {
        out.push(unreachable("it does not answer".into()));
        pool.close().await;
        return;
    }
    let backend = if pool.is_sqlite() {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    out.push(Finding::ok(
        "database",
        format!("{shown} is reachable ({backend})"),
    ));
    match db::migration_state(&pool).await {
        Err(e) => out.push(Finding::error(
            "migrations",
            format!("_sqlx_migrations could not be read: {e}"),
            Some("check the database user's rights".into()),
        )),
        Ok(state) => migration_findings(&state, out),
    }
    pool.close().await;
}

fn migration_findings(state: &db::MigrationState, out: &mut Vec<Finding>) {
    let versions = |vs: &[i64]| -> String {
        vs.iter()
            .map(|v| format!("{v:04}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let refuses = "serve and migrate refuse to run";
    let mut broken = false;
    if let Some(version) = state.dirty {
        broken = true;
        out.push(Finding::error(
            "migrations",
            format!("migration {version:04} failed part-way: {refuses}"),
            Some(
                "repair the database by hand (the log of the failed run says what failed), \
                 delete that row of _sqlx_migrations, then run clerk-rocket migrate"
                    .into(),
            ),
        ));
    }
    if !state.modified.is_empty() {
        broken = true;
        out.push(Finding::error(
            "migrations",
            format!(
                "applied migrations differ from the ones in this binary ({}): {refuses}",
                versions(&state.modified)
            ),
            Some("run a binary built from the migrations that were applied".into()),
        ));
    }
    if !state.unknown.is_empty() {
        broken = true;
        out.push(Finding::error(
            "migrations",
            format!(
                "the database has migrations this binary does not know ({}), applied by a newer \
                 version: {refuses}",
                versions(&state.unknown)
            ),
            Some("run the newer binary".into()),
        ));
    }
    if !state.pending.is_empty() {
        let list: Vec<String> = state
            .pending
            .iter()
            .map(|(v, d)| format!("{v:04} {d}"))
            .collect();
        out.push(Finding::warning(
            "migrations",
            format!(
                "{} of {} pending: {}",
                state.pending.len(),
                state.embedded,
                list.join(", ")
            ),
            "clerk-rocket migrate (serve also applies them at start)",
        ));
    } else if !broken {
        out.push(Finding::ok(
            "migrations",
            format!("all {} applied", state.embedded),
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// A token, claim by claim

fn claim_topic(claim: &str) -> &'static str {
    match claim {
        "sub" => "token sub",
        "iss" => "token iss",
        "aud" => "token aud",
        "azp" => "token azp",
        "exp" => "token exp",
        "nbf" => "token nbf",
        "iat" => "token iat",
        "sid" => "token sid",
        "sts" => "token sts",
        _ => "token",
    }
}

fn fix_for(reason: Reason, claim: Option<&str>) -> Option<String> {
    let clock = "this server's clock is behind: synchronize it with NTP (timedatectl set-ntp \
                 true, or chrony)";
    let fix = match (reason, claim) {
        (Reason::TokenVerificationFailed, Some("aud")) => {
            "unset CLERK_JWT_AUDIENCE, or add \"aud\" to the session token (Sessions → Customize \
             session token)"
        }
        (Reason::TokenVerificationFailed, _) => {
            "send a Clerk session token of a user (await Clerk.session.getToken()), not a \
             hand-made or template token"
        }
        (Reason::TokenInvalid, _) => {
            "pass the raw token once: no quotes, no \"Bearer \" prefix, not cut when copied"
        }
        (Reason::TokenInvalidAlgorithm, _) => "send a Clerk session token (RS256)",
        (Reason::TokenTypeMismatch, _) => {
            "send the session token: getToken() without a template, not an OAuth or machine token"
        }
        (Reason::TokenInvalidSignature, _) => {
            "take CLERK_JWT_KEY from the instance that issued the token (in local mode, mint a \
             new token)"
        }
        (Reason::JwkKidMismatch, _) => {
            "the token comes from another Clerk instance than the one configured: use that \
             instance's publishable key, or a token of this instance"
        }
        (Reason::JwkRemoteFailedToLoad, _) => {
            "make the JWKS reachable (see the jwks finding above)"
        }
        (Reason::TokenExpired, _) => {
            "get a fresh token (Clerk session tokens live 60 s); if fresh tokens are expired \
             here, this server's clock is ahead: synchronize it with NTP"
        }
        (Reason::TokenNotActiveYet | Reason::TokenIatInTheFuture, _) => clock,
        (Reason::TokenInvalidAuthorizedParties, _) => {
            "add the frontend's exact origin to CLERK_AUTHORIZED_PARTIES (scheme, host, port; \
             no trailing /); tokens without azp are refused while the list is set"
        }
        (Reason::TokenInvalidIssuer, _) => {
            "use the publishable key of the instance that issued the token, or set \
             CLERK_JWT_ISSUER to exactly its issuer"
        }
        (Reason::SessionPending, _) => {
            "finish the sign-in tasks in Clerk's UI, then use a new token"
        }
        _ => return None,
    };
    Some(fix.to_owned())
}

fn refused(error: &AuthError) -> Finding {
    Finding::error(
        "token",
        format!("refused: {} ({})", error.reason.code(), error.message),
        None,
    )
}

async fn explain_token(
    config: &ClerkConfig,
    http: &reqwest::Client,
    token: &str,
    out: &mut Vec<Finding>,
) {
    let header = match token::inspect_header(token) {
        Ok(header) => header,
        Err(e) => {
            out.push(Finding::error(
                "token",
                format!(
                    "refused before any key is looked up: {} ({})",
                    e.reason.code(),
                    e.message
                ),
                fix_for(e.reason, None),
            ));
            return;
        }
    };
    let clerk = match Clerk::with_client(config.clone(), http.clone()) {
        Ok(clerk) => clerk,
        Err(e) => {
            out.push(Finding::error(
                "token",
                format!("the verifier could not be built: {e}"),
                None,
            ));
            return;
        }
    };
    let kid = header.kid.as_deref().unwrap_or("none");
    let rules = clerk.verifier.rules();
    let claims = match clerk.verifier.verify_signature(token).await {
        Ok(claims) => claims,
        Err(e) => {
            out.push(Finding::error(
                "token",
                format!(
                    "signature not verified (kid {kid:?}): {} ({})",
                    e.reason.code(),
                    e.message
                ),
                fix_for(e.reason, None),
            ));
            // The usual cause of an unknown kid is a token of another instance: its (unverified)
            // issuer says which.
            let issuer = token::unverified_claims(token)
                .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned));
            if let Some(iss) = issuer.filter(|iss| *iss != rules.issuer) {
                out.push(Finding::error(
                    "token iss",
                    format!(
                        "(unverified) expected {:?}, found {:?}",
                        rules.issuer,
                        iss.chars().take(100).collect::<String>()
                    ),
                    fix_for(Reason::TokenInvalidIssuer, None),
                ));
            }
            out.push(refused(&e));
            return;
        }
    };
    out.push(Finding::ok(
        "token",
        format!("signature verified (RS256, kid {kid:?})"),
    ));
    let mut first_failure = None;
    for check in token::explain_claims(&claims, rules, token::now()) {
        let topic = claim_topic(check.claim);
        let message = format!("expected {}, found {}", check.expected, check.found);
        match check.failure {
            None => out.push(Finding::ok(topic, message)),
            Some(failure) => {
                out.push(Finding::error(
                    topic,
                    format!("{message} ({})", failure.reason.code()),
                    fix_for(failure.reason, Some(check.claim)),
                ));
                first_failure.get_or_insert(failure);
            }
        }
    }
    let has_email = claims
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty());
    if has_email {
        out.push(Finding::ok(
            "token email",
            "present: the user's row takes its email from it",
        ));
    } else if clerk.backend_api.is_some() {
        out.push(Finding::ok(
            "token email",
            "absent: the email is looked up with the Backend API on the user's first request",
        ));
    } else {
        out.push(Finding::warning(
            "token email",
            "absent, and there is no Backend API (CLERK_SECRET_KEY): a user without a stored \
             email (a first sign-in) is refused with email-claim-missing",
            "customize the session token (Sessions → Customize session token: {\"email\": \
             \"{{user.primary_email_address}}\"}), or set CLERK_SECRET_KEY",
        ));
    }
    match first_failure {
        Some(failure) => out.push(refused(&failure)),
        None => {
            let text = |name: &str| {
                claims
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push(Finding::ok(
                "token",
                format!(
                    "accepted: this server would sign in {} (session {})",
                    text("sub"),
                    text("sid")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn clock_offset_is_the_least_consistent_one() {
        // A Date written within the request's second: no offset.
        assert_eq!(clock_offset(100, 100.2, 100.4), 0.0);
        assert_eq!(clock_offset(100, 100.9, 101.2), 0.0);
        // Their clock 60 s ahead: ours is behind.
        assert!((clock_offset(160, 100.2, 100.4) - 59.6).abs() < 1e-9);
        // Their clock 60 s behind.
        assert!((clock_offset(40, 100.2, 100.4) + 59.2).abs() < 1e-9);
    }

    #[test]
    fn findings_print_one_line_each() {
        let ok = Finding::ok(
            "jwks",
            "https://x/.well-known/jwks.json holds 1 key (ins_a)",
        );
        assert_eq!(
            ok.to_string(),
            "ok      jwks: https://x/.well-known/jwks.json holds 1 key (ins_a)"
        );
        let error = Finding::error("clock", "off", Some("use NTP".into()));
        assert_eq!(error.to_string(), "error   clock: off  fix: use NTP");
        let warning = Finding::warning("audience", "set", "unset it");
        assert_eq!(warning.to_string(), "warning audience: set  fix: unset it");
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db.internal:5432/app"),
            "postgres://app:***@db.internal:5432/app"
        );
        assert!(!redact("postgres://db/app?user=a&password=s3cret").contains("s3cret"));
        assert_eq!(
            redact("sqlite://data/app.db?mode=rwc"),
            "sqlite://data/app.db?mode=rwc"
        );
    }
}
