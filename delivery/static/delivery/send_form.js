/* The "new send" page: counts the chosen audience live (admin JSON endpoint),
   shows the date and time only for a scheduled send, and says on the button
   what confirming will do. */
(function () {
  "use strict";
  var form = document.getElementById("send-create-form");
  if (!form) { return; }
  var output = document.getElementById("audience-count");
  var button = document.getElementById("send-confirm");
  var summary = document.getElementById("send-summary");
  var laterRow = document.getElementById("send-when-later");
  var timeZone = form.dataset.timeZone;
  var count = null;
  var request = 0;

  function plural(n, word) { return n.toLocaleString("en-GB") + " " + word + (n === 1 ? "" : "s"); }

  function audienceQuery() {
    var params = new URLSearchParams();
    form.querySelectorAll('input[name="lists"]:checked').forEach(function (box) { params.append("lists", box.value); });
    var segment = form.querySelector('select[name="segment"]');
    if (segment && segment.value) { params.append("segment", segment.value); }
    return params;
  }

  function isLater() {
    var chosen = form.querySelector('input[name="when"]:checked');
    return chosen !== null && chosen.value === "later";
  }

  function describe() {
    var later = isLater();
    laterRow.hidden = !later;
    var date = form.querySelector('input[name="send_date"]').value;
    var time = form.querySelector('input[name="send_time"]').value;
    var when = later ? (date && time ? "on " + date + " at " + time + " (" + timeZone + ")" : "at the date and time you choose") : "now";
    if (count === null || count === 0) {
      button.value = later ? "Schedule send" : "Send now";
      summary.textContent = "";
      return;
    }
    button.value = (later ? "Schedule for " + plural(count, "reader") : "Send now to " + plural(count, "reader"));
    summary.textContent = "Confirming sends this issue to " + plural(count, "reader") + " " + when + ".";
  }

  function showCount(text, value) {
    count = value;
    output.textContent = text;
    output.dataset.count = value === null ? "" : String(value);
    describe();
  }

  function refreshCount() {
    var params = audienceQuery();
    if (!params.toString()) { showCount("Choose one or more lists, or a segment.", null); return; }
    var mine = ++request;
    output.textContent = "Counting…";
    fetch(form.dataset.countUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (mine !== request) { return; }
        if (!answer.ok) { showCount(answer.body.error || "The audience could not be counted.", null); return; }
        var n = answer.body.count;
        showCount(n === 0 ? "No reader in this audience can receive the issue." : plural(n, "reader") + " will receive this issue.", n);
      })
      .catch(function () { if (mine === request) { showCount("The audience could not be counted; try again.", null); } });
  }

  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "lists" || name === "segment") { refreshCount(); } else { describe(); }
  });
  form.addEventListener("input", describe);
  refreshCount();
}());
