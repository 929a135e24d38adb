// Mounts Clerk's components where the page asks for them, and refreshes a stale session on the
// interstitial page. Loaded with `defer`, after ClerkJS (also deferred), so `window.Clerk` exists
// when Clerk is configured. No inline script anywhere: the Content-Security-Policy forbids it.
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  async function start() {
    if (!window.Clerk) { return; }
    await window.Clerk.load({ ui: { ClerkUI: window.__internal_ClerkUICtor } });

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

    var signIn = byId("clerk-sign-in");
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
