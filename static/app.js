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

  window.addEventListener("load", function () {
    start().catch(function (error) { console.error("Clerk failed to load", error); });
  });
})();
