//! Where a request's token comes from: `TokenSource::of` (the strict `Authorization: Bearer`
//! reading, and the raw `Cookie` headers with `__session`, its suffixed twin and `__client_uat`)
//! on requests with any such headers, built with Rocket's local client; and around it Clerk's
//! cookie and handshake helpers: `Cookie::parse`, `Cookie::split_parse`,
//! `handshake::session_from_directives`, `cookie_state`, `without_handshake_params`,
//! `handshake_url`.

#![no_main]

use clerk_rocket::auth::TokenSource;
use clerk_rocket::clerk::handshake;
use clerk_rocket::config::{cookie_suffix, ClerkConfig};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rocket::http::Header;
use rocket::local::blocking::Client;

/// `pk_test_` + base64("clerk.example.com$"): a development instance with suffixed cookies.
const PUBLISHABLE_KEY: &str = "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k";

struct Fixture {
    client: Client,
    config: ClerkConfig,
    suffix: String,
}

thread_local! {
    static FIXTURE: Fixture = {
        let figment = figment::Figment::new()
            .merge(("clerk", serde_json::json!({ "publishable_key": PUBLISHABLE_KEY })));
        let config = ClerkConfig::from_figment(&figment).expect("a Clerk configuration");
        let rocket = rocket::custom(rocket::Config {
            log_level: rocket::config::LogLevel::Off,
            ..rocket::Config::debug_default()
        });
        Fixture {
            client: Client::untracked(rocket).expect("a local client"),
            suffix: cookie_suffix(PUBLISHABLE_KEY),
            config,
        }
    };
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Headers as sent, in order.
    headers: Vec<(Name, Value)>,
    directives: Vec<String>,
    url: String,
    reason: String,
    client_uat: Option<i64>,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Cookie,
    Authorization,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Raw(String),
    /// `name=value` pairs joined by `;` and the given spacing.
    Pairs(Vec<(CookieName, String)>, bool),
    Bearer(String),
}

#[derive(Arbitrary, Debug)]
enum CookieName {
    Session,
    SessionSuffixed,
    ClientUat,
    ClientUatSuffixed,
    Other(String),
}

fn render(value: &Value, suffix: &str) -> String {
    match value {
        Value::Raw(s) => s.clone(),
        Value::Bearer(s) => format!("Bearer {s}"),
        Value::Pairs(pairs, spaced) => pairs
            .iter()
            .map(|(name, value)| {
                let name = match name {
                    CookieName::Session => "__session".to_owned(),
                    CookieName::SessionSuffixed => format!("__session_{suffix}"),
                    CookieName::ClientUat => "__client_uat".to_owned(),
                    CookieName::ClientUatSuffixed => format!("__client_uat_{suffix}"),
                    CookieName::Other(s) => s.clone(),
                };
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join(if *spaced { "; " } else { ";" }),
    }
}

fuzz_target!(|input: Input| {
    FIXTURE.with(|f| {
        let mut request = f.client.get("/");
        for (name, value) in &input.headers {
            let name = match name {
                Name::Cookie => "Cookie".to_owned(),
                Name::Authorization => "Authorization".to_owned(),
                Name::Other(s) => s.clone(),
            };
            let value = render(value, &f.suffix);
            let _ = rocket::http::Cookie::parse(value.as_str());
            for cookie in cookie::Cookie::split_parse(value.as_str()) {
                let _ = cookie.map(|c| (c.name().len(), c.value().len()));
            }
            request = request.header(Header::new(name, value));
        }
        match TokenSource::of(request.inner(), &f.config) {
            Ok(source) => {
                if let TokenSource::Cookie {
                    token, client_uat, ..
                } = source
                {
                    let _ = handshake::cookie_state(token, client_uat);
                }
                if let Ok((token, _)) = source.token() {
                    assert!(!token.is_empty());
                }
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    });
    let session = handshake::session_from_directives(&input.directives);
    let _ = handshake::cookie_state(session.as_deref(), input.client_uat);
    let _ = handshake::without_handshake_params(&input.url);
    let _ = handshake::handshake_url(
        "clerk.example.com",
        &input.url,
        input.client_uat.is_some(),
        &input.reason,
        session.as_deref(),
        input.directives.first().map(String::as_str),
    );
});
