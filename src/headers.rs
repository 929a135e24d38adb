//! Security headers of every response, and no caching of answers that depend on who is asking.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Status};
use rocket::{Request, Response};

use crate::clerk::Clerk;

/// The Content-Security-Policy of our pages: our own origin, the instance's frontend API (ClerkJS
/// and its calls), Clerk's image host, and the bot-protection host Clerk's docs require
/// (https://clerk.com/docs/guides/secure/best-practices/csp-headers), the Frontend API proxy's
/// origin when it is not this one, and the origins of `CLERK_JS_URL`/`CLERK_UI_URL` when
/// ClerkJS is loaded from elsewhere (`script_urls`). No inline script.
pub fn content_security_policy(
    frontend_api: Option<&str>,
    proxy_origin: Option<&str>,
    script_urls: &[&str],
) -> String {
    let mut fapi = frontend_api
        .map(|host| format!(" https://{host}"))
        .unwrap_or_default();
    if let Some(origin) = proxy_origin {
        fapi.push(' ');
        fapi.push_str(origin);
    }
    let mut scripts = String::new();
    for url in script_urls {
        if let Ok(url) = reqwest::Url::parse(url) {
            let origin = url.origin().ascii_serialization();
            if !scripts.contains(&origin) && origin != "null" {
                scripts.push(' ');
                scripts.push_str(&origin);
            }
        }
    }
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
            // A proxy given as a path is on this origin ('self'); an absolute one may not be.
            let proxy_origin = clerk
                .and_then(|clerk| clerk.config.proxy.as_ref())
                .and_then(|proxy| proxy.public_url.as_deref())
                .and_then(|url| reqwest::Url::parse(url).ok())
                .map(|url| url.origin().ascii_serialization());
            let script_urls: Vec<&str> = clerk
                .map(|clerk| {
                    [&clerk.config.clerk_js_url, &clerk.config.clerk_ui_url]
                        .into_iter()
                        .flatten()
                        .map(String::as_str)
                        .collect()
                })
                .unwrap_or_default();
            content_security_policy(frontend_api, proxy_origin.as_deref(), &script_urls)
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
