// 数据看板: charts from <script type="application/json"> blocks (the table beside each chart holds the
// exact figures), progress bar widths from data-* attributes, and the period fields of the filter form.
(function () {
  "use strict";

  function readJSON(id) {
    var node = document.getElementById(id);
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function clampPercent(value) {
    var n = parseFloat(value);
    if (!isFinite(n) || n < 0) { return 0; }
    return Math.min(n, 100);
  }

  // Progress bars: widths and the expected-by-now marker (CSP forbids inline style attributes).
  document.querySelectorAll("[data-width]").forEach(function (bar) {
    bar.style.width = clampPercent(bar.getAttribute("data-width")) + "%";
  });
  document.querySelectorAll(".dash-pace[data-left]").forEach(function (mark) {
    mark.style.left = "calc(" + clampPercent(mark.getAttribute("data-left")) + "% - 1px)";
  });

  // Period filter: show only the inputs the chosen period uses.
  var periodSelect = document.getElementById("f-period");
  function syncPeriodFields() {
    if (!periodSelect) { return; }
    var kind = periodSelect.value;
    document.querySelectorAll("[data-period-field]").forEach(function (box) {
      var kinds = box.getAttribute("data-period-field").split(" ");
      var on = kinds.indexOf(kind) !== -1;
      box.hidden = !on;
      box.querySelectorAll("input, select").forEach(function (input) { input.disabled = !on; });
    });
  }
  if (periodSelect) {
    periodSelect.addEventListener("change", syncPeriodFields);
    syncPeriodFields();
  }

  if (typeof window.echarts === "undefined") { return; }

  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (box) {
    var spec = readJSON(box.getAttribute("data-chart"));
    if (!spec) { return; }
    var chart = window.echarts.init(box, null, { renderer: "canvas" });
    var series;
    var option;
    if (spec.kind === "funnel") {
      option = {
        tooltip: { trigger: "item" },
        series: [{
          type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "10%",
          label: { show: true, position: "inside" },
          data: spec.categories.map(function (name, i) { return { name: name, value: Number(spec.series[0].data[i]) }; })
        }]
      };
    } else {
      series = spec.series.map(function (s) {
        return {
          name: s.name,
          type: spec.kind === "line" ? "line" : "bar",
          data: s.data.map(function (v) { return Number(v); }),
          smooth: false
        };
      });
      option = {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 40 : 0 } },
        yAxis: { type: "value", name: spec.unit },
        series: series
      };
    }
    chart.setOption(option);
    var links = spec.links || [];
    if (links.some(function (l) { return !!l; })) {
      chart.on("click", function (params) {
        var href = links[params.dataIndex];
        if (href) { window.location.href = href; }
      });
    }
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
