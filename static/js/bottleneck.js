/* Bottleneck view: the flow drawn read-only by the editor's canvas (OF.FlowGraph), each node
   coloured by the P90 time orders spend there, edges as wide as their volume; clicking a
   node loads its slowest orders. */
(function () {
  'use strict';
  const STOPS = ['#dafbe1', '#fff3b0', '#ffb4a8', '#cf222e'];
  const INK = ['#1a7f37', '#9a6700', '#bc4c00', '#82071e'];

  function mix(a, b, t) {
    const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
    const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
    return '#' + pa.map((v, i) => Math.round(v + (pb[i] - v) * t).toString(16).padStart(2, '0')).join('');
  }

  function colour(t, stops) {
    if (t == null) return null;
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(Math.floor(x), stops.length - 2);
    return mix(stops[i], stops[i + 1], x - i);
  }

  function short(s, zh) {
    if (s == null) return '—';
    if (s < 60) return Math.round(s) + (zh ? '秒' : 's');
    if (s < 3600) return (s / 60).toFixed(0) + (zh ? '分' : 'm');
    if (s < 172800) return (s / 3600).toFixed(1) + (zh ? '时' : 'h');
    return (s / 86400).toFixed(1) + (zh ? '天' : 'd');
  }

  document.addEventListener('DOMContentLoaded', () => {
    const holder = document.getElementById('heat-data');
    const el = document.getElementById('heat-graph');
    if (!holder || !el) return;
    const cfg = JSON.parse(holder.textContent);
    const OF = window.OF;
    const zh = (document.documentElement.lang || '').startsWith('zh');
    const heat = cfg.heat;
    const p90s = Object.values(heat.nodes).filter((n) => n.waits && n.p90 != null).map((n) => n.p90);
    const top = Math.log1p(Math.max(1, ...p90s));
    const scale = (v) => (v == null ? null : Math.log1p(v) / top);
    // The table's colour chips work without the canvas.
    document.querySelectorAll('[data-heat-for]').forEach((chip) => {
      const n = heat.nodes[chip.dataset.heatFor];
      chip.style.background = (n && n.waits && colour(scale(n.p90), STOPS)) || '#eef1f5';
    });
    if (!OF || !OF.FlowGraph || !window.X6) return;
    OF.lang = zh ? 'zh' : 'en';
    OF.config = { canEdit: false };
    const fg = new OF.FlowGraph(el, null, { nodeTypes: cfg.nodeTypes, readOnly: true });
    fg.load(cfg.doc);
    if (fg.overlapping()) fg.layout(true);  // documents without usable positions
    const visual = { visual: true };
    for (const node of fg.graph.getNodes()) {
      const n = heat.nodes[node.id];
      if (!n) continue;
      const t = n.waits ? scale(n.p90) : null;
      const fill = colour(t, STOPS);
      const text = n.waits
        ? (zh ? '中位 ' : 'med ') + short(n.p50, zh) + ' · P90 ' + short(n.p90, zh) + ' · ' + n.passes
        : (zh ? '通过 ' : 'passed ') + n.passes + (n.waiting ? (zh ? ' · 等待 ' : ' · waiting ') + n.waiting : '');
      const attrs = { sub: { text: text } };
      if (fill) attrs.body = { fill: fill, stroke: colour(t, INK), strokeWidth: 2.5 };
      node.setAttrs(attrs, visual);
      node.setData(Object.assign({}, node.getData(), { heat: n }), visual);
    }
    const volumes = heat.edges.map((e) => e.volume || 0);
    const most = Math.max(1, ...volumes);
    for (const edge of fg.graph.getEdges()) {
      const source = edge.getSourceCellId(), target = edge.getTargetCellId();
      const branch = (edge.getData() || {}).branch || null;
      const e = heat.edges.find((x) => x.from === source && x.to === target && (x.branch || null) === branch);
      if (!e) continue;
      const width = 1 + 6 * (e.volume || 0) / most;
      edge.attr('line/strokeWidth', width, visual);
      if (e.timed) edge.attr('line/stroke', colour(scale(e.p90), INK), visual);
      const label = (branch ? OF.branchLabel(branch) + ' · ' : '') + (e.volume || 0) + (e.timed ? ' · P90 ' + short(e.p90, zh) : '');
      edge.setLabels([{ attrs: { label: { text: label } } }], visual);
    }
    fg.fit();
    const url = holder.dataset.slowest;
    fg.graph.on('node:click', ({ node }) => {
      if (window.htmx) window.htmx.ajax('GET', url.replace('__NODE__', encodeURIComponent(node.id)), { target: '#slowest' });
    });
  });
})();
