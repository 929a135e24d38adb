//! `/dev/sign-in` and `/dev/sign-out`: signing in without Clerk, in local mode only.

use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::response::Redirect;
use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};

use super::PageError;
use super::{redirect, Layout, Page, PageResult};
use crate::auth::{is_own_origin, request_origin, Visitor};
use crate::clerk::local::{LocalIssuer, LocalUser};
use crate::clerk::Clerk;
use crate::config::is_loopback_host;

/// Local-mode browser sessions last a working day: no ClerkJS is there to refresh them.
const SESSION_SECS: i64 = 8 * 3600;

#[derive(Debug, FromForm)]
struct SignInForm<'r> {
    email: &'r str,
    first_name: Option<&'r str>,
    last_name: Option<&'r str>,
    admin: bool,
    redirect_url: Option<&'r str>,
    /// Minutes since the (simulated) verification, to try reverification; empty: now.
    verified_minutes_ago: Option<u32>,
}

/// The oldest verification the form simulates: a day (Clerk's `lax`).
const MAX_VERIFIED_MINUTES_AGO: u32 = 1440;

fn local_only(clerk: &Clerk) -> PageResult<&LocalIssuer> {
    clerk.local.as_ref().ok_or(PageError::NotFound)
}

#[rocket::get("/dev/sign-in?<redirect_url>")]
fn form(
    visitor: Visitor,
    clerk: &State<Clerk>,
    redirect_url: Option<&str>,
) -> PageResult<Template> {
    local_only(clerk)?;
    let user = visitor.optional()?;
    let target = redirect::safe_path(redirect_url.unwrap_or("/profile"));
    Ok(Template::render(
        "dev_sign_in",
        context! { layout: Layout::new(clerk, user.as_ref()), redirect_url: target, error: Option::<&str>::None },
    ))
}

#[rocket::post("/dev/sign-in", data = "<form>")]
fn submit(
    form: Form<SignInForm<'_>>,
    clerk: &State<Clerk>,
    cookies: &CookieJar<'_>,
    post: LocalPost<'_>,
) -> PageResult<Page> {
    let issuer = local_only(clerk)?;
    let host = post.allowed()?;
    let target = redirect::safe_path(form.redirect_url.unwrap_or("/profile"));
    let email = form.email.trim();
    if !valid_email(email) {
        let layout = Layout::new(clerk, None);
        return Ok(Page::Render(Template::render(
            "dev_sign_in",
            context! { layout, redirect_url: target, error: "Enter an email address such as you@example.com." },
        )));
    }
    let clean = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(100).collect())
    };
    let user = LocalUser {
        email: email.to_owned(),
        user_id: None,
        first_name: clean(form.first_name),
        last_name: clean(form.last_name),
        admin: form.admin,
    };
    let origin = host.map_or_else(|| "http://localhost".into(), |h| format!("http://{h}"));
    let parties = &clerk.config.authorized_parties;
    let party = if parties.is_empty() || parties.contains(&origin) {
        origin
    } else {
        parties[0].clone()
    };
    let minutes = form
        .verified_minutes_ago
        .unwrap_or(0)
        .min(MAX_VERIFIED_MINUTES_AGO);
    let token = issuer.mint_verified_ago(&user, &party, SESSION_SECS.unsigned_abs(), minutes);
    cookies.add(
        Cookie::build(("__session", token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(rocket::time::Duration::seconds(SESSION_SECS)),
    );
    Ok(Page::Redirect(Redirect::to(target)))
}

#[rocket::post("/dev/sign-out")]
fn sign_out(
    clerk: &State<Clerk>,
    cookies: &CookieJar<'_>,
    post: LocalPost<'_>,
) -> PageResult<Redirect> {
    local_only(clerk)?;
    post.allowed()?;
    cookies.remove(Cookie::build("__session").path("/"));
    Ok(Redirect::to("/"))
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\''))
}

/// A post to the local sign-in forms, and whether it may be served: a browser must send it from
/// a page of this app (`Origin`, else `Referer`, matches `Host`; neither is a non-browser
/// client), and both `Host` and the client must be this machine (a DNS-rebound name would
/// otherwise reach a local server from any site; a proxy on this host would pass on anyone's
/// post) unless `CLERK_LOCAL_MODE_ALLOW_NETWORK` is set.
#[derive(Debug, Clone, Copy)]
struct LocalPost<'r> {
    /// The `Host` header, for the `azp` of local tokens.
    host: Option<&'r str>,
    refusal: Option<&'static str>,
}

impl<'r> LocalPost<'r> {
    fn allowed(self) -> PageResult<Option<&'r str>> {
        match self.refusal {
            Some(why) => Err(PageError::NotAllowed(why.to_owned())),
            None => Ok(self.host),
        }
    }
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for LocalPost<'r> {
    type Error = ();

    async fn from_request(request: &'r rocket::Request<'_>) -> rocket::request::Outcome<Self, ()> {
        let allow_network = request
            .rocket()
            .state::<Clerk>()
            .is_some_and(|clerk| clerk.config.local_mode_allow_network);
        let host = request.headers().get_one("Host").filter(|host| {
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        });
        let refusal = if request.headers().get_one("Host").is_some() && host.is_none() {
            Some("this form does not answer a malformed Host header")
        } else if host.is_some_and(|host| !allow_network && !is_loopback_host(host_name(host))) {
            Some(
                "local sign-in answers only on localhost, 127.0.0.1 or [::1] \
                 (CLERK_LOCAL_MODE_ALLOW_NETWORK is not set)",
            )
        } else if !allow_network && !crate::forwarded::from_this_machine(request) {
            // `Host` alone proves nothing behind a reverse proxy on this host, which writes
            // `Host: 127.0.0.1` for whoever it forwards.
            Some(
                "local sign-in answers only to this machine: the request came through a proxy or \
                 from another address (CLERK_LOCAL_MODE_ALLOW_NETWORK is not set)",
            )
        } else if request_origin(request)
            .is_some_and(|origin| !is_own_origin(request, &origin, false))
        {
            Some("this form only accepts posts from this app's own pages, not from another site")
        } else {
            None
        };
        rocket::request::Outcome::Success(LocalPost { host, refusal })
    }
}

/// `host` without its port (`[::1]:8000` → `[::1]`, `localhost:8000` → `localhost`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

pub fn routes() -> Vec<Route> {
    rocket::routes![form, submit, sign_out]
}
