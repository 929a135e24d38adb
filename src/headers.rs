//! Security headers of every response, and no caching of answers that depend on who is asking.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Status};
use rocket::{Request, Response};

use crate::clerk::Clerk;

/// The Content-Security-Policy of our pages: our own origin, the instance's frontend API (ClerkJS
/// and its calls), Clerk's image host, and the bot-protection host Clerk's docs require
/// (https://clerk.com/docs/guides/secure/best-practices/csp-headers), and the origins of
/// `script_urls` (`CLERK_JS_URL`, `CLERK_UI_URL`). No inline script.
pub fn content_security_policy(
    frontend_api: Option<&str>,
    script_urls: &[Option<String>],
) -> String {
    let fapi = frontend_api
        .map(|host| format!(" https://{host}"))
        .unwrap_or_default();
    let scripts: String = script_urls
        .iter()
        .flatten()
        .filter_map(|url| reqwest::Url::parse(url).ok())
        .flat_map(|url| [" ".to_owned(), url.origin().ascii_serialization()])
        .collect();
    let challenges = if frontend_api.is_some() {
        " https://challenges.cloudflare.com"
    } else {
        ""
    };
    format!(
        "default-src 'self'; script-src 'self'{fapi}{scripts}{challenges}; connect-src 'self'{fapi}; \
         img-src 'self' https://img.clerk.com data:; style-src 'self' 'unsafe-inline'; \
         worker-src 'self' blob:; frame-src 'self'{challenges}; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'; object-src 'none'"
    )
}

/// The headers fairing of one app instance; the policy is worked out once, on the first page.
#[derive(Default)]
pub struct SecurityHeaders {
    policy: std::sync::OnceLock<String>,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        // Rocket's Shield headers too (its fairing is attached empty, `crate::build`): one pass
        // over the response instead of two (Shield showed in `perf` of every request).
        response.set_header(Header::new(
            "Referrer-Policy",
            "strict-origin-when-cross-origin",
        ));
        response.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        response.set_header(Header::new("Permissions-Policy", "interest-cohort=()"));
        for directive in crate::auth::handshake_cookies(request) {
            // Clerk's handshake cookies, each as its own header, in order.
            response.adjoin_raw_header("Set-Cookie", directive.clone());
        }
        // The header's text, not `content_type()`, which parses the media type on every call.
        let html = response
            .headers()
            .get_one("Content-Type")
            .and_then(|ct| ct.get(..9))
            .is_some_and(|ct| ct.eq_ignore_ascii_case("text/html"));
        if html || depends_on_caller(request) {
            // Who is signed in shapes the answer (JSON errors too): no shared cache may keep it,
            // and no private cache may serve it to another credential.
            response.set_header(Header::new("Cache-Control", "no-store"));
            response.set_header(Header::new("Vary", "Authorization, Cookie"));
        }
        if response.status() == Status::Unauthorized
            && !response.headers().contains("WWW-Authenticate")
        {
            // Every 401 names its scheme (RFC 9110), pages' interstitial included.
            response.set_header(Header::new(
                "WWW-Authenticate",
                "Bearer realm=\"clerk-rocket\"",
            ));
        }
        if !html {
            response.set_header(Header::new("X-Frame-Options", "SAMEORIGIN"));
            return;
        }
        let policy = self.policy.get_or_init(|| {
            let clerk = request
                .rocket()
                .state::<Clerk>()
                .filter(|clerk| !clerk.config.local_mode());
            let frontend_api =
                clerk.and_then(|clerk| clerk.config.instance.frontend_api.as_deref());
            let script_urls = clerk.map_or(&[][..], |clerk| &clerk.config.script_urls[..]);
            content_security_policy(frontend_api, script_urls)
        });
        response.set_header(Header::new("Content-Security-Policy", policy.clone()));
        response.set_header(Header::new("X-Frame-Options", "DENY"));
    }
}

/// Whether the answer may depend on who asks: everything under `/api`, and any request that
/// carries credentials (static files excepted: they are the same for everyone).
fn depends_on_caller(request: &Request<'_>) -> bool {
    let path = request.uri().path();
    if path.starts_with("/static/") {
        return false;
    }
    let headers = request.headers();
    path == "/api"
        || path.starts_with("/api/")
        || headers.contains("Authorization")
        || headers.contains("Cookie")
        // Rocket's local client fills the jar only, not the raw header.
        || request.cookies().iter().next().is_some()
}
