// Fieldapp page behaviour. Loaded with defer from base.html; the CSP forbids inline script.
(function () {
  "use strict";
  // A fresh one-time key for create forms after htmx swaps a form back in after a 422 keeps the old one,
  // so a corrected resubmission still records once.
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr && evt.detail.xhr.status;
    if (status === 401) {
      var target = evt.detail.xhr.getResponseHeader("HX-Redirect");
      if (target) { window.location.href = target; }
    }
  });
})();
