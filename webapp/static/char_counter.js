// The live count under a text area with a limit (data-limit, rendered by _form.html). The
// server refuses a longer text and sends it back; this only says so while typing. It counts
// as the server does: characters (code points), a line break as one.
(function () {
  "use strict";
  var number = function (n) { return n.toLocaleString("en"); };

  function show(area, out) {
    var limit = Number(area.dataset.limit);
    var used = Array.from(area.value).length;
    out.textContent = number(used) + " / " + number(limit) + " characters" +
      (used > limit ? ": " + number(used - limit) + " too many" : "");
    out.classList.toggle("over", used > limit);
  }

  document.querySelectorAll("textarea[data-limit]").forEach(function (area) {
    var out = document.getElementById(area.id + "-count");
    if (!out || area.dataset.counting) return;   // a page with two forms loads this twice
    area.dataset.counting = "yes";
    out.hidden = false;
    area.addEventListener("input", function () { show(area, out); });
    show(area, out);
  });
})();
