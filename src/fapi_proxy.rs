//! Clerk's Frontend API through this server (Clerk's "proxy"), for browsers behind ad blockers or
//! firewalls that block `clerk.<domain>`, and hosts where no CNAME can be added: every request
//! under the proxy's path is forwarded to the Frontend API, as `clerkFrontendApiProxy` does in
//! <https://github.com/clerk/javascript/blob/main/packages/backend/src/proxy.ts>:
//!
//! - `Clerk-Proxy-Url` (the proxy's public URL), `Clerk-Secret-Key` and `X-Forwarded-*` added;
//!   hop-by-hop headers (and those `Connection` names) dropped both ways, and the answer's
//!   `content-encoding`/`content-length` (the Frontend API is asked for `identity`);
//! - redirects never followed: a `Location` on the Frontend API is rewritten to the proxy;
//! - a path that would leave the Frontend API's host is refused.
//!
//! Bodies are streamed both ways, never held whole, and bounded ([`MAX_REQUEST_BYTES`],
//! [`MAX_RESPONSE_BYTES`]); each forwarded request is bounded in time ([`TIMEOUT`]). Refusals
//! use the Frontend API's own error shape (`{"errors":[{"code","message"}]}`), which ClerkJS reads.

use std::io;
use std::time::Duration;

use rocket::data::{Data, ToByteUnit};
use rocket::futures::{StreamExt, TryStreamExt};

use rocket::http::{Header, Method, Status};
use rocket::request::Request;
use rocket::response::Response;
use rocket::route::{self, Handler, Route};

use crate::config::ProxySettings;

/// Requests to the Frontend API are forms and small JSON bodies.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;
/// ClerkJS's bundles are the largest answers (a few MiB at most).
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// The whole exchange with the Frontend API, body included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Never forwarded, either way (RFC 9110 §7.6.1, and Clerk's list).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// Set by this proxy, whatever the client sent; `host` and `content-length` belong to the
/// forwarded request itself.
const REPLACED: &[&str] = &[
    "host",
    "content-length",
    "clerk-proxy-url",
    "clerk-secret-key",
    "accept-encoding",
    "x-forwarded-for",
];

/// The proxy's routes: every method under its path.
#[derive(Clone)]
pub struct FapiProxy {
    http: reqwest::Client,
    settings: ProxySettings,
    secret_key: String,
    production: bool,
    trusted_proxies: Vec<ipnet::IpNet>,
}

impl FapiProxy {
    pub fn new(
        settings: ProxySettings,
        secret_key: String,
        production: bool,
        trusted_proxies: Vec<ipnet::IpNet>,
    ) -> FapiProxy {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        FapiProxy {
            http,
            settings,
            secret_key,
            production,
            trusted_proxies,
        }
    }

    /// The routes to mount at [`ProxySettings::path`].
    pub fn routes(self) -> Vec<Route> {
        let methods = [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
            Method::Options,
        ];
        methods
            .into_iter()
            // `<path..>` matches the proxy's own path too (no segment).
            .map(|method| Route::ranked(-20, method, "/<path..>", self.clone()))
            .collect()
    }

    /// The proxy's public URL for this request: the configured one, else the request's public
    /// origin and the path.
    pub fn public_url(&self, request: &Request<'_>) -> Option<String> {
        public_url(&self.settings, request, self.production)
    }
}

/// [`FapiProxy::public_url`] for settings not yet made a proxy (ClerkJS's script tags, the
/// handshake).
pub fn public_url(
    settings: &ProxySettings,
    request: &Request<'_>,
    production: bool,
) -> Option<String> {
    match &settings.public_url {
        Some(url) => Some(url.clone()),
        None => crate::auth::public_origin(request, production)
            .map(|origin| format!("{origin}{}", settings.path)),
    }
}

/// Why a request was not forwarded.
#[derive(Debug)]
enum Refusal {
    /// The path would leave the Frontend API (400).
    Escapes,
    /// The request's public origin cannot be told (a malformed `Host`) (400).
    NoOrigin,
    /// A body over [`MAX_REQUEST_BYTES`] (413).
    TooLarge,
    /// The Frontend API did not answer in time, or the connection failed (502).
    Failed,
}

impl Refusal {
    fn answer(&self) -> (Status, &'static str, &'static str) {
        match self {
            Refusal::Escapes => (
                Status::BadRequest,
                "proxy_request_failed",
                "Resolved target does not match the expected host",
            ),
            Refusal::NoOrigin => (
                Status::BadRequest,
                "proxy_request_failed",
                "The request's host is not a valid host name",
            ),
            Refusal::TooLarge => (
                Status::PayloadTooLarge,
                "proxy_request_too_large",
                "The request body is larger than the proxy forwards (1 MiB)",
            ),
            Refusal::Failed => (
                Status::BadGateway,
                "proxy_request_failed",
                "Failed to proxy request to Clerk FAPI",
            ),
        }
    }

