/* Newsroom's embeddable sign-up form, the script version.
   Finds each <form data-newsroom-signup>, posts it with fetch and shows the answer in
   place ([data-newsroom-message]). Without this script the same form posts normally
   and the reader sees our thanks page. */
(function () {
  "use strict";

  function show(form, text, failed) {
    var box = form.querySelector("[data-newsroom-message]");
    if (!box) {
      box = document.createElement("p");
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      form.appendChild(box);
    }
    box.textContent = text;
    box.className = failed ? "newsroom-signup-error" : "newsroom-signup-done";
  }

  function explain(answer) {
    var text = answer.message || "Something went wrong; please try again.";
    var errors = answer.errors || {};
    Object.keys(errors).forEach(function (name) {
      text += " " + errors[name].join(" ");
    });
    return text;
  }

  // The reader's IANA time zone, for sends "at 7:00 in each reader's time zone" (blank if unknown).
  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function send(event) {
    var form = event.target;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    var body = new FormData(form);
    if (!body.get("time_zone")) body.set("time_zone", browserZone());
    fetch(form.action, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "omit",
      mode: "cors",
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          show(form, explain(answer), !answer.ok);
          if (answer.ok) form.reset();
        });
      })
      .catch(function () {
        show(form, "We could not be reached; please try again in a moment.", true);
      })
      .then(function () {
        if (button) button.disabled = false;
      });
  }

  function attach() {
    var forms = document.querySelectorAll("form[data-newsroom-signup]");
    for (var i = 0; i < forms.length; i++) {
      if (!forms[i].dataset.newsroomReady) {
        forms[i].dataset.newsroomReady = "1";
        forms[i].addEventListener("submit", send);
      }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attach);
  else attach();
})();
