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

  // The one rule for figures: 万元 with two decimals and separators (zh-CN), percentages with one decimal.
  function figure(value, unit) {
    var n = Number(value);
    if (!isFinite(n)) { return String(value); }
    if (unit === "万元") {
      return n.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + "万元";
    }
    if (unit === "%") { return n.toLocaleString("zh-CN", { maximumFractionDigits: 1 }) + "%"; }
    return n.toLocaleString("zh-CN", { maximumFractionDigits: 0 });
  }

  function escapeHTML(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (box) {
    var spec = readJSON(box.getAttribute("data-chart"));
    if (!spec) { return; }
    var chart = window.echarts.init(box, null, { renderer: "canvas" });
    var series;
    var option;
    if (spec.kind === "funnel") {
      option = {
        tooltip: { trigger: "item", formatter: function (p) { return escapeHTML(p.name) + "：" + figure(p.value, ""); } },
        series: [{
          type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "10%",
          label: { show: true, position: "inside" },
          data: spec.categories.map(function (name, i) { return { name: name, value: Number(spec.series[0].data[i]) }; })
        }]
      };
    } else {
      var isLine = spec.kind === "line";
      var horizontal = !!spec.horizontal;
      series = spec.series.map(function (s, i) {
        var one = {
          name: s.name,
          type: isLine ? "line" : "bar",
          data: s.data.map(function (v) { return Number(v); }),
          smooth: false
        };
        if (isLine && i > 0) {
          // a second line drawn dashed with other marks: equal figures no longer hide one line under the other
          one.lineStyle = { type: "dashed", width: 3 };
          one.symbol = "triangle";
          one.symbolSize = 9;
          one.z = 3;
        }
        return one;
      });
      var categoryAxis = {
        type: "category", data: spec.categories, inverse: horizontal,
        axisLabel: horizontal ? { interval: 0, width: 160, overflow: "break" }
          : { interval: 0, rotate: spec.categories.length > 6 ? 40 : 0, width: 120, overflow: "break" }
      };
      var valueAxis = { type: "value", name: spec.unit, axisLabel: { formatter: function (v) { return figure(v, spec.unit).replace(/万元$/, ""); } } };  // the axis name gives the unit
      if (horizontal) {
        box.style.height = Math.max(240, spec.categories.length * 30 + 70) + "px";
        chart.resize();
      }
      option = {
        tooltip: {
          trigger: "axis",
          formatter: function (items) {
            var lines = [escapeHTML(items[0].axisValueLabel)];
            items.forEach(function (item) {
              var exact = (spec.series[item.seriesIndex].exact || [])[item.dataIndex];
              lines.push(item.marker + escapeHTML(item.seriesName) + "：" + figure(item.value, spec.unit) +
                         (exact ? "（" + escapeHTML(exact) + "）" : ""));
            });
            return lines.join("<br>");
          }
        },
        legend: { top: 0 },
        grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
        xAxis: horizontal ? valueAxis : categoryAxis,
        yAxis: horizontal ? categoryAxis : valueAxis,
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