    fn respond(&self) -> Response<'static> {
        let (status, code, message) = self.answer();
        let body =
            serde_json::json!({ "errors": [{ "code": code, "message": message }] }).to_string();
        Response::build()
            .status(status)
            .raw_header("Content-Type", "application/json")
            .raw_header("Cache-Control", "no-store")
            .sized_body(body.len(), io::Cursor::new(body))
            .finalize()
    }
}

#[rocket::async_trait]
impl Handler for FapiProxy {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> route::Outcome<'r> {
        let response = match self.forward(request, data).await {
            Ok(response) => response,
            Err(refusal) => refusal.respond(),
        };
        route::Outcome::Success(response)
    }
}

impl FapiProxy {
    async fn forward<'r>(
        &self,
        request: &'r Request<'_>,
        data: Data<'r>,
    ) -> Result<Response<'static>, Refusal> {
        let target = self.target(request)?;
        let proxy_url = self.public_url(request).ok_or(Refusal::NoOrigin)?;
        let headers = self.forwarded_headers(request, &proxy_url);
        let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
            .map_err(|_| Refusal::Failed)?;
        let forwarded = self.http.request(method, target).headers(headers);
        let answer = if has_body(request) {
            let declared = request
                .headers()
                .get_one("Content-Length")
                .and_then(|n| n.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > MAX_REQUEST_BYTES) {
                return Err(Refusal::TooLarge);
            }
            // The body is read here and handed to reqwest through a channel, chunk by chunk:
            // Rocket's body stream borrows the request, and reqwest's must be its own.
            let (chunks, body) = rocket::tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(4);
            let body = rocket::futures::stream::unfold(body, |mut body| async move {
                body.recv().await.map(|chunk| (chunk, body))
            });
            let forwarded = forwarded.body(reqwest::Body::wrap_stream(body)).send();
            let (pumped, answer) = rocket::tokio::join!(pump(data, chunks), forwarded);
            if pumped == Pumped::TooLarge {
                return Err(Refusal::TooLarge);
            }
            answer
        } else {
            forwarded.send().await
        };
        let answer = answer.map_err(|e| {
            log::warn!(
                "the Frontend API proxy could not reach {}: {}",
                self.settings.fapi_url,
                crate::echo::printable(&e.to_string(), 300)
            );
            Refusal::Failed
        })?;
        Ok(self.answer(answer, &proxy_url))
    }

    /// The Frontend API URL for this request: its path under the proxy's, and its query, as the
    /// client sent them (still percent-encoded).
    fn target(&self, request: &Request<'_>) -> Result<reqwest::Url, Refusal> {
        let uri = request.uri();
        let path = uri.path().as_str();
        let rest = path
            .strip_prefix(self.settings.path.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .ok_or(Refusal::Escapes)?;
        let rest = if rest.is_empty() { "/" } else { rest };
        if escapes(rest) {
            return Err(Refusal::Escapes);
        }
        let mut target = format!("{}{rest}", self.settings.fapi_url);
        if let Some(query) = uri.query() {
            target.push('?');
            target.push_str(query.as_str());
        }
        let target = reqwest::Url::parse(&target).map_err(|_| Refusal::Escapes)?;
        let base = reqwest::Url::parse(&self.settings.fapi_url).map_err(|_| Refusal::Escapes)?;
        if target.origin() != base.origin() {
            return Err(Refusal::Escapes);
        }
        Ok(target)
    }

    fn forwarded_headers(
        &self,
        request: &Request<'_>,
        proxy_url: &str,
    ) -> reqwest::header::HeaderMap {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let listed = connection_listed(request.headers().get("Connection"));
        let mut headers = HeaderMap::new();
        for header in request.headers().iter() {
            let name = header.name().as_str().to_ascii_lowercase();
            if HOP_BY_HOP.contains(&name.as_str())
                || REPLACED.contains(&name.as_str())
                || listed.contains(&name)
            {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(header.value()),
            ) {
                headers.append(name, value);
            }
        }
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set("clerk-proxy-url", proxy_url);
        set("clerk-secret-key", &self.secret_key);
        set("accept-encoding", "identity");
        // The peer, or the client a trusted proxy names (`CLERK_TRUSTED_PROXIES`); never what
        // a client writes itself (Rocket's `client_ip()` believes `X-Real-IP` from anyone).
        if let Some(ip) = crate::auth::client::forwarded_client(request, &self.trusted_proxies) {
            set("x-forwarded-for", &ip.to_string());
        }
        let own = request.headers();
        if own.get_one("X-Forwarded-Host").is_none() {
            if let Some(host) = own.get_one("Host") {
                set("x-forwarded-host", host);
            }
        }
        if own.get_one("X-Forwarded-Proto").is_none() {
            set(
                "x-forwarded-proto",
                if request.rocket().config().tls_enabled() {
                    "https"
                } else {
                    "http"
                },
            );
        }
        headers
    }

    /// The Frontend API's answer as this server's: headers filtered, `Location` on the Frontend
    /// API rewritten to the proxy, the body streamed up to [`MAX_RESPONSE_BYTES`].
    fn answer(&self, answer: reqwest::Response, proxy_url: &str) -> Response<'static> {
        let status = Status::new(answer.status().as_u16());
        let listed = connection_listed(
            answer
                .headers()
                .get_all("connection")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let mut response = Response::build();
        response.status(status);
        for (name, value) in answer.headers() {
            let name = name.as_str();
            let dropped = HOP_BY_HOP.contains(&name)
                || matches!(name, "content-encoding" | "content-length" | "location")
                || listed.iter().any(|l| l == name);
            let Ok(value) = value.to_str() else { continue };
            // The secret key never leaves, even if the Frontend API echoed it.
            if dropped || value.contains(&self.secret_key) {
                continue;
            }
            response.header_adjoin(Header::new(name.to_owned(), value.to_owned()));
        }
        if let Some(location) = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
        {
            response.raw_header("Location", self.rewrite_location(location, proxy_url));
        }
        let mut sent = 0usize;
        let body = answer
            .bytes_stream()
            .map_err(io::Error::other)
            .map(move |chunk| {
                let chunk = chunk?;
                sent += chunk.len();
                if sent > MAX_RESPONSE_BYTES {
                    // Ends the connection mid-body: a cut answer cannot pass for a whole one.
                    return Err(io::Error::other(
                        "Frontend API answer over the proxy's bound",
                    ));
                }
                Ok(chunk)
            });
        response.streamed_body(tokio_util::io::StreamReader::new(body));
        response.finalize()
    }

    fn rewrite_location(&self, location: &str, proxy_url: &str) -> String {
        let Ok(base) = reqwest::Url::parse(&self.settings.fapi_url) else {
            return location.to_owned();
        };
        match base.join(location) {
            Ok(url) if url.origin() == base.origin() => {
                let mut rewritten = format!("{proxy_url}{}", url.path());
                if let Some(query) = url.query() {
                    rewritten.push('?');
                    rewritten.push_str(query);
                }
                if let Some(fragment) = url.fragment() {
                    rewritten.push('#');
                    rewritten.push_str(fragment);
                }
                rewritten
            }
            _ => location.to_owned(),
        }
    }
}

