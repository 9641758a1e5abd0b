/* The dashboard's chart: revenue (bars) and paid orders (line) per day over
   the last 30 days, drawn with Apache ECharts from the JSON block
   #sales-chart-data that console/dashboard.html writes. Money arrives in
   minor units with its text already formatted by the server; the script only
   places the decimal point for the axis. The tooltip is drawn inside the
   canvas (renderMode richText): ECharts' HTML tooltip writes style
   attributes, which the Content-Security-Policy refuses. Without script the
   chart stays hidden and the table beneath it shows the same days. */
(function () {
  'use strict';

  var holder = document.getElementById('sales-chart');
  var source = document.getElementById('sales-chart-data');
  if (!holder || !source || !window.echarts || !window.KamengMoney) { return; }
  var data = JSON.parse(source.textContent);
  if (!data) { return; }

  function majorText(minor) {
    return window.KamengMoney.majorText(minor, data.digits);
  }

  function tooltip(items) {
    var i = items[0].dataIndex;
    var lines = [data.days[i]];
    lines.push(data.names.revenue + ': ' + data.revenueText[i]);
    lines.push(data.names.paid + ': ' + data.paid[i]);
    lines.push(data.names.created + ': ' + data.created[i]);
    if (data.visits[i] !== null) { lines.push(data.names.visits + ': ' + data.visits[i]); }
    return lines.join('\n');
  }

  holder.hidden = false;
  var chart = window.echarts.init(holder, null, { renderer: 'canvas' });
  chart.setOption({
    animation: false,
    color: ['#e4572e', '#1d4ed8'],
    grid: { left: 8, right: 8, top: 48, bottom: 8, containLabel: true },
    legend: { top: 0, data: [data.names.revenue, data.names.paid] },
    tooltip: { trigger: 'axis', renderMode: 'richText', formatter: tooltip },
    xAxis: { type: 'category', data: data.labels, axisTick: { alignWithLabel: true } },
    yAxis: [
      { type: 'value', minInterval: 1, axisLabel: { formatter: majorText } },
      { type: 'value', minInterval: 1, splitLine: { show: false } }
    ],
    series: [
      { name: data.names.revenue, type: 'bar', yAxisIndex: 0, data: data.revenue },
      { name: data.names.paid, type: 'line', yAxisIndex: 1, data: data.paid, smooth: false }
    ]
  });
  window.addEventListener('resize', function () { chart.resize(); });
}());
