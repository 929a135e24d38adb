//! The organization pages in a real browser (headless Chromium, see `browser.rs`), in Clerk mode
//! with ClerkJS stood in: `CLERK_JS_URL`/`CLERK_UI_URL` point at a script served by the fake
//! Clerk on 127.0.0.1 that records which component each page asks it to mount.

use std::time::Duration;

use fantoccini::cookies::Cookie;
use fantoccini::Locator;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::browser::{chromedriver_missing, chromium, Driver};
use crate::common::*;

/// ClerkJS stood in: `load()` resolves, and every `mount…` call is written on its element
/// (`data-mounted`), where the test reads it.
const CLERK_JS_STAND_IN: &str = r#"
(function () {
  function mount(name) {
    return function (element, props) {
      element.setAttribute("data-mounted", name);
      element.setAttribute("data-props", JSON.stringify(props || {}));
      element.textContent = name + " (stood in)";
    };
  }
  window.Clerk = {
    isSignedIn: true,
    load: function () { return Promise.resolve(); },
    mountSignIn: mount("SignIn"),
    mountSignUp: mount("SignUp"),
    mountUserButton: mount("UserButton"),
    mountOrganizationSwitcher: mount("OrganizationSwitcher"),
    mountUserProfile: mount("UserProfile"),
    mountOrganizationProfile: mount("OrganizationProfile")
  };
})();
"#;

/// A Clerk-mode app on a free port of 127.0.0.1 whose pages load the stand-in from `fake`.
async fn serve_clerk_app(fake: &FakeClerk) -> String {
    for (file, body) in [
        ("/npm/clerk.browser.js", CLERK_JS_STAND_IN),
        (
            "/npm/ui.browser.js",
            "window.__internal_ClerkUICtor = function () {};",
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(file))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/javascript")
                    // The layout loads Clerk's scripts with `crossorigin="anonymous"`.
                    .insert_header("Access-Control-Allow-Origin", "*")
                    .set_body_string(body),
            )
            .mount(&fake.server)
            .await;
    }
    let settings = Settings::clerk(fake)
        .set("publishable_key", &publishable_key(ISSUER_HOST, false))
        .set(
            "clerk_js_url",
            &format!("{}/npm/clerk.browser.js", fake.api_url()),
        )
        .set(
            "clerk_ui_url",
            &format!("{}/npm/ui.browser.js", fake.api_url()),
        );
    crate::browser::serve(settings).await.0
}

/// Waits for the element `id` to be mounted by the stand-in; the component it was mounted as.
async fn mounted(
    browser: &fantoccini::Client,
    id: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let element = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!("#{id}[data-mounted]")))
        .await?;
    Ok(element.attr("data-mounted").await?.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_switcher_and_account_pages_mount_clerks_components_in_chromium() {
    if chromedriver_missing() {
        return;
    }
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let base = serve_clerk_app(&fake).await;
    let driver = Driver::start();
    let browser = chromium(&driver, "1100,800").await;
    let user = user_id();
    let token = key_a().sign(&with(
        with(
            claims(&user),
            org_claims_v2("org_acme", "acme", "admin", &[]),
        ),
        json!({ "exp": now() + 600 }),
    ));
    let result = async {
        // The browser as ClerkJS leaves it after a sign-in on a development instance.
        browser.goto(&format!("{base}/health")).await?;
        for (name, value) in [
            ("__session", token.as_str()),
            ("__client_uat", "1"),
            ("__clerk_db_jwt", "dvb_browser"),
        ] {
            let mut cookie = Cookie::new(name.to_owned(), value.to_owned());
            cookie.set_path("/");
            cookie.set_domain("127.0.0.1");
            cookie.set_same_site(cookie::SameSite::Lax);
            browser.add_cookie(cookie).await?;
        }

        // The organization's page: the switcher in the layout and <OrganizationProfile/>.
        browser.goto(&format!("{base}/orgs/current")).await?;
        assert_eq!(
            mounted(&browser, "clerk-organization-switcher").await?,
            "OrganizationSwitcher"
        );
        assert_eq!(
            mounted(&browser, "clerk-organization-profile").await?,
            "OrganizationProfile"
        );
        let props = browser
            .find(Locator::Id("clerk-organization-switcher"))
            .await?
            .attr("data-props")
            .await?
            .unwrap_or_default();
        assert!(
            props.contains("\"afterSelectOrganizationUrl\":\"/orgs/current\""),
            "{props}"
        );
        let slug = browser.find(Locator::Id("org-slug")).await?.text().await?;
        assert_eq!(slug, "acme");

        // The account page: <UserProfile/>, reached from the nav.
        browser
            .find(Locator::Css("nav a[href='/account']"))
            .await?
            .click()
            .await?;
        assert_eq!(
            mounted(&browser, "clerk-user-profile").await?,
            "UserProfile"
        );
        assert_eq!(browser.current_url().await?.path(), "/account");
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the organization pages in Chromium");
}
