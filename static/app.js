// Mounts Clerk's components where the page asks for them, and refreshes a stale session on the
// interstitial page. Loaded with `defer`, after ClerkJS (also deferred), so `window.Clerk` exists
// when Clerk is configured. No inline script anywhere: the Content-Security-Policy forbids it.
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  // Clerk's session tasks: this app's page for each task key (from the server, <body
  // data-clerk-task-urls>), each with the way back to the page first asked for. Given to
  // Clerk.load as `taskUrls`, so that ClerkJS opens them when a session is pending.
  function taskUrls(back) {
    var urls = {};
    try { urls = JSON.parse(document.body.dataset.clerkTaskUrls || "{}"); } catch (e) { urls = {}; }
    Object.keys(urls).forEach(function (key) {
      urls[key] = urls[key] + "?redirect_url=" + encodeURIComponent(back);
    });
    return urls;
  }

  // The task page (/sign-in/tasks) opens the page of the task Clerk names; a task's page mounts
  // that task's component, which goes back to `redirectUrl` once every task is done.
  function sessionTasks(node, urls) {
    var redirectUrl = node.dataset.redirectUrl || "/";
    var session = window.Clerk.session;
    var current = session && session.currentTask ? session.currentTask.key : null;
    var key = node.dataset.task;
    if (current && current !== key && urls[current]) {
      window.location.replace(urls[current]);
      return;
    }
    if (!current) {
      // Nothing left at Clerk: back, once (a stale cookie is refreshed by ClerkJS meanwhile).
      var guard = "clerk-rocket-tasks";
      var last = Number(sessionStorage.getItem(guard) || 0);
      if (Date.now() - last > 10000) {
        sessionStorage.setItem(guard, String(Date.now()));
        window.location.replace(redirectUrl);
      }
      return;
    }
    var mount = node.dataset.mount;
    if (mount && mount.indexOf("mountTask") === 0 && typeof window.Clerk[mount] === "function") {
      window.Clerk[mount](node, { redirectUrlComplete: redirectUrl });
    }
  }

  async function start() {
    if (!window.Clerk) { return; }
    var tasks = byId("clerk-session-tasks");
    var signIn = byId("clerk-sign-in");
    var back = tasks || signIn ? ((tasks || signIn).dataset.redirectUrl || "/") : location.pathname + location.search;
    var urls = taskUrls(back);
    await window.Clerk.load({ ui: { ClerkUI: window.__internal_ClerkUICtor }, taskUrls: urls });

    if (tasks) {
      sessionTasks(tasks, urls);
      return;
    }

    var interstitial = byId("clerk-interstitial");
    if (interstitial) {
      // ClerkJS has written a fresh __session cookie: reload once (never loop).
      var key = "clerk-rocket-interstitial";
      var last = Number(sessionStorage.getItem(key) || 0);
      if (Date.now() - last > 10000) {
        sessionStorage.setItem(key, String(Date.now()));
        window.location.reload();
      } else if (!window.Clerk.isSignedIn) {
        window.location.assign("/sign-in?redirect_url=" + encodeURIComponent(location.pathname + location.search));
      }
      return;
    }

    if (signIn) {
      window.Clerk.mountSignIn(signIn, {
        forceRedirectUrl: signIn.dataset.redirectUrl,
        signUpUrl: signIn.dataset.signUpUrl
      });
    }
    var signUp = byId("clerk-sign-up");
    if (signUp) {
      window.Clerk.mountSignUp(signUp, {
        forceRedirectUrl: signUp.dataset.redirectUrl,
        signInUrl: signUp.dataset.signInUrl
      });
    }
    var reverification = byId("clerk-reverification");
    if (reverification) { reverify(reverification); }
    // Organizations (templates/base, account, org_profile): Clerk's own components.
    var orgSwitcher = byId("clerk-organization-switcher");
    if (orgSwitcher) {
      window.Clerk.mountOrganizationSwitcher(orgSwitcher, {
        afterSelectOrganizationUrl: orgSwitcher.dataset.afterSelectOrganizationUrl,
        afterCreateOrganizationUrl: orgSwitcher.dataset.afterSelectOrganizationUrl,
        afterSelectPersonalUrl: orgSwitcher.dataset.afterSelectPersonalUrl,
        afterLeaveOrganizationUrl: "/"
      });
    }
    var userProfile = byId("clerk-user-profile");
    if (userProfile) { window.Clerk.mountUserProfile(userProfile, { routing: "hash" }); }
    var orgProfile = byId("clerk-organization-profile");
    if (orgProfile) {
      window.Clerk.mountOrganizationProfile(orgProfile, {
        routing: "hash",
        afterLeaveOrganizationUrl: "/"
      });
    }
    var userButton = byId("clerk-user-button");
    if (userButton) {
      window.Clerk.mountUserButton(userButton, { afterSignOutUrl: userButton.dataset.afterSignOutUrl || "/" });
    }
  }

  // An administrator's form post answered "verify again": the page carries Clerk's 403 body.
  // Open ClerkJS's verification as useReverification() does for a fetch (same level), and
  // re-post the same form, anti-forgery token included, once the user has verified.
  function reverify(section) {
    var hint = null;
    try { hint = JSON.parse(section.dataset.clerkError || "null"); } catch (e) { hint = null; }
    var error = hint && hint.clerk_error;
    if (!error || error.type !== "forbidden" || error.reason !== "reverification-error") { return; }
    var wanted = (error.metadata && error.metadata.reverification) || {};
    var retry = byId("reverify-retry");
    var cancelled = byId("reverify-cancelled");
    function open() {
      if (cancelled) { cancelled.hidden = true; }
      window.Clerk.__internal_openReverification({
        level: wanted.level,
        afterVerification: function () { retry.submit(); },
        afterVerificationCancelled: function () { if (cancelled) { cancelled.hidden = false; } }
      });
    }
    var button = byId("reverify-open");
    if (button) { button.addEventListener("click", open); }
    open();
  }

  window.addEventListener("load", function () {
    start().catch(function (error) { console.error("Clerk failed to load", error); });
  });
})();
