/* OrderFlow dashboard: draws the KPI panels and the cost heatmap with ECharts from the JSON
   the page carries (#db-data, #cost-data). How each panel is drawn (its format, series and
   styles) comes with its figures (#db-data's "charts"), from the panel's declaration on the
   server. Redraws after htmx swaps in new figures. */
(function () {
  'use strict';
  const zh = (document.documentElement.lang || '').startsWith('zh');
  const T = zh
    ? { cost: '成本', share: '成本占比', volume: '订单占比', ratio: '倍数' }
    : { cost: 'Cost', share: 'Share of cost', volume: 'Share of orders', ratio: 'Ratio' };
  const PALETTE = ['#0b5cd5', '#1a7f37', '#9a6700', '#cf222e', '#8250df', '#0a7ea4', '#bf3989', '#57606a'];
  const charts = [];

  function duration(s) {
    if (s == null) return '—';
    if (s < 60) return s.toFixed(1) + (zh ? ' 秒' : ' s');
    if (s < 3600) return (s / 60).toFixed(1) + (zh ? ' 分钟' : ' min');
    if (s < 172800) return (s / 3600).toFixed(1) + (zh ? ' 小时' : ' h');
    return (s / 86400).toFixed(1) + (zh ? ' 天' : ' d');
  }

  function labeller(range) {
    const opts = range.hourly
      ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false, timeZone: range.zone }
      : { month: '2-digit', day: '2-digit', timeZone: range.zone };
    const fmt = new Intl.DateTimeFormat(zh ? 'zh-CN' : 'en-GB', opts);
    return (iso) => fmt.format(new Date(iso));
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  function markers(data, labels, series) {
    // Dashed vertical lines where a flow version went live inside the range. Publishes that
    // fall in the same bucket share one line; their names show in a tooltip on hover, so
    // many publishes never pile their labels on top of each other.
    const byBucket = new Map();
    for (const p of data.publishes || []) {
      const t = new Date(p.published_at).getTime();
      let at = -1;
      series.forEach((row, i) => { if (new Date(row.t).getTime() <= t) at = i; });
      if (at < 0) continue;
      if (!byBucket.has(at)) byBucket.set(at, []);
      const name = (zh ? p.name_zh || p.name_en : p.name_en || p.name_zh) || p.flow;
      byBucket.get(at).push(zh ? name + ' 第 ' + p.version + ' 版' : name + ' v' + p.version);
    }
    const lines = Array.from(byBucket, ([at, names]) => ({ xAxis: labels[at], name: names.join(', '), names: names }));
    if (!lines.length) return undefined;
    return {
      symbol: 'none',
      lineStyle: { type: 'dashed', color: '#8250df', width: 1.5 },
      label: { show: false },
      emphasis: { label: { show: false }, lineStyle: { width: 3 } },
      // Flow names are typed by people: escaped before they go into the tooltip's HTML.
      tooltip: { trigger: 'item', formatter: (p) => (zh ? '上线：' : 'Went live: ') + '<br>' + p.data.names.map(escapeHtml).join('<br>') },
      data: lines,
    };
  }

  function base(labels, valueAxis) {
    return {
      color: PALETTE,
      grid: { left: 48, right: 12, top: 28, bottom: 28 },
      tooltip: { trigger: 'axis', confine: true },
      legend: { top: 0, type: 'scroll', textStyle: { fontSize: 11 } },
      xAxis: { type: 'category', data: labels, axisLabel: { fontSize: 10 } },
      yAxis: Object.assign({ type: 'value', axisLabel: { fontSize: 10 } }, valueAxis || {}),
    };
  }

  // How a panel's value axis and tooltip read, by the panel's format (never by panel).
  const AXES = {
    count: {},
    money: { axis: { axisLabel: { formatter: (v) => '¥' + v, fontSize: 10 } } },
    duration: { axis: { axisLabel: { formatter: duration, fontSize: 10 } }, tooltip: duration },
    percent: { axis: { max: 100, axisLabel: { formatter: '{value}%', fontSize: 10 } }, tooltip: (v) => (v == null ? '—' : v.toFixed(1) + '%') },
  };
  // How a series is drawn, by the style its panel declares.
  const STYLES = {
    bar: { type: 'bar' },
    line: { type: 'line', connectNulls: true },
    smooth: { type: 'line', smooth: true, connectNulls: true, showSymbol: true },
    dotted: { type: 'line', connectNulls: true, lineStyle: { type: 'dotted' } },
    area: { type: 'line', areaStyle: { opacity: 0.12 }, connectNulls: true },
  };

  function option(chart, panel, data) {
    // chart: the panel's drawing as the server declares it (format, series, by_channel).
    const rows = panel.series;
    const fmt = labeller(data.range);
    const labels = rows.map((r) => fmt(r.t));
    const mark = markers(data, labels, rows);
    const axes = AXES[chart.format] || {};
    const o = base(labels, axes.axis);
    if (axes.tooltip) o.tooltip.valueFormatter = axes.tooltip;
    const channels = chart.by_channel ? Object.keys(panel.total.by_channel || {}) : [];
    if (channels.length) {
      o.series = channels.map((c, i) => ({
        name: (data.channel_names || {})[c] || c, type: 'bar', stack: 'channels', data: rows.map((r) => (r.by_channel || {})[c] || 0),
        markLine: i === 0 ? mark : undefined,
      }));
      return o;
    }
    o.series = chart.series.map((s, i) => Object.assign(
      { name: s.label, data: rows.map((r) => r[s.field]), markLine: i === 0 ? mark : undefined },
      STYLES[s.style] || STYLES.line,
      s.colour ? { itemStyle: { color: s.colour } } : {},
    ));
    return o;
  }

  function drawPanels() {
    const holder = document.getElementById('db-data');
    if (!holder || !window.echarts) return;
    const data = JSON.parse(holder.textContent);
    for (const [key, panel] of Object.entries(data.panels)) {
      const el = document.getElementById('chart-' + key);
      if (!el || !(data.charts || {})[key]) continue;
      const chart = echarts.init(el, null, { renderer: 'svg' });
      chart.setOption(option(data.charts[key], panel, data));
      charts.push(chart);
    }
  }

  function drawCosts() {
    const holder = document.getElementById('cost-data');
    const el = document.getElementById('cost-chart');
    if (!holder || !el || !window.echarts) return;
    const data = JSON.parse(holder.textContent);
    const types = data.types.map((t) => t.type);
    const drivers = data.drivers.map((d) => (zh ? d.name_zh || d.name_en : d.name_en || d.name_zh) || d.key);
    const index = {};
    data.drivers.forEach((d, i) => { index[d.key] = i; });
    const metric = holder.dataset.metric || 'ratio';
    const cells = data.cells.map((c) => ({
      value: [index[c.driver], types.indexOf(c.type), metric === 'amount' ? c.amount : (c.ratio == null ? '-' : c.ratio)],
      cell: c,
    }));
    const values = cells.map((c) => c.value[2]).filter((v) => typeof v === 'number');
    const max = metric === 'amount' ? Math.max(1, ...values) : Math.max(2, ...values);
    const chart = echarts.init(el, null, { renderer: 'svg' });
    el.style.height = Math.max(260, 42 * types.length + 90) + 'px';
    chart.resize();
    chart.setOption({
      animation: false,
      tooltip: {
        confine: true,
        formatter: (p) => {
          const c = p.data.cell;
          return '<b>' + c.type + ' × ' + drivers[p.data.value[0]] + '</b><br>' + T.cost + ' ¥' + c.amount.toLocaleString() +
            '<br>' + T.share + ' ' + c.share_cost + '%<br>' + T.volume + ' ' + c.share_orders + '%' +
            (c.ratio != null ? '<br>' + T.ratio + ' ' + c.ratio + '×' : '');
        },
      },
      grid: { left: 110, right: 20, top: 10, bottom: 120 },
      xAxis: { type: 'category', data: drivers, axisLabel: { interval: 0, rotate: 30, fontSize: 11 }, splitArea: { show: true } },
      yAxis: { type: 'category', data: types, axisLabel: { fontSize: 11 }, splitArea: { show: true } },
      visualMap: {
        min: 0, max: max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120,
        inRange: { color: metric === 'amount' ? ['#f0f6ff', '#0b5cd5', '#0b3d91'] : ['#eaf6ec', '#fff8c5', '#cf222e'] },
      },
      series: [{
        type: 'heatmap', data: cells,
        label: {
          show: true, fontSize: 11, color: '#1d2330',
          formatter: (p) => {
            const v = p.data.value[2];
            if (typeof v !== 'number') return '';
            return metric === 'amount' ? '¥' + Math.round(v).toLocaleString() : v.toFixed(2) + '×';
          },
        },
      }],
    });
    charts.push(chart);
  }

  function draw() {
    while (charts.length) charts.pop().dispose();
    drawPanels();
    drawCosts();
  }

  function wireFilters() {
    const form = document.getElementById('db-filters') || document.getElementById('cost-filters') || document.getElementById('heat-filters');
    if (!form) return;
    const range = form.querySelector('select[name=range]');
    const dates = form.querySelectorAll('input[type=date]');
    const sync = () => { form.classList.toggle('db-custom', range && range.value === 'custom'); };
    if (range) range.addEventListener('change', () => { if (range.value !== 'custom') dates.forEach((d) => { d.value = ''; }); sync(); });
    dates.forEach((d) => d.addEventListener('change', () => { if (range) range.value = 'custom'; sync(); }));
    // A custom range is only sent once both dates are set.
    form.addEventListener('htmx:confirm', (e) => {
      if (range && range.value === 'custom' && !Array.from(dates).every((d) => d.value)) e.preventDefault();
    });
    sync();
  }

  document.addEventListener('DOMContentLoaded', () => { wireFilters(); draw(); });
  document.addEventListener('htmx:afterSettle', (e) => { if (e.target && (e.target.id === 'db-panels' || e.target.id === 'cost-body')) draw(); });
  window.addEventListener('resize', () => charts.forEach((c) => c.resize()));
})();
