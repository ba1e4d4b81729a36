// Keeps a newsletter's progress page current: asks its JSON every second until it is over.
(function () {
  "use strict";
  var box = document.getElementById("newsletter-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  function show(p) {
    Object.keys(p).forEach(function (key) {
      var field = box.querySelector('[data-field="' + key + '"]');
      if (field) {
        var value = p[key];
        field.textContent = value === null ? "\u2013" :
          key === "seconds_left" ? value + " s" :
          (typeof value === "number" && key !== "rate_per_s") ? value.toLocaleString("en") : String(value);
      }
    });
    bar.max = p.audience || 1;
    bar.value = p.written;
    // Only the buttons that apply now: none once it is done or cancelled.
    document.querySelectorAll("form[data-when]").forEach(function (form) {
      form.hidden = form.dataset.when.split(" ").indexOf(p.state) < 0;
    });
    return p.state === "sending" || p.state === "paused";
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (p) { if (show(p)) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
