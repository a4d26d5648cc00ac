// Copy-link button on issue pages: shown only when the browser can copy.
(function () {
  "use strict";
  if (!navigator.clipboard) { return; }
  document.querySelectorAll("[data-copy-url]").forEach(function (button) {
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy-url")).then(
        function () { if (status) { status.textContent = "Link copied."; } },
        function () { if (status) { status.textContent = "Could not copy; copy the address bar instead."; } }
      );
    });
  });
})();
