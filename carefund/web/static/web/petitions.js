// The petition page's live count: asks the small count.json every 10 seconds and updates the number (a polite
// live region, so a screen reader hears a change without being interrupted). Without JavaScript the page shows the
// count as it was when loaded.
(function () {
  "use strict";
  var el = document.querySelector("[data-count-url]");
  if (!el || !window.fetch) { return; }
  var url = el.getAttribute("data-count-url");
  var format = new Intl.NumberFormat("en-GB");
  var progress = document.getElementById("progress");
  function tick() {
    fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || typeof data.signature_count !== "number") { return; }
        var text = format.format(data.signature_count);
        if (el.textContent !== text) { el.textContent = text; }
        if (progress) { progress.value = data.signature_count; }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(tick, 10000);
})();
