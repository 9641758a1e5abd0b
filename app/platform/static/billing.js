/* The platform console's chart of commission earned by month: collected
   through Stripe and accrued in shops' ledgers, stacked bars, drawn with
   Apache ECharts from the JSON block #commission-chart-data that
   platform/admin/billing.html writes (amounts in minor units; the totals'
   text formatted by the server). The tooltip is drawn inside the canvas
   (renderMode richText): ECharts' HTML tooltip writes style attributes,
   which the Content-Security-Policy refuses. Without script the chart
   stays hidden and the table beneath it shows the same months. */
(function () {
  'use strict';

  var holder = document.getElementById('commission-chart');
  var source = document.getElementById('commission-chart-data');
  if (!holder || !source || !window.echarts || !window.KamengMoney) { return; }
  var data = JSON.parse(source.textContent);
  if (!data) { return; }

  function majorText(minor) {
    return window.KamengMoney.majorText(minor, data.digits);
  }

  function tooltip(items) {
    var i = items[0].dataIndex;
    return [
      data.labels[i],
      data.names.collected + ': ' + majorText(data.collected[i]),
      data.names.accrued + ': ' + majorText(data.accrued[i]),
      data.names.total + ': ' + data.totalText[i]
    ].join('\n');
  }

  holder.hidden = false;
  var chart = window.echarts.init(holder, null, { renderer: 'canvas' });
  chart.setOption({
    animation: false,
    color: ['#1d4ed8', '#e4572e'],
    grid: { left: 8, right: 8, top: 48, bottom: 8, containLabel: true },
    legend: { top: 0, data: [data.names.collected, data.names.accrued] },
    tooltip: { trigger: 'axis', renderMode: 'richText', formatter: tooltip },
    xAxis: { type: 'category', data: data.labels, axisTick: { alignWithLabel: true } },
    yAxis: { type: 'value', axisLabel: { formatter: majorText } },
    series: [
      { name: data.names.collected, type: 'bar', stack: 'earned', data: data.collected },
      { name: data.names.accrued, type: 'bar', stack: 'earned', data: data.accrued }
    ]
  });
  window.addEventListener('resize', function () { chart.resize(); });
}());
