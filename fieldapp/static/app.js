// Fieldapp page behaviour. Loaded with defer from base.html; the CSP forbids inline script.
// Weak-signal behaviour (drafts, the outbox, signature pads, the phone's clock and position) is in offline.js,
// photo resizing and uploads in photos.js.
(function () {
  "use strict";
  // An htmx request answered 401 (the session ended): go to the login page the server names in HX-Redirect.
  // (Forms marked data-offline do not get here: offline.js keeps their entry and offers the login link itself.)
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr && evt.detail.xhr.status;
    if (status === 401) {
      var target = evt.detail.xhr.getResponseHeader("HX-Redirect");
      if (target) { window.location.href = target; }
    }
  });
})();
