// The queue dashboard refreshes its counts and lists by itself (every data-refresh seconds),
// keeping the filters, the ticked messages, the opened histories and the scroll position, and
// shows the relay's answer to a move just asked for as soon as it comes (#move-result's
// data-waiting names where to ask). Without this script the page still works: reload it, and
// the buttons are plain forms.
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

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  function replaceRows(body, html) {
    var ticked = new Set(), opened = new Set();
    body.querySelectorAll("input[name=ids]:checked").forEach(function (e) { ticked.add(e.value); });
    body.querySelectorAll("details[open]").forEach(function (e) { opened.add(e.dataset.id); });
    body.innerHTML = html;  // the server's own template output, escaped there
    body.querySelectorAll("input[name=ids]").forEach(function (e) { e.checked = ticked.has(e.value); });
    body.querySelectorAll("details").forEach(function (e) { e.open = opened.has(e.dataset.id); });
  }

  // again: schedule the next refresh (false for one out of turn).
  function refresh(again) {
    getJson(feedUrl())
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
      .then(function () {
        if (again) { window.setTimeout(function () { refresh(true); }, every); }
      });
  }

  // Asks for the answer every half second at first (the relay looks at requests that often),
  // then at the refresh pace, until it is there.
  function awaitAnswer(box) {
    var tries = 0;
    function ask() {
      getJson(box.dataset.waiting)
        .then(function (data) {
          if (data && data.answered) {
            box.innerHTML = data.html;  // the server's own template output, escaped there
            delete box.dataset.waiting;
            box.dataset.answered = "true";
            refresh(false);  // the relay published at once: show the lists as the move left them
            return;
          }
          tries += 1;
          window.setTimeout(ask, tries < 20 ? 500 : every);
        })
        .catch(function () { window.setTimeout(ask, every); });
    }
    window.setTimeout(ask, 500);
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
  var answer = document.getElementById("move-result");
  if (answer && answer.dataset.waiting) { awaitAnswer(answer); }
  window.setTimeout(function () { refresh(true); }, every);
}());
