// A stand-in for ClerkJS (clerk.browser.js) in the browser test (tests/integration/browser.rs):
// the parts of its surface that this app's static/app.js uses, with no network. It knows the
// sessions the test made, by token: `SESSIONS[token] = {task, active}` is a pending session whose
// current task is `task`, and `active` the token of the same session once the task is done.
// Completing a task does what ClerkJS does: the session becomes active, its new token is written
// to the __session cookie, and the browser goes to `redirectUrlComplete`.
(function () {
  "use strict";
  var SESSIONS = __STAND_IN_SESSIONS__;
  var script = document.currentScript;

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }

  var token = cookie("__session");
  var known = token ? SESSIONS[token] : null;
  var record = { publishableKey: script && script.dataset.clerkPublishableKey, loads: [], mounted: [] };
  window.__clerkStandIn = record;

  function mountTask(component, key) {
    return function (node, props) {
      record.mounted.push(component);
      var button = document.createElement("button");
      button.id = "stand-in-complete";
      button.type = "button";
      button.dataset.component = component;
      button.dataset.redirectUrlComplete = props && props.redirectUrlComplete;
      button.textContent = "Complete " + key;
      button.addEventListener("click", function () {
        if (!known || known.task !== key) {
          button.textContent = "this is not the session's task";
          return;
        }
        document.cookie = "__session=" + known.active + "; path=/";
        window.location.assign(props.redirectUrlComplete);
      });
      node.appendChild(button);
    };
  }

  function ignore() {}

  window.Clerk = {
    load: function (options) {
      record.loads.push(options || {});
      return Promise.resolve();
    },
    isSignedIn: Boolean(token) && !known,
    session: known ? { status: "pending", currentTask: { key: known.task } } : null,
    mountTaskChooseOrganization: mountTask("TaskChooseOrganization", "choose-organization"),
    mountTaskResetPassword: mountTask("TaskResetPassword", "reset-password"),
    mountTaskSetupMFA: mountTask("TaskSetupMFA", "setup-mfa"),
    mountSignIn: ignore,
    mountSignUp: ignore,
    mountUserButton: ignore
  };
})();
