//! End to end in a real browser: headless Chromium, driven over `WebDriver` (Debian's
//! `chromedriver`), through local mode against the app served on 127.0.0.1.
//!
//! Skipped with a visible note when chromedriver is absent, unless `REQUIRE_BROWSER=1` (as in
//! CI), where its absence fails the test. `CLERK_ROCKET_SCREENSHOT=docs/profile.png` saves the
//! profile page for the README.
//!
//! Clerk mode runs with ClerkJS stood in (`clerk_js_stand_in.js`, served by the fake Clerk on
//! 127.0.0.1 through `CLERK_JS_URL`): nothing leaves this machine.

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use rocket::fairing::AdHoc;
use serde_json::json;

use crate::common::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver in its own process group, killed with everything it started when dropped.
pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver on a port of its choosing. A start that ends before naming its port
    /// (seen now and then with several browser tests starting at once) is tried again, twice.
    pub(crate) fn start() -> Driver {
        for attempt in 1..=3 {
            if let Some(driver) = Driver::try_start() {
                return driver;
            }
            eprintln!("chromedriver ended before naming its port (attempt {attempt} of 3)");
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!("chromedriver did not start (three attempts)");
    }

    fn try_start() -> Option<Driver> {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            };
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest
                    .trim()
                    .trim_end_matches('.')
                    .parse()
                    .expect("a port number");
            }
        };
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Some(Driver { child, port })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Whether chromedriver is missing: then the test is skipped with a note, unless
/// `REQUIRE_BROWSER` is set (CI), where that is a failure.
pub(crate) fn chromedriver_missing() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() {
        return false;
    }
    assert!(
        std::env::var("REQUIRE_BROWSER").is_err(),
        "REQUIRE_BROWSER is set but {CHROMEDRIVER} is missing"
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "note: {CHROMEDRIVER} not found: skipping the browser test"
    );
    true
}

/// Serves a local-mode app on a free port of 127.0.0.1; returns its base URL.
async fn serve_local_app() -> String {
    serve_local_app_on_database().await.0
}

/// [`serve_local_app`] with its key at `key_file` (for tokens the test mints itself).
async fn serve_local_app_with_key(key_file: &std::path::Path) -> String {
    serve(Settings::local(key_file)).await.0
}

/// [`serve_local_app`], also returning the URL of its database.
async fn serve_local_app_on_database() -> (String, String) {
    serve(Settings::local(&scratch_dir().join("local.pem"))).await
}

/// Serves the app of `settings` on a free port of 127.0.0.1; returns its base URL and the URL of
/// its database.
pub(crate) async fn serve(settings: Settings) -> (String, String) {
    let (figment, database_url) = settings.figment().await;
    let figment = figment.merge(("port", 0)).merge(("address", "127.0.0.1"));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let rocket = clerk_rocket::build(figment).attach(AdHoc::on_liftoff("port", move |rocket| {
        Box::pin(async move {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(rocket.config().port);
            }
        })
    }));
    tokio::spawn(async move { rocket.launch().await });
    let port = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("the app starts")
        .unwrap();
    (format!("http://127.0.0.1:{port}"), database_url)
}

