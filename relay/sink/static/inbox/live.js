// The inbox's live updates: follows /api/v1/events (server-sent events) and shows each new
// message without a reload. Message data is only ever set as textContent, never as markup.
// Without this script every page still works; a reload shows what is new.
"use strict";

(function () {
  const pickAll = document.getElementById("pick-all");
  if (pickAll) {   // without the script there is no "select all", only the rows' own boxes
    pickAll.parentElement.hidden = false;
    pickAll.addEventListener("change", () => {
      const boxes = document.querySelectorAll("table.messages tbody input[name=id]");
      for (const box of boxes) box.checked = pickAll.checked;
    });
  }
  const source = document.body.dataset.events;
  if (!source || !window.EventSource) return;
  const unread = document.getElementById("unread");
  const total = document.getElementById("total");
  const table = document.querySelector("table.messages");
  const newBar = document.getElementById("new-bar");
  let waiting = 0;   // new messages announced by the bar, not shown in the list
  const MAX_ROWS = 500;   // past this a burst is announced by the bar, the page stays light

  function setUnread(n) {
    unread.dataset.unread = String(n);
    unread.textContent = n.toLocaleString("en-US") + " unread";
    document.title = (n ? "(" + n + ") " : "") + document.title.replace(/^\(\d+\) /, "");
  }

  function setTotal(n) {
    if (!total || total.dataset.kind !== "all") return;   // a search's count is its own
    total.dataset.total = String(n);
    total.textContent = n.toLocaleString("en-US") + (n === 1 ? " message" : " messages");
  }

  function size(bytes) {   // as settings.units.format_size writes it
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = bytes;
    for (const unit of units) {
      if (value < 1000 || unit === "TB") return unit === "B" ? value + " B" : value.toFixed(1) + " " + unit;
      value /= 1000;
    }
    return bytes + " B";
  }

  function received(iso) {   // local time, as the server writes it
    const d = new Date(iso);
    const two = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  function cell(className, text) {
    const td = document.createElement("td");
    td.className = className;
    td.textContent = text;
    return td;
  }

  function row(message, id) {
    const tr = document.createElement("tr");
    tr.className = message.read ? "read" : "unread";
    tr.dataset.id = id;
    const pick = document.createElement("td");
    pick.className = "pick";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "id";
    box.value = message.id;
    box.setAttribute("aria-label", "select " + (message.subject || "(no subject)"));
    pick.append(box);
    const subject = cell("subject", "");
    const link = document.createElement("a");
    link.href = "/messages/" + encodeURIComponent(message.id);
    link.textContent = message.subject || "(no subject)";
    const snippet = document.createElement("span");
    snippet.className = "snippet";
    snippet.textContent = message.snippet;
    subject.append(link, " ", snippet);
    tr.append(pick, cell("from", message.from), cell("to", message.to), subject,
      cell("time", received(message.date)), cell("num", size(message.size)));
    return tr;
  }

  function show(message, id) {
    if (table.querySelector('tr[data-id="' + CSS.escape(id) + '"]')) return;
    table.tBodies[0].prepend(row(message, id));
    const form = document.getElementById("selection");
    if (form) form.hidden = false;
    const empty = document.getElementById("no-mail");
    if (empty) empty.remove();
  }

  function announce() {
    waiting += 1;
    newBar.querySelector(".n").textContent = waiting + (waiting === 1 ? " new message" : " new messages");
    newBar.hidden = false;
  }

  const events = new EventSource(source);
  // following from now on (a test waits for this before it sends)
  events.addEventListener("open", () => { document.body.dataset.live = "open"; });
  events.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; });
  events.addEventListener("new", (event) => {
    const message = JSON.parse(event.data);
    if (!message.read) setUnread(Number(unread.dataset.unread) + 1);
    if (total) setTotal(Number(total.dataset.total) + 1);
    if (table && table.dataset.live === "insert" && table.tBodies[0].rows.length < MAX_ROWS) {
      show(message, event.lastEventId);
    } else if (newBar) {
      announce();
    }
  });
  events.addEventListener("changed", (event) => {
    const counts = JSON.parse(event.data);
    setUnread(counts.unread);
    setTotal(counts.total);
  });
  // a page being left closes its stream (the server's side ends at its next write)
  window.addEventListener("pagehide", () => events.close());
})();
