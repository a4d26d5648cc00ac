/* The segment form: counts the readers the conditions match, live, as the editor
   changes them (admin JSON endpoint), before anything is saved. */
(function () {
  "use strict";
  var output = document.getElementById("segment-live-count");
  var form = output && output.closest("form");
  if (!form) { return; }
  var fields = ["lists", "tags", "status", "signed_up_after", "signed_up_before", "engaged_within_days", "inactive_for_days",
    "opened_in_last_sends", "clicked_in_last_sends", "clicked_url", "clicked_issue", "never_opened", "received_at_least",
    "field", "field_operator", "field_value"];
  var request = 0;

  function readers(n) { return n.toLocaleString("en-GB") + (n === 1 ? " reader matches" : " readers match"); }

  function query() {
    var data = new FormData(form);
    var params = new URLSearchParams();
    fields.forEach(function (name) {
      data.getAll(name).forEach(function (value) { if (value !== "") { params.append(name, value); } });
    });
    return params;
  }

  function refresh() {
    var mine = ++request;
    output.textContent = "Counting…";
    fetch(output.dataset.url + "?" + query().toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (mine !== request) { return; }
        if (!answer.ok) {
          var errors = answer.body.errors || {};
          var first = Object.keys(errors)[0];
          var where = first === "__all__" ? "" : (first || "").replace(/_/g, " ") + ": ";
          output.textContent = first ? where + errors[first][0].message : "Cannot count these conditions.";
          output.dataset.sendable = "";
          return;
        }
        output.dataset.sendable = String(answer.body.sendable);
        output.textContent = readers(answer.body.matching) + "; a send would reach " + answer.body.sendable.toLocaleString("en-GB") + " of them now.";
      })
      .catch(function () { if (mine === request) { output.textContent = "Could not count (network error)."; } });
  }

  var timer = null;
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
  form.addEventListener("change", soon);
  form.addEventListener("input", soon);
  refresh();
})();
