// Copy-link button on issue pages. The button is hidden in the HTML and shown
// only here, so readers without JavaScript never see a button that does nothing.
(function () {
  "use strict";

  function copyWithSelection(text) {
    // navigator.clipboard needs a secure context (https or localhost); on a
    // plain-http address fall back to copying a selected, off-screen field.
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.style.position = "fixed";
    field.style.left = "-9999px";
    document.body.appendChild(field);
    field.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(field);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyWithSelection(text); });
    }
    return copyWithSelection(text);
  }

  document.querySelectorAll("[data-copy-url]").forEach(function (button) {
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(button.getAttribute("data-copy-url")).then(
        function () { if (status) { status.textContent = "Link copied."; } },
        function () { if (status) { status.textContent = "Could not copy; copy the address bar instead."; } }
      );
    });
  });
})();
