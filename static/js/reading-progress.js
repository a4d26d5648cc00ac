// Reading progress on issue pages: a thin bar along the top of the window
// fills as the reader moves through the article. Made here, so a reader
// without JavaScript gets the page without it; it is decoration only, so
// screen readers are told to skip it.
(function () {
  "use strict";
  var article = document.querySelector("article.issue");
  if (!article || !window.requestAnimationFrame) return;
  var bar = document.createElement("div");
  bar.className = "reading-progress";
  bar.setAttribute("aria-hidden", "true");
  document.body.insertBefore(bar, document.body.firstChild);
  var queued = false;

  function update() {
    queued = false;
    var box = article.getBoundingClientRect();
    var travel = box.height - window.innerHeight;
    var done = travel > 0 ? Math.min(1, Math.max(0, -box.top / travel)) : 1;
    bar.style.transform = "scaleX(" + done.toFixed(4) + ")";
    bar.setAttribute("data-progress", done.toFixed(2));
  }

  function queue() {
    if (!queued) {
      queued = true;
      window.requestAnimationFrame(update);
    }
  }

  window.addEventListener("scroll", queue, { passive: true });
  window.addEventListener("resize", queue);
  update();
})();
