// The supervisor board's charts (ECharts): a bar per unit, and the weekly trend.
// Data comes from the page itself (<script type="application/json" id="chart-data">).
(function () {
  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var units = data.units;
    var trend = data.trend;
    var bar = echarts.init(document.getElementById("units-chart"), null, { renderer: "svg" });
    bar.setOption({
      aria: { enabled: true },
      tooltip: { trigger: "axis" },
      legend: { data: [units.labels.received, units.labels.on_time] },
      grid: { left: 48, right: 48, bottom: 96 },
      xAxis: { type: "category", data: units.units, axisLabel: { rotate: 30, interval: 0 } },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", max: 100 }],
      series: [
        { name: units.labels.received, type: "bar", data: units.received },
        { name: units.labels.on_time, type: "bar", yAxisIndex: 1, data: units.on_time },
      ],
    });
    var line = echarts.init(document.getElementById("trend-chart"), null, { renderer: "svg" });
    line.setOption({
      aria: { enabled: true },
      tooltip: { trigger: "axis" },
      legend: { data: [trend.labels.received, trend.labels.on_time] },
      grid: { left: 48, right: 48 },
      xAxis: { type: "category", data: trend.weeks },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", max: 100 }],
      series: [
        { name: trend.labels.received, type: "line", data: trend.received },
        { name: trend.labels.on_time, type: "line", yAxisIndex: 1, data: trend.on_time, connectNulls: true },
      ],
    });
    window.addEventListener("resize", function () { bar.resize(); line.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
