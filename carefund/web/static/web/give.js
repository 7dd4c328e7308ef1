// The giving page (web/campaigns/give.html), a static file so the Content-Security-Policy needs no inline script:
// show the declaration the donor is about to make: the wording of the scope chosen, with the amount chosen (as
// the form reads it: another amount when one is given, else the preset); without scripts, all three with £__
(function () {
  var form = document.querySelector("form[data-scope-select]");
  var select = form && document.getElementById(form.getAttribute("data-scope-select"));
  if (!select) { return; }
  function pounds(pence) {
    return "£" + (pence / 100).toLocaleString("en-GB", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }
  function amount() {
    var custom = form.elements["custom_amount"].value.replace(/[£,\s]/g, "");
    var chosen = form.querySelector('input[name="preset"]:checked');
    if (custom || (chosen && chosen.value === "other")) {
      return /^\d+(\.\d{1,2})?$/.test(custom) && Number(custom) > 0 ? pounds(Math.round(Number(custom) * 100)) : "£__";
    }
    return chosen ? pounds(parseInt(chosen.value, 10)) : "£__";
  }
  function show() {
    var text = amount();
    document.querySelectorAll(".gift-aid-wording [data-scope]").forEach(function (p) {
      p.hidden = p.getAttribute("data-scope") !== select.value;
      var wording = p.querySelector("[data-wording]");
      wording.textContent = wording.getAttribute("data-wording").replace("£__", text);
    });
  }
  form.addEventListener("change", show);
  form.addEventListener("input", show);
  show();
})();
