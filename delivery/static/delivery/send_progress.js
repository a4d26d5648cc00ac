/* A send's admin page: polls the progress endpoint and redraws the bar and the
   figures without reloading; reloads once when the status changes, so the
   buttons and the list of readers who need attention match the new state. */
(function () {
  "use strict";
  var box = document.getElementById("send-progress");
  if (!box) { return; }
  var url = box.dataset.progressUrl;
  var shownStatus = box.dataset.status;
  var delays = { scheduled: 5000, snapshotting: 1000, sending: 1000, paused: 3000 };
  var failures = 0;

  function field(name) { return box.querySelector('[data-field="' + name + '"]'); }
  function number(n) { return Number(n).toLocaleString("en-GB"); }


  function width(part, total) { return total ? (100 * part / total).toFixed(2) + "%" : "0%"; }

  function draw(p) {
    ["sent", "total", "failed", "uncertain", "skipped"].forEach(function (key) { field(key).textContent = number(p[key]); });
    field("percent").textContent = p.percent;
    field("rate").textContent = number(p.rate);
    field("eta").textContent = p.eta;
    field("limit").textContent = p.limit;
    var opens = field("window_wait");
    if (opens) { opens.textContent = p.window_wait ? "; opens in " + p.window_wait : ""; }
    var labels = { waiting: "To come", sending: "Sending", done: "Done" };
    (p.zones || []).forEach(function (z) {
      var row = Array.prototype.find.call(box.querySelectorAll("#send-zones tr[data-zone]"), function (r) {
        return r.dataset.zone === z.zone;
      });
      if (!row) { return; }
      row.querySelector("[data-zone-field=sent]").textContent = z.sent;
      row.querySelector("[data-zone-field=to_go]").textContent = z.to_go;
      var state = row.querySelector("[data-zone-field=state]");
      state.className = "send-zone-" + z.state;
      state.textContent = labels[z.state] + (z.late ? " (its local time had passed when the send started: sent at once)" : "");
    });
    var error = field("error");
    error.textContent = p.error;
    error.hidden = !p.error;
    ["sent", "failed", "uncertain", "skipped"].forEach(function (key) {
      box.querySelector(".bar-" + key).style.width = width(p[key], p.total);
    });
    box.querySelector(".send-bar").setAttribute("aria-valuenow", p.percent);
    var label = document.getElementById("send-status");
    label.textContent = p.status_label;
    label.className = "send-status send-status-" + p.status;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (p) {
        failures = 0;
        draw(p);
        if (p.status !== shownStatus) { window.location.reload(); return; }
        if (!p.ended) { window.setTimeout(poll, delays[p.status] || 2000); }
      })
      .catch(function () {
        failures += 1;
        window.setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
      });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
  if (["done", "failed", "cancelled"].indexOf(shownStatus) === -1) {
    document.getElementById("send-live-note").hidden = false;
    poll();
  }
}());