/// Whether a request may carry a body to forward: a method that has one, or a request that says
/// it sends one.
fn has_body(request: &Request<'_>) -> bool {
    let headers = request.headers();
    matches!(
        request.method(),
        Method::Post | Method::Put | Method::Patch | Method::Delete
    ) || headers.contains("Transfer-Encoding")
        || headers
            .get_one("Content-Length")
            .is_some_and(|n| n.trim() != "0")
}

/// The header names a `Connection` header lists (hop-by-hop for this exchange).
fn connection_listed<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Whether a path (as sent, percent-encoded) has a dot segment or an encoded separator, either
/// of which could make the Frontend API see another path than the one checked.
fn escapes(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains('\\')
        || lower.split('/').any(|segment| {
            let decoded = segment.replace("%2e", ".");
            decoded == "." || decoded == ".."
        })
}

#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    Whole,
    TooLarge,
    /// The forwarded request ended first (the Frontend API answered, or failed).
    Dropped,
}

/// Reads the request's body into `chunks`, up to [`MAX_REQUEST_BYTES`]; one byte more ends the
/// forwarded request with an error instead of cutting the body short.
async fn pump(
    data: Data<'_>,
    chunks: rocket::tokio::sync::mpsc::Sender<io::Result<Vec<u8>>>,
) -> Pumped {
    use rocket::tokio::io::AsyncReadExt;
    let mut stream = data.open((MAX_REQUEST_BYTES + 1).bytes());
    let mut read = 0u64;
    loop {
        let mut chunk = vec![0u8; 16 * 1024];
        let n = match stream.read(&mut chunk).await {
            Ok(0) => return Pumped::Whole,
            Ok(n) => n,
            Err(e) => {
                let _ = chunks.send(Err(e)).await;
                return Pumped::Dropped;
            }
        };
        read += n as u64;
        if read > MAX_REQUEST_BYTES {
            let _ = chunks
                .send(Err(io::Error::other("request body over the proxy's bound")))
                .await;
            return Pumped::TooLarge;
        }
        chunk.truncate(n);
        if chunks.send(Ok(chunk)).await.is_err() {
            return Pumped::Dropped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_encoded_separators_escape() {
        for bad in [
            "/..",
            "/a/../b",
            "/%2e%2e/x",
            "/%2E./x",
            "/a/%2f/b",
            "/a%5cb",
            "/a\\b",
            "/.",
        ] {
            assert!(escapes(bad), "{bad}");
        }
        for good in [
            "/",
            "/v1/client",
            "/npm/@clerk/clerk-js@5/dist/clerk.browser.js",
            "/a..b",
        ] {
            assert!(!escapes(good), "{good}");
        }
    }

    #[test]
    fn connection_names_its_hop_by_hop_headers() {
        let listed = connection_listed(["keep-alive, X-Secret ", ""].into_iter());
        assert_eq!(listed, vec!["keep-alive", "x-secret"]);
    }
}
