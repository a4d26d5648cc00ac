// Draws every <canvas data-chart="ID"> from the JSON in <script id="ID"> (Chart.js, served from our static files).
(function () {
  "use strict";
  var colours = ["#417690", "#e08e0b", "#ba2121", "#3f9142"];

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var datasets = spec.series.map(function (series, i) {
      var colour = colours[i % colours.length];
      return { label: series.label, data: series.data, borderColor: colour, backgroundColor: colour, tension: 0.2, pointRadius: 2 };
    });
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
    canvas.dataset.rendered = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
