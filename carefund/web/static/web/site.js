// carefund's small page helpers (a static file, so a strict Content-Security-Policy allows it).
(function () {
  "use strict";
  function ready() {
    // A failed form: move focus to the summary of its errors, so a screen reader reads them first.
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
    // A table wider than the screen scrolls inside itself; make it reachable by keyboard so it can be scrolled.
    document.querySelectorAll("main table").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth + 1 && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
      }
    });
    // "Copy link" buttons: copy the address in data-copy and say so.
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var status = document.getElementById(button.getAttribute("aria-controls"));
        var done = function (text) { if (status) { status.textContent = text; } };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(button.dataset.copy).then(
            function () { done("Link copied."); },
            function () { done("Could not copy: select the address and copy it."); }
          );
        } else {
          done("Could not copy here: select the address and copy it.");
        }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();