/// `CLERK_ROCKET_SCREENSHOT`, or a scratch file.
fn screenshot_path() -> std::path::PathBuf {
    std::env::var_os("CLERK_ROCKET_SCREENSHOT").map_or_else(
        || scratch_dir().join("profile.png"),
        std::path::PathBuf::from,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_sign_in_and_out_in_chromium() {
    if chromedriver_missing() {
        return;
    }
    let base = serve_local_app().await;
    let driver = Driver::start();
    let browser = chromium(&driver, "1000,760").await;

    let result = async {
        browser.goto(&format!("{base}/")).await?;
        let banner = browser.find(Locator::Css(".banner")).await?.text().await?;
        assert!(banner.contains("Local mode"), "{banner}");

        // Sign in from the start page: /sign-in sends local mode to /dev/sign-in.
        browser
            .find(Locator::Css("main a.button"))
            .await?
            .click()
            .await?;
        browser.wait().for_element(Locator::Id("email")).await?;
        assert_eq!(browser.current_url().await?.path(), "/dev/sign-in");
        browser
            .find(Locator::Id("email"))
            .await?
            .send_keys("ada@example.com")
            .await?;
        browser
            .find(Locator::Id("first_name"))
            .await?
            .send_keys("Ada")
            .await?;
        browser
            .find(Locator::Id("last_name"))
            .await?
            .send_keys("Lovelace")
            .await?;
        browser.find(Locator::Id("sign-in")).await?.click().await?;

        let email = browser
            .wait()
            .for_element(Locator::Id("profile-email"))
            .await?
            .text()
            .await?;
        assert_eq!(email, "ada@example.com");
        assert_eq!(browser.current_url().await?.path(), "/profile");
        let name = browser
            .find(Locator::Id("profile-name"))
            .await?
            .text()
            .await?;
        assert_eq!(name, "Ada Lovelace");
        let png = browser.screenshot().await?;
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(screenshot_path(), &png).unwrap();

        // Sign out, then the profile asks for a sign-in again.
        browser
            .find(Locator::Css("form[action='/dev/sign-out'] button"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_url(&reqwest::Url::parse(&format!("{base}/")).unwrap())
            .await?;
        browser.goto(&format!("{base}/profile")).await?;
        browser.wait().for_element(Locator::Id("email")).await?;
        let url = browser.current_url().await?;
        assert_eq!(
            (url.path(), url.query()),
            ("/dev/sign-in", Some("redirect_url=%2Fprofile"))
        );
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the browser walk-through");
}

/// A WebDriver session of headless Chromium through `driver`, with a profile of its own.
pub(crate) async fn chromium(driver: &Driver, window_size: &str) -> fantoccini::Client {
    let profile_dir = scratch_dir().join("chromium-profile");
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--window-size={window_size}"), "--hide-scrollbars",
                format!("--user-data-dir={}", profile_dir.display()),
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            ]
        }
    });
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

/// Signs in through local mode's form as `email`, an administrator or not.
async fn local_sign_in(
    browser: &fantoccini::Client,
    base: &str,
    email: &str,
    admin: bool,
) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{base}/dev/sign-in")).await?;
    browser
        .wait()
        .for_element(Locator::Id("email"))
        .await?
        .send_keys(email)
        .await?;
    if admin {
        browser.find(Locator::Id("admin")).await?.click().await?;
    }
    browser.find(Locator::Id("sign-in")).await?.click().await?;
    browser
        .wait()
        .for_element(Locator::Id("profile-email"))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_bans_a_user_from_their_page_in_chromium() {
    if chromedriver_missing() {
        return;
    }
    let base = serve_local_app().await;
    let driver = Driver::start();
    let browser = chromium(&driver, "1200,900").await;
    let result = async {
        // Ada signs in once (so that the app knows her), then an administrator does.
        local_sign_in(&browser, &base, "ada@example.com", false).await?;
        local_sign_in(&browser, &base, "boss@example.com", true).await?;

        browser.goto(&format!("{base}/admin/users")).await?;
        browser
            .wait()
            .for_element(Locator::LinkText("ada@example.com"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Id("ban"))
            .await?
            .click()
            .await?;

        // The confirmation step, then the post (with its token) and the way back.
        let confirm = browser
            .wait()
            .for_element(Locator::Id("confirm-action"))
            .await?;
        assert!(browser
            .current_url()
            .await?
            .path()
            .ends_with("/confirm/ban"));
        confirm.click().await?;
        let status = browser
            .wait()
            .for_element(Locator::Id("action-status"))
            .await?
            .text()
            .await?;
        assert!(status.contains("The user is banned"), "{status}");
        let state = browser
            .find(Locator::Css("section.card .state"))
            .await?
            .text()
            .await?;
        assert_eq!(state, "banned");
        assert_eq!(browser.current_url().await?.query(), Some("done=ban"));
        let trail = browser
            .find(Locator::Css("#user-audit table"))
            .await?
            .text()
            .await?;
        assert!(trail.contains("ban") && trail.contains("ok"), "{trail}");
        // The lifted ban is one click away.
        browser.find(Locator::Id("unban")).await?;
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the admin walk-through");
}

/// `CLERK_ROCKET_DASHBOARD_SCREENSHOT`, or a scratch file.
fn dashboard_screenshot_path() -> std::path::PathBuf {
    std::env::var_os("CLERK_ROCKET_DASHBOARD_SCREENSHOT").map_or_else(
        || scratch_dir().join("dashboard.png"),
        std::path::PathBuf::from,
    )
}

/// Serves a local-mode app as [`serve_local_app`] does, with 240 users who signed up over the
/// last 30 days (4 deleted, 6 banned); returns its base URL.
async fn serve_local_app_with_users() -> String {
    let (base, database_url) = serve_local_app_on_database().await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&database_url).await.unwrap();
    let now = now();
    clerk_rocket::db::query(&format!(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 240) \
         INSERT INTO users (clerk_id, email, username, first_name, last_name, created_at, \
                            updated_at, last_seen_at, banned, deleted_at) \
         SELECT 'user_demo' || n, 'person' || n || '@example.com', 'person' || n, 'Person', \
                'No. ' || n, {now} - (n * 104729) % (30 * 86400), {now}, \
                {now} - (n * 7919) % ((n * 104729) % (30 * 86400) + 1), \
                CASE WHEN n % 40 = 0 THEN 1 ELSE 0 END, \
                CASE WHEN n % 55 = 0 THEN {now} END \
         FROM seq"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_dashboard_in_chromium() {
    if chromedriver_missing() {
        return;
    }
    let base = serve_local_app_with_users().await;
    let driver = Driver::start();
    let browser = chromium(&driver, "1200,900").await;

    let result = async {
        // An administrator signs in (local mode) and follows the nav's Admin link.
        local_sign_in(&browser, &base, "grace@example.com", true).await?;
        browser
            .wait()
            .for_element(Locator::Css("nav a[href='/admin']"))
            .await?
            .click()
            .await?;
        let users = browser
            .wait()
            .for_element(Locator::Id("total-users"))
            .await?
            .text()
            .await?;
        assert_eq!(browser.current_url().await?.path(), "/admin");
        // 240 seeded (4 of them deleted) and the admin.
        assert_eq!(users, "241");
        assert_eq!(
            browser.find(Locator::Id("banned")).await?.text().await?,
            "6"
        );
        assert_eq!(
            browser.find(Locator::Id("deleted")).await?.text().await?,
            "4"
        );
        let bars = browser.find_all(Locator::Css("svg.bars rect.bar")).await?;
        assert_eq!(bars.len(), 60, "two charts of 30 days");
        let newest = browser
            .find_all(Locator::Css("#newest-users a[href^='/admin/users/']"))
            .await?;
        assert_eq!(newest.len(), 10);
        let png = browser.screenshot().await?;
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(dashboard_screenshot_path(), &png).unwrap();
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the dashboard in Chromium");
}

/// The ClerkJS stand-in, knowing `sessions` (token → its task and the token once it is done).
fn clerk_js_stand_in(sessions: &serde_json::Value) -> String {
    include_str!("clerk_js_stand_in.js").replace("__STAND_IN_SESSIONS__", &sessions.to_string())
}

/// Serves `body` as a script at `route` of the fake Clerk (pages load it `crossorigin`).
async fn serve_script(fake: &FakeClerk, route: &str, body: String) {
    use wiremock::matchers::{method, path};
    wiremock::Mock::given(method("GET"))
        .and(path(route))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .insert_header("Access-Control-Allow-Origin", "*")
                .set_body_raw(body, "application/javascript"),
        )
        .mount(&fake.server)
        .await;
}

/// Serves a Clerk-mode app (a development instance) whose pages load the ClerkJS stand-in from a
/// fake Clerk, which knows `sessions`; returns the fake and the app's base URL.
async fn serve_clerk_app_with_stand_in(sessions: &serde_json::Value) -> (FakeClerk, String) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let stand_in = clerk_js_stand_in(sessions);
    serve_script(&fake, "/npm/clerk.browser.js", stand_in).await;
    serve_script(
        &fake,
        "/npm/ui.browser.js",
        "window.__internal_ClerkUICtor = function () {};".into(),
    )
    .await;
    let settings = Settings::clerk(&fake)
        .unset("jwt_issuer")
        .set("publishable_key", &publishable_key(ISSUER_HOST, false))
        .set(
            "clerk_js_url",
            &format!("{}/npm/clerk.browser.js", fake.server.uri()),
        )
        .set(
            "clerk_ui_url",
            &format!("{}/npm/ui.browser.js", fake.server.uri()),
        );
    let (base, _) = serve(settings).await;
    (fake, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_session_finishes_each_task_and_comes_back_in_chromium() {
    if chromedriver_missing() {
        return;
    }
    let tasks = [
        ("choose-organization", "TaskChooseOrganization"),
        ("reset-password", "TaskResetPassword"),
        ("setup-mfa", "TaskSetupMFA"),
    ];
    // One user per task, each with a pending token and the token of the same session once the
    // task is done (as Clerk mints them).
    let mut sessions = serde_json::Map::new();
    let mut users = Vec::new();
    for (key, _) in tasks {
        let user = user_id();
        let lasting = json!({ "iat": now() - 5, "exp": now() + 900 });
        let pending = key_a().sign(&with(
            with(claims(&user), lasting.clone()),
            json!({ "sts": "pending" }),
        ));
        let active = key_a().sign(&with(claims(&user), lasting));
        sessions.insert(pending.clone(), json!({ "task": key, "active": active }));
        users.push((user, pending));
    }
    let (_fake, base) = serve_clerk_app_with_stand_in(&serde_json::Value::Object(sessions)).await;
    let driver = Driver::start();
    let browser = chromium(&driver, "1000,760").await;

    let result = async {
        for ((key, component), (user, pending)) in tasks.iter().zip(&users) {
            // The browser as ClerkJS leaves it after a sign-in whose session is pending.
            browser.goto(&format!("{base}/static/app.css")).await?;
            browser.delete_all_cookies().await?;
            browser
                .execute(
                    "document.cookie = '__session=' + arguments[0] + '; path=/'; \
                     document.cookie = '__client_uat=' + arguments[1] + '; path=/'; \
                     document.cookie = '__clerk_db_jwt=dvb_test; path=/';",
                    vec![json!(pending), json!((now() - 30).to_string())],
                )
                .await?;

            // The profile sends them to the task page, whose ClerkJS opens the task's page.
            browser.goto(&format!("{base}/profile?tab=1")).await?;
            let complete = browser
                .wait()
                .for_element(Locator::Id("stand-in-complete"))
                .await?;
            let url = browser.current_url().await?;
            assert_eq!(url.path(), format!("/sign-in/tasks/{key}"));
            assert_eq!(url.query(), Some("redirect_url=%2Fprofile%3Ftab%3D1"));
            assert_eq!(
                complete.attr("data-component").await?.as_deref(),
                Some(*component)
            );
            assert_eq!(
                complete
                    .attr("data-redirect-url-complete")
                    .await?
                    .as_deref(),
                Some("/profile?tab=1")
            );
            // Clerk.load had every task's URL, with the way back.
            let record = browser
                .execute("return window.__clerkStandIn;", vec![])
                .await?;
            assert_eq!(
                record["publishableKey"],
                publishable_key(ISSUER_HOST, false).as_str()
            );
            let task_urls = &record["loads"][0]["taskUrls"];
            for (other, _) in tasks {
                assert_eq!(
                    task_urls[other],
                    format!("/sign-in/tasks/{other}?redirect_url=%2Fprofile%3Ftab%3D1"),
                    "{record}"
                );
            }

            // Done: the session is active, and the user is back where they were going.
            complete.click().await?;
            let email = browser
                .wait()
                .for_element(Locator::Id("profile-email"))
                .await?
                .text()
                .await?;
            assert_eq!(email, format!("{user}@example.test"));
            let url = browser.current_url().await?;
            assert_eq!((url.path(), url.query()), ("/profile", Some("tab=1")));
        }
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the session tasks in Chromium");
}

/// An administrator whose verification is old is asked to verify again before banning, signs
/// in again (local mode records a new verification), and bans; then a session someone else
/// drives (Clerk's `act` claim) shows its banner on every page and is refused an action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one walk-through: each step starts from the state the last one left
async fn reverification_and_impersonation_in_chromium() {
    if chromedriver_missing() {
        return;
    }
    let key_file = scratch_dir().join("local.pem");
    let issuer = clerk_rocket::clerk::local::LocalIssuer::load_or_create(&key_file).unwrap();
    let base = serve_local_app_with_key(&key_file).await;
    let driver = Driver::start();
    let browser = chromium(&driver, "1200,900").await;
    let result = async {
        local_sign_in(&browser, &base, "ada@example.com", false).await?;
        // The administrator's sign-in was verified 30 minutes ago: older than `strict`'s 10.
        browser.goto(&format!("{base}/dev/sign-in")).await?;
        browser
            .wait()
            .for_element(Locator::Id("email"))
            .await?
            .send_keys("boss@example.com")
            .await?;
        browser.find(Locator::Id("admin")).await?.click().await?;
        browser
            .find(Locator::Id("verified_minutes_ago"))
            .await?
            .send_keys("30")
            .await?;
        browser.find(Locator::Id("sign-in")).await?.click().await?;
        browser
            .wait()
            .for_element(Locator::Id("profile-email"))
            .await?;

        let ada = clerk_rocket::clerk::local::user_id_for("ada@example.com");
        let ban = |browser: fantoccini::Client| {
            let base = base.clone();
            let ada = ada.clone();
            async move {
                browser.goto(&format!("{base}/admin/users/{ada}")).await?;
                browser
                    .wait()
                    .for_element(Locator::Id("ban"))
                    .await?
                    .click()
                    .await?;
                browser
                    .wait()
                    .for_element(Locator::Id("confirm-action"))
                    .await?
                    .click()
                    .await?;
                Ok::<(), fantoccini::error::CmdError>(())
            }
        };
        ban(browser.clone()).await?;
        // Asked to verify again; nothing was done.
        let again = browser
            .wait()
            .for_element(Locator::Id("reverify-sign-in"))
            .await?;
        let text = browser
            .find(Locator::Id("clerk-reverification"))
            .await?
            .text()
            .await?;
        assert!(text.contains("Verify it's you"), "{text}");
        again.click().await?;
        // Signed in again (a new verification), back on the user's page: now the ban goes through.
        browser.wait().for_element(Locator::Id("ban")).await?;
        ban(browser.clone()).await?;
        let status = browser
            .wait()
            .for_element(Locator::Id("action-status"))
            .await?
            .text()
            .await?;
        assert!(status.contains("The user is banned"), "{status}");

        // A session that a dashboard member drives: the banner, and a refused action.
        let admin = clerk_rocket::clerk::local::LocalUser {
            email: "boss@example.com".into(),
            admin: true,
            ..Default::default()
        };
        let token = issuer.mint_acted(
            &admin,
            "http://127.0.0.1",
            600,
            &json!({"sub": "user_dashboard_member", "sid": "sess_member"}),
        );
        // The sign-in's cookie is HttpOnly: WebDriver removes it, then the page's script sets
        // the other (as ClerkJS sets `__session`).
        browser.delete_cookie("__session").await?;
        browser
            .execute(
                "document.cookie = '__session=' + arguments[0] + '; path=/';",
                vec![json!(token)],
            )
            .await?;
        browser.goto(&format!("{base}/profile")).await?;
        let banner = browser
            .wait()
            .for_element(Locator::Id("acting-banner"))
            .await?
            .text()
            .await?;
        assert!(
            banner.contains("acting as") && banner.contains("user_dashboard_member"),
            "{banner}"
        );
        browser.goto(&format!("{base}/admin/users/{ada}")).await?;
        browser.find(Locator::Id("acting-banner")).await?;
        browser
            .wait()
            .for_element(Locator::Id("unban"))
            .await?
            .click()
            .await?;
        let status = browser
            .wait()
            .for_element(Locator::Id("action-status"))
            .await?
            .text()
            .await?;
        assert!(status.contains("Someone else is acting"), "{status}");
        let trail = browser
            .find(Locator::Css("#user-audit table"))
            .await?
            .text()
            .await?;
        assert!(
            trail.contains("impersonated-session") && trail.contains("user_dashboard_member"),
            "{trail}"
        );
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the reverification and impersonation walk-through");
}

/// ClerkJS stood in (served from 127.0.0.1 through `CLERK_JS_URL`): a Clerk-mode administrator
/// whose verification is old posts "Make admin", the page opens the stand-in's
/// `__internal_openReverification`, the stand-in "verifies" (writes a fresher `__session`, as
/// ClerkJS does) and the page posts the form again: it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_verification_retries_the_form_in_chromium() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    if chromedriver_missing() {
        return;
    }
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let admin = user_id();
    let target = user_id();
    let t = now();
    let session = |fva: serde_json::Value| {
        key_a().sign(&with(
            claims(&admin),
            json!({ "azp": null, "fva": fva, "iat": t, "nbf": t - 10, "exp": t + 900 }),
        ))
    };
    let (old, fresh) = (session(json!([30, -1])), session(json!([0, -1])));
    let stand_in = format!(
        "window.Clerk = {{ isSignedIn: true, load: function () {{ return Promise.resolve(); }},\n\
           mountUserButton: function () {{}},\n\
           __internal_openReverification: function (props) {{\n\
             var b = document.createElement('button'); b.id = 'stand-in-verify';\n\
             b.textContent = 'Verify (' + props.level + ')';\n\
             b.onclick = function () {{ document.cookie = '__session={fresh}; path=/';\n\
               props.afterVerification(); }};\n\
             document.body.appendChild(b); }} }};"
    );
    Mock::given(method("GET"))
        .and(path("/clerk.browser.js"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "text/javascript")
                // The page loads it with `crossorigin="anonymous"`, as ClerkJS's CDN allows.
                .insert_header("Access-Control-Allow-Origin", "*")
                .set_body_string(stand_in),
        )
        .mount(&fake.server)
        .await;
    fake.serve_user_admin(&target, &[]).await;
    let settings = Settings::clerk(&fake)
        .set("publishable_key", &publishable_key(ISSUER_HOST, false))
        .set("secret_key", "sk_test_stand_in")
        .set("admin_user_ids", &admin)
        .set(
            "clerk_js_url",
            &format!("{}/clerk.browser.js", fake.server.uri()),
        )
        .set(
            "clerk_ui_url",
            &format!("{}/ui.browser.js", fake.server.uri()),
        );
    let (base, _) = serve(settings).await;
    let http = reqwest::Client::new();
    let seen = http
        .get(format!("{base}/api/users/me"))
        .bearer_auth(key_a().sign(&claims(&target)))
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);
    let driver = Driver::start();
    let browser = chromium(&driver, "1200,900").await;
    let result = async {
        browser.goto(&format!("{base}/health")).await?;
        browser
            .execute(
                "document.cookie = '__session=' + arguments[0] + '; path=/';\
                 document.cookie = '__client_uat=' + arguments[1] + '; path=/';\
                 document.cookie = '__clerk_db_jwt=dvb_stand_in; path=/';",
                vec![json!(old), json!((t - 5).to_string())],
            )
            .await?;
        browser
            .goto(&format!("{base}/admin/users/{target}"))
            .await?;
        browser
            .wait()
            .for_element(Locator::Id("promote"))
            .await?
            .click()
            .await?;
        // The reverification page: the stand-in's verification opens on its own.
        let verify = browser
            .wait()
            .for_element(Locator::Id("stand-in-verify"))
            .await?;
        assert_eq!(verify.text().await?, "Verify (second_factor)");
        verify.click().await?;
        let status = browser
            .wait()
            .for_element(Locator::Id("action-status"))
            .await?
            .text()
            .await?;
        assert!(status.contains("The role is changed"), "{status}");
        assert_eq!(browser.current_url().await?.query(), Some("done=set-role"));
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    drop(driver);
    result.expect("the stand-in's verification and the retried form");
}
