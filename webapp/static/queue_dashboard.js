// The queue dashboard refreshes its counts and lists by itself (every data-refresh seconds),
// keeping the filters, the ticked messages, the opened histories and the scroll position.
// Without this script the page still works: reload it, and the buttons are plain forms.
(function () {
  "use strict";
  var root = document.getElementById("queue-dashboard");
  if (!root) { return; }
  var every = Number(root.dataset.refresh || 3) * 1000;

  function feedUrl() {
    var params = new URLSearchParams(window.location.search);
    params.delete("request");
    var query = params.toString();
    return root.dataset.feed + (query ? "?" + query : "");
  }

  function replaceRows(body, html) {
    var ticked = new Set(), opened = new Set();
    body.querySelectorAll("input[name=ids]:checked").forEach(function (e) { ticked.add(e.value); });
    body.querySelectorAll("details[open]").forEach(function (e) { opened.add(e.dataset.id); });
    body.innerHTML = html;  // the server's own template output, escaped there
    body.querySelectorAll("input[name=ids]").forEach(function (e) { e.checked = ticked.has(e.value); });
    body.querySelectorAll("details").forEach(function (e) { e.open = opened.has(e.dataset.id); });
  }

  function refresh() {
    fetch(feedUrl(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        document.getElementById("queue-summary").innerHTML = data.summary;
        Object.keys(data.tables).forEach(function (folder) {
          var body = document.getElementById("rows-" + folder);
          if (body) { replaceRows(body, data.tables[folder]); }
        });
        root.dataset.refreshed = String(Date.now());
      })
      .catch(function () { /* the next refresh tries again */ })
      .then(function () { window.setTimeout(refresh, every); });
  }

  root.querySelectorAll(".select-all").forEach(function (box) {
    box.addEventListener("change", function () {
      box.closest("table").querySelectorAll("tbody input[name=ids]").forEach(function (e) {
        e.checked = box.checked;
      });
    });
  });
  root.querySelectorAll("button[value=delete]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm("Delete the ticked messages for good?")) { event.preventDefault(); }
    });
  });
  window.setTimeout(refresh, every);
}());
