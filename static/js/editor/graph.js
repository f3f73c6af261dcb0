/* OrderFlow flow editor: the canvas (AntV X6), nodes, edges, branches, layout, marks. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});

  // ---- shared helpers -------------------------------------------------------------------
  OF.i18n = JSON.parse(document.getElementById('editor-i18n')?.textContent || '{}');
  OF.t = function (key, vars) {
    let s = OF.i18n[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split('{' + k + '}').join(String(v));
    return s;
  };
  OF.csrf = function () {
    try { return JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']; } catch (e) { return ''; }
  };
  OF.api = async function (url, opts) {
    opts = opts || {};
    const init = { method: opts.method || 'GET', headers: { Accept: 'application/json', 'X-CSRFToken': OF.csrf() }, credentials: 'same-origin' };
    if (opts.body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(opts.body); }
    let res;
    try { res = await fetch(url, init); } catch (e) { return { ok: false, status: 0, data: null, offline: true }; }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { ok: res.ok, status: res.status, data: data };
  };
  OF.errorText = function (r) {
    if (r.offline) return OF.t('offline');
    return (r.data && r.data.error && r.data.error.message) || OF.t('unknown_error');
  };
  // Whether a test on a node's config holds; the twin of the engine's config_holds():
  // {path, default, in: [...]}, {path, present: true|false}, {all: [...]}, {any: [...]}.
  OF.configHolds = function (test, config) {
    if (test.all) return test.all.every((t) => OF.configHolds(t, config));
    if (test.any) return test.any.some((t) => OF.configHolds(t, config));
    let value = config;
    for (const key of test.path.split('.')) {
      value = value && typeof value === 'object' && !Array.isArray(value) && key in value ? value[key] : undefined;
      if (value === undefined) break;
    }
    if (value === undefined) value = test.default === undefined ? null : test.default;
    if ('present' in test) {
      const empty = value === null || value === '' || (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);
      return !empty === Boolean(test.present);
    }
    return test.in.includes(value);
  };

  OF.esc = function (s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  };
  OF.debounce = function (fn, ms) {
    let t = null;
    const d = function () { const a = arguments; clearTimeout(t); t = setTimeout(() => fn.apply(null, a), ms); };
    d.flush = function () { clearTimeout(t); fn(); };
    return d;
  };
  // A message whose `backquoted` parts (values, examples, DSL) are shown as code.
  OF.withCode = function (text) {
    return OF.esc(text).replace(/`([^`]+)`/g, '<code>$1</code>');
  };
  OF.runStatus = function (status) {
    return (OF.i18n.run_statuses || {})[status] || status;
  };
  OF.localName = function (name, fallback) {
    if (!name) return fallback || '';
    if (typeof name === 'string') return name;
    return (OF.lang === 'zh' ? name.zh || name.en : name.en || name.zh) || fallback || '';
  };

  // The engine's exits in the reader's words (from the server's catalogue); a switch's own
  // case names are shown as written.
  /* The short form on exit stubs: the reader's word alone in Chinese, the code in English. */
  OF.branchShort = function (b) {
    if (b == null || b === '') return '';
    return OF.lang === 'zh' ? ((OF.i18n.branches || {})[b] || b) : b;
  };
  OF.branchLabel = function (b) {
    if (b == null || b === '') return '';
    return (OF.i18n.branches || {})[b] || b;
  };
  const FAMILY_COLORS = {
    control: ['#334155', '#f1f5f9'], decide: ['#b45309', '#fff7ed'], act: ['#1d4ed8', '#eff6ff'],
    human: ['#7e22ce', '#faf5ff'], wait: ['#0f766e', '#f0fdfa'],
  };
  const W = 176, H = 58;
  const VISUAL = { visual: true };
  // Unconnected exits are drawn as dashed stubs right of the node (at most STUBS of them).
  const STUBS = 4, STUB_X = W + 24, STUB_GAP = 22, STUB_W = 100;
  // Room a node takes on the canvas with its stubs, and the gap kept between nodes.
  const FOOT_W = W + STUB_W, GAP = 20;
  // Branch names that say nothing as an end's outcome.
  const PLAIN_BRANCHES = ['true', 'false', 'default'];

  function textWidth(text) {
    let w = 0;
    for (const ch of String(text)) w += ch.charCodeAt(0) > 0x2e80 ? 12 : 6.6;
    return Math.ceil(w);
  }

  function clip(text, n) { text = String(text || ''); return text.length > n ? text.slice(0, n - 1) + '…' : text; }

  // ---- the editor canvas ----------------------------------------------------------------
  class FlowGraph {
    constructor(container, minimap, options) {
      this.types = {};
      for (const t of options.nodeTypes) this.types[t.type] = t;
      this.readOnly = !!options.readOnly;
      this.listeners = { change: [], select: [] };
      this.marks = { issues: new Map(), path: null, diff: null };
      this.clip = null;
      this.loading = false;
      this.pending = null;
      this.cancelling = false;
      this.stubs = new Map();
      this.labelFrame = null;
      registerShape();
      const ro = this.readOnly;
      this.graph = new X6.Graph({
        container: container,
        autoResize: true,
        background: { color: '#f8fafc' },
        grid: { visible: true, size: 10, type: 'dot', args: { color: '#cbd5e1' } },
        virtual: { enabled: true, margin: 200 },
        panning: { enabled: true, eventTypes: ['leftMouseDown'] },
        mousewheel: { enabled: true, modifiers: null, factor: 1.1, minScale: 0.15, maxScale: 2.5 },
        interacting: ro ? { nodeMovable: false, edgeMovable: false, magnetConnectable: false, edgeLabelMovable: false, arrowheadMovable: false, vertexMovable: false, vertexAddable: false } : { edgeMovable: false, edgeLabelMovable: false, arrowheadMovable: false, vertexMovable: false, vertexAddable: false, vertexDeletable: false },
        connecting: {
          snap: { radius: 36 }, allowBlank: false, allowLoop: false, allowNode: true, allowPort: true,
          allowMulti: true, allowEdge: false, highlight: true,
          connector: { name: 'smooth' }, anchor: 'center', connectionPoint: 'boundary',
          createEdge: () => this.graph.createEdge(Object.assign(edgeStyle(null), { id: this.newEdgeId() })),
          validateMagnet: ({ magnet }) => !ro && magnet.getAttribute('port-group') === 'out',
          validateConnection: ({ sourceCell, targetCell, targetMagnet }) => {
            if (!sourceCell || !targetCell || sourceCell === targetCell) return false;
            if (targetMagnet && targetMagnet.getAttribute('port-group') === 'out') return false;
            return targetCell.getData()?.type !== 'start';
          },
        },
        highlighting: { magnetAvailable: { name: 'stroke', args: { attrs: { stroke: '#16a34a', 'stroke-width': 3 } } } },
      });
      const g = this.graph;
      // The UMD bundle ships the plugins without their Graph.prototype shortcuts: keep the
      // plugin instances and call them directly.
      this.sel = new X6.Selection({
        enabled: true, multiple: true, rubberband: true, modifiers: 'shift', movable: !ro,
        showNodeSelectionBox: true, showEdgeSelectionBox: false, pointerEvents: 'none',
        multipleSelectionModifiers: ['ctrl', 'meta', 'shift'],
      });
      g.use(this.sel);
      g.use(new X6.Snapline({ enabled: true }));
      this.hist = new X6.History({
        enabled: !ro,
        beforeAddCommand: (event, args) => !(args && args.options && args.options.visual) && !this.loading,
      });
      g.use(this.hist);
      if (minimap && OF.MiniMap) this.minimap = new OF.MiniMap(g, minimap);
      const changed = () => { if (!this.loading) this.emit('change'); };
      g.on('cell:added', changed);
      g.on('cell:removed', changed);
      g.on('node:moved', changed);
      g.on('cell:change:data', ({ options }) => { if (!options || !options.visual) changed(); });
      g.on('history:undo', () => { this.refreshAll(); changed(); });
      g.on('history:redo', () => { this.refreshAll(); changed(); });
      g.on('edge:connected', ({ edge }) => {
        // X6 finishes the drag after its listeners: never let a listener's error leave the
        // canvas half-way in a connection, and do the work once the drag is over.
        this.pending = null;
        if (this.cancelling) return;
        try { this.finishConnection(edge); } catch (err) { setTimeout(() => { throw err; }, 0); }
        setTimeout(() => {
          if (!this.graph.getCellById(edge.id)) return;
          this.attachToPorts(edge);
          changed();
        }, 0);
      });
      g.on('edge:added', ({ edge }) => {
        if (!this.loading && !edge.getTargetCell()) this.pending = edge;
      });
      g.on('edge:removed', ({ edge }) => {
        if (this.pending === edge) this.pending = null;
        this.afterEdgesChange();
      });
      g.on('edge:added', () => this.afterEdgesChange());
      g.on('node:moved', () => this.scheduleLabels());
      g.on('node:added', ({ node }) => { this.stubs.delete(node.id); this.paintExits(node); });
      g.on('blank:click', () => this.cancelConnecting());
      const stubDown = (e) => {
        const stub = e.target && e.target.closest ? e.target.closest('.exit-stub') : null;
        const cell = stub && stub.closest('[data-cell-id]');
        this.stubDrag = cell ? { node: cell.getAttribute('data-cell-id'), branch: stub.getAttribute('data-exit') || '' } : null;
      };
      container.addEventListener('mousedown', stubDown, true);
      container.addEventListener('touchstart', stubDown, { capture: true, passive: true });
      g.on('blank:mousedown', () => this.cancelConnecting());
      g.on('selection:changed', () => this.emit('select', this.selected()));
      g.on('blank:click', () => this.emit('select', this.selected()));
      g.on('node:mouseenter', ({ node }) => { if (node.hasPort('out')) node.setPortProp('out', 'attrs/circle/r', 7, VISUAL); });
      g.on('node:mouseleave', ({ node }) => { if (node.hasPort('out')) node.setPortProp('out', 'attrs/circle/r', 5, VISUAL); });
      this.installTouch(container);
      this.installConnectGuard();
    }

    on(name, fn) { this.listeners[name].push(fn); }
    emit(name, arg) { for (const fn of this.listeners[name]) fn(arg); }

    typeTitle(type) {
      const t = this.types[type];
      return t ? OF.localName(t.title, type) : type;
    }

    // -- nodes
    nodeMeta(data) {
      const t = this.types[data.type] || { family: 'act', title: { en: data.type, zh: data.type } };
      const title = OF.localName(data.name, '') || OF.localName(t.title, data.type);
      // The author sees each end's outcome code; a run's graph names the outcome in its header.
      const outcome = !this.readOnly && data.type === 'end' && data.config && data.config.outcome;
      return { t, title, sub: OF.localName(t.title, data.type) + (outcome ? ' · ' + OF.t('outcome_is', { o: outcome }) : '') };
    }

    nodeAttrs(data) {
      const m = this.nodeMeta(data);
      const [ink, fill] = FAMILY_COLORS[m.t.family] || FAMILY_COLORS.act;
      return {
        body: { fill: fill, stroke: ink, strokeWidth: 1.5 },
        stripe: { fill: ink },
        title: { text: clip(m.title, 14) },
        sub: { text: clip(m.sub, 24) },
      };
    }

    addNodeCell(node) {
      const data = { type: node.type, name: node.name || null, config: node.config || {} };
      const isStart = node.type === 'start', isEnd = node.type === 'end';
      const items = [];
      if (!isStart) items.push({ id: 'in', group: 'in' });
      if (!isEnd) items.push({ id: 'out', group: 'out' });
      const pos = node.position || { x: 0, y: 0 };
      return this.graph.addNode({
        id: node.id, shape: 'of-node', x: pos.x, y: pos.y, width: W, height: H,
        data: data, attrs: this.nodeAttrs(data), ports: { items: items },
      });
    }

    newId(type) {
      let n = 1;
      while (this.graph.getCellById(type + '_' + n)) n++;
      return type + '_' + n;
    }

    newEdgeId() {
      let n = this.graph.getEdges().length + 1;
      while (this.graph.getCellById('e' + n)) n++;
      return 'e' + n;
    }

    addNode(type, pos) {
      const id = this.newId(type);
      const defaults = { end: { outcome: 'done' } };
      const cell = this.addNodeCell({ id: id, type: type, config: JSON.parse(JSON.stringify(defaults[type] || {})), position: this.freeSpot(pos) });
      this.sel.clean();
      this.sel.select(cell);
      return cell;
    }

    viewportCenter() {
      const rect = this.graph.container.getBoundingClientRect();
      const p = this.graph.clientToLocal(rect.left + rect.width / 2, rect.top + rect.height / 2);
      return { x: Math.round(p.x - W / 2), y: Math.round(p.y - H / 2) };
    }

    dropAt(type, clientX, clientY) {
      const p = this.graph.clientToLocal(clientX, clientY);
      return this.addNode(type, { x: Math.round(p.x - W / 2), y: Math.round(p.y - H / 2) });
    }

    /* A node dropped on another node's exit stub lands right of that node and is connected
       from exactly that exit: placing and connecting in one gesture. */
    dropOnExit(type, sourceId, branch, clientY) {
      const source = this.graph.getCellById(sourceId);
      if (type === 'start' || !source || !source.isNode()) return null;
      const p = this.graph.clientToLocal(0, clientY);
      const s = source.getPosition();
      const cell = this.addNode(type, { x: s.x + FOOT_W + 3 * GAP, y: Math.round(p.y - H / 2) });
      const edge = this.connect(sourceId, cell.id, branch || null);
      if (!branch) this.assignBranch(edge);
      this.afterEdgesChange();
      this.reveal(cell);
      return cell;
    }

    /* Pan the canvas just enough that the node and its exits are in view. */
    reveal(cell) {
      const rect = this.graph.container.getBoundingClientRect();
      const b = cell.getBBox();
      const a = this.graph.localToClient(b.x, b.y), z = this.graph.localToClient(b.x + FOOT_W, b.y + b.height);
      const m = 24;
      let dx = 0, dy = 0;
      if (z.x > rect.right - m) dx = rect.right - m - z.x;
      if (a.x + dx < rect.left + m) dx = rect.left + m - a.x;
      if (z.y > rect.bottom - m) dy = rect.bottom - m - z.y;
      if (a.y + dy < rect.top + m) dy = rect.top + m - a.y;
      if (!dx && !dy) return;
      const t = this.graph.translate();
      this.graph.translate(t.tx + dx, t.ty + dy);
    }

    /* The free place nearest to ``pos`` for a new node: its box and its exit stubs touch no
       other node's (nor its stubs), with GAP between them. Searched on rings of a 10 px grid
       around ``pos``, nearest first, so the node lands where it was put when that is free. */
    freeSpot(pos) {
      const boxes = this.graph.getNodes().map((n) => { const p = n.getPosition(); return [p.x - GAP, p.y - GAP, p.x + FOOT_W + GAP, p.y + H + GAP]; });
      const free = (x, y) => !boxes.some((b) => x < b[2] && x + FOOT_W > b[0] && y < b[3] && y + H > b[1]);
      const x0 = Math.round(pos.x / 10) * 10, y0 = Math.round(pos.y / 10) * 10;
      if (free(x0, y0)) return { x: x0, y: y0 };
      for (let r = 1; r <= 120; r++) {
        const ring = [];
        for (let i = -r; i <= r; i++) ring.push([i, -r], [i, r], [-r, i], [r, i]);
        ring.sort((a, b) => Math.hypot(a[0], a[1] * 1.6) - Math.hypot(b[0], b[1] * 1.6));
        for (const [dx, dy] of ring) {
          const x = x0 + dx * 10, y = y0 + dy * 10;
          if (free(x, y)) return { x: x, y: y };
        }
      }
      return { x: x0, y: y0 };
    }

    updateNode(id, patch) {
      const cell = this.graph.getCellById(id);
      if (!cell) return;
      const data = Object.assign({}, cell.getData(), patch);
      cell.setData(data, { overwrite: true });
      cell.setAttrs(this.nodeAttrs(data), VISUAL);
      this.relabelEdges(cell);
      this.paintExits(cell);
    }

    refreshAll() {
      for (const n of this.graph.getNodes()) n.setAttrs(this.nodeAttrs(n.getData()), VISUAL);
      for (const e of this.graph.getEdges()) this.applyEdgeLabel(e);
      this.afterEdgesChange();
    }

    // -- exits not connected yet: dashed stubs beside the node
    missingExits(node) {
      const data = node.getData() || {};
      const spec = this.branchesOf(data);
      const used = this.outgoing(node).map((e) => (e.getData() || {}).branch || null);
      if (spec.single && !spec.required.length) return used.length || data.type === 'end' ? [] : [null];
      return spec.required.filter((b) => !used.includes(b));
    }

    paintExits(node) {
      if (!node || !node.isNode() || !this.graph.getCellById(node.id)) return;
      const missing = this.readOnly ? [] : this.missingExits(node);
      const shown = missing.length > STUBS ? missing.slice(0, STUBS - 1).concat(['+' + (missing.length - STUBS + 1)]) : missing;
      // Unchanged stubs are not painted again: setting attributes re-renders the node.
      const sig = shown.map(String).join('|');
      const before = this.stubs.get(node.id);
      if ((before ? before.sig : '') === sig && (before || !shown.length)) return;
      const placed = [];
      placed.sig = sig;
      this.stubs.set(node.id, placed);
      const attrs = {};
      for (let i = 0; i < STUBS; i++) {
        const b = shown[i];
        if (b === undefined) {
          attrs['ph' + i] = { display: 'none' }; attrs['phl' + i] = { display: 'none' }; attrs['pht' + i] = { display: 'none' };
          continue;
        }
        const y = H / 2 + (i - (shown.length - 1) / 2) * STUB_GAP;
        const text = b === null ? OF.t('exit_default') : String(b).startsWith('+') ? b : OF.branchShort(b);
        const w = Math.min(STUB_W - 24, textWidth(text) + 14);
        placed.push({ branch: b, y: y, w: w });
        attrs['phl' + i] = { display: 'inline', d: 'M ' + (W + 6) + ' ' + H / 2 + ' L ' + STUB_X + ' ' + y };
        attrs['ph' + i] = { display: 'inline', x: STUB_X, y: y - 10, width: w, 'data-exit': b === null ? '' : b };
        attrs['pht' + i] = { display: 'inline', refX: STUB_X + 7, refY: y, text: text };
      }
      node.setAttrs(attrs, VISUAL);
    }

    paintAllExits() { for (const n of this.graph.getNodes()) this.paintExits(n); }

    afterEdgesChange() {
      if (this.loading) return;
      this.paintAllExits();
      this.scheduleLabels();
    }

    // -- connecting: every drag from an exit ends, on drop, Esc, a click on the canvas or
    // leaving the window
    finishConnection(edge) {
      const source = edge.getSourceCell();
      // A drag started on an exit stub makes exactly that exit.
      const stub = this.stubDrag;
      this.stubDrag = null;
      const b = stub && source && stub.node === source.id ? stub.branch : null;
      if (b && !b.startsWith('+')) edge.setData({ branch: b }, { overwrite: true });
      this.assignBranch(edge);
      this.autoOutcome(edge);
      this.afterEdgesChange();
    }

    /* Edges always run from the node's exit port to the next node's entry port, also when
       the drag started on a stub or ended on the node's body (done after X6's drag ends). */
    attachToPorts(edge) {
      const src = edge.getSource() || {}, t = edge.getTarget() || {};
      if (!edge.getSourceCell() || !edge.getTargetCell()) return;
      if (src.port === 'out' && t.port === 'in') return;
      this.loading = true;
      try {
        if (src.port !== 'out') edge.setSource({ cell: src.cell, port: 'out' }, VISUAL);
        if (t.port !== 'in') edge.setTarget({ cell: t.cell, port: 'in' }, VISUAL);
      } finally { this.loading = false; }
    }

    isConnecting() {
      if (this.pending && this.graph.getCellById(this.pending.id)) return true;
      return this.graph.getEdges().some((e) => !e.getSourceCell() || !e.getTargetCell());
    }

    cancelConnecting() {
      if (!this.isConnecting()) return false;
      // Let X6 end its drag as a drop far off the canvas (a new edge is then dropped), then
      // remove whatever is still not attached at both ends.
      const off = { bubbles: true, cancelable: true, clientX: -10000, clientY: -10000, button: 0 };
      const dragged = this.pending;
      this.cancelling = true;
      try { document.dispatchEvent(new MouseEvent('mouseup', off)); } finally { this.cancelling = false; }
      const loose = this.graph.getEdges().filter((e) => e === dragged || !e.getSourceCell() || !e.getTargetCell());
      if (loose.length) { this.hist.disable(); this.graph.removeCells(loose); if (!this.readOnly) this.hist.enable(); }
      this.pending = null;
      return true;
    }

    installConnectGuard() {
      document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && this.cancelConnecting()) e.stopPropagation(); }, true);
      const later = () => setTimeout(() => { if (this.isConnecting()) this.cancelConnecting(); }, 0);
      document.addEventListener('pointerup', later, true);
      document.addEventListener('mouseup', (e) => { if (e.clientX !== -10000) later(); }, true);
      document.addEventListener('pointercancel', later, true);
      window.addEventListener('blur', () => this.cancelConnecting());
    }

    /* An end reached by a named branch takes that name as its outcome (approved, rejected,
       timeout...) while its outcome is still the default or was set this way. */
    autoOutcome(edge) {
      const target = edge.getTargetCell();
      if (!target || (target.getData() || {}).type !== 'end') return;
      const branch = (edge.getData() || {}).branch;
      if (!branch || PLAIN_BRANCHES.includes(branch) || /^branch_\d+$/.test(branch)) return;
      const data = target.getData();
      const outcome = (data.config || {}).outcome;
      const others = this.graph.getIncomingEdges(target) ? this.graph.getIncomingEdges(target).filter((e) => e !== edge) : [];
      // Only an end that nothing else reaches yet: an end shared with other paths keeps its name.
      const fresh = !outcome || ((outcome === 'done' || outcome === data.autoOutcome) && !others.length);
      if (!fresh || outcome === branch) return;
      this.updateNode(target.id, { config: Object.assign({}, data.config, { outcome: branch }), autoOutcome: branch });
    }

    // -- edge labels: parallel edges fan out, labels are placed where no other label or node is
    scheduleLabels() {
      if (this.labelFrame || this.loading) return;
      this.labelFrame = requestAnimationFrame(() => { this.labelFrame = null; this.layoutLabels(); });
    }

    layoutLabels() {
      const g = this.graph;
      const edges = g.getEdges().filter((e) => e.getSourceCell() && e.getTargetCell());
      const groups = new Map();
      for (const e of edges) {
        const k = e.getSourceCellId() + '>' + e.getTargetCellId();
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(e);
      }
      const ends = (e) => {
        const s = e.getSourceCell().getBBox(), t = e.getTargetCell().getBBox();
        return [{ x: s.x + s.width, y: s.y + s.height / 2 }, { x: t.x, y: t.y + t.height / 2 }];
      };
      for (const list of groups.values()) {
        list.sort((a, b) => String((a.getData() || {}).branch).localeCompare(String((b.getData() || {}).branch)));
        list.forEach((e, i) => {
          let vertices = [];
          if (list.length > 1) {
            const [a, b] = ends(e);
            const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
            const off = (i - (list.length - 1) / 2) * 40;
            vertices = [{ x: Math.round((a.x + b.x) / 2 - (b.y - a.y) / len * off), y: Math.round((a.y + b.y) / 2 + (b.x - a.x) / len * off) }];
          }
          const cur = e.getVertices();
          const same = cur.length === vertices.length && cur.every((v, k) => v.x === vertices[k].x && v.y === vertices[k].y);
          if (!same) e.setVertices(vertices, VISUAL);
        });
      }
      const placed = g.getNodes().map((n) => { const b = n.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; });
      // The exit stubs are in the way too.
      for (const n of g.getNodes()) {
        const p = n.getPosition();
        for (const st of this.stubs.get(n.id) || []) placed.push([p.x + STUB_X, p.y + st.y - 10, p.x + STUB_X + st.w, p.y + st.y + 10]);
      }
      const hits = (r) => placed.some((p) => r[0] < p[2] && r[2] > p[0] && r[1] < p[3] && r[3] > p[1]);
      const candidates = [0.5, 0.62, 0.38, 0.72, 0.28, 0.8, 0.2, 0.86, 0.14];
      const labelled = edges.filter((e) => (e.getData() || {}).branch);
      for (const e of labelled) {
        const text = OF.branchLabel(e.getData().branch);
        const w = textWidth(text) * 1.4 + 4, h = 24;
        const view = g.findViewByCell(e);
        const point = (ratio) => {
          const p = view && view.getPointAtRatio ? view.getPointAtRatio(ratio) : null;
          if (p) return p;
          const [a, b] = ends(e);
          const v = e.getVertices();
          if (v.length) { const m = v[0]; return ratio < 0.5 ? { x: a.x + (m.x - a.x) * ratio * 2, y: a.y + (m.y - a.y) * ratio * 2 } : { x: m.x + (b.x - m.x) * (ratio - 0.5) * 2, y: m.y + (b.y - m.y) * (ratio - 0.5) * 2 }; }
          return { x: a.x + (b.x - a.x) * ratio, y: a.y + (b.y - a.y) * ratio };
        };
        let best = null;
        for (const ratio of candidates) {
          const p = point(ratio);
          const r = [p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2];
          if (!best) best = { ratio, r };
          if (!hits(r)) { best = { ratio, r }; break; }
        }
        placed.push(best.r);
        const pos = e.getLabels()[0] && e.getLabels()[0].position;
        const dist = pos == null ? 0.5 : typeof pos === 'object' ? pos.distance : pos;  // the default label sits at 0.5
        if (dist !== best.ratio) e.setLabelAt(0, { attrs: { label: { text: text } }, position: { distance: best.ratio } }, VISUAL);
      }
    }

    // -- branches
    branchesOf(data) {
      const t = this.types[data.type];
      if (!t) return { required: [], allowed: [], single: true, any: false };
      const tb = t.branches;
      const b = { required: tb.required.slice(), allowed: tb.allowed ? tb.allowed.slice() : tb.allowed, single: tb.single, any: tb.any };
      // Exits that depend on the config, from the type's declaration (as the engine reads it)
      const x = t.exits;
      if (x) {
        const config = data.config || {};
        const names = [];
        const listed = x.labels_from ? config[x.labels_from[0]] : null;
        for (const item of Array.isArray(listed) ? listed : []) {
          const label = item && item[x.labels_from[1]];
          if (label && !names.includes(label)) names.push(label);
        }
        for (const name of x.required) if (!names.includes(name)) names.push(name);
        for (const [name, test] of x.optional) if (test && OF.configHolds(test, config) && !names.includes(name)) names.push(name);
        b.required = names;
        b.allowed = names.concat(x.optional.map(([name]) => name).filter((name) => !names.includes(name)));
      }
      return b;
    }

    outgoing(cell) { return this.graph.getOutgoingEdges(cell) || []; }

    assignBranch(edge) {
      const source = edge.getSourceCell();
      if (!source) return;
      const spec = this.branchesOf(source.getData());
      const used = this.outgoing(source).filter((e) => e !== edge).map((e) => (e.getData() || {}).branch);
      let branch = (edge.getData() || {}).branch || null;
      if (branch && !used.includes(branch)) { this.applyEdgeLabel(edge); return; }
      branch = null;
      const options = spec.any ? [] : (spec.allowed || []);
      branch = spec.required.find((b) => !used.includes(b)) || options.find((b) => !used.includes(b)) || null;
      if (!branch && spec.any) { let k = 1; while (used.includes('branch_' + k)) k++; branch = 'branch_' + k; }
      if (!branch && !spec.single && options.length) branch = options[0];
      edge.setData({ branch: branch }, { overwrite: true });
      this.applyEdgeLabel(edge);
    }

    setBranch(edgeId, branch) {
      const edge = this.graph.getCellById(edgeId);
      if (!edge) return;
      edge.setData({ branch: branch || null }, { overwrite: true });
      this.applyEdgeLabel(edge);
      this.autoOutcome(edge);
      this.afterEdgesChange();
    }

    applyEdgeLabel(edge) {
      const b = (edge.getData() || {}).branch;
      edge.setLabels(b ? [{ attrs: { label: { text: OF.branchLabel(b) } } }] : [], VISUAL);
      this.scheduleLabels();
    }

    relabelEdges(cell) { for (const e of this.outgoing(cell)) this.applyEdgeLabel(e); }

    connect(sourceId, targetId, branch) {
      const e = this.graph.addEdge(Object.assign(edgeStyle(branch), {
        id: this.newEdgeId(),
        source: { cell: sourceId, port: 'out' }, target: { cell: targetId, port: 'in' }, data: { branch: branch || null },
      }));
      this.applyEdgeLabel(e);
      this.autoOutcome(e);
      return e;
    }

    // -- documents
    load(doc) {
      this.loading = true;
      const g = this.graph;
      this.hist.disable();
      g.clearCells();
      const nodes = (doc.nodes || []).map((n) => ({
        id: n.id, shape: 'of-node', x: (n.position || {}).x || 0, y: (n.position || {}).y || 0, width: W, height: H,
        data: { type: n.type, name: n.name || null, config: n.config || {} },
        attrs: this.nodeAttrs({ type: n.type, name: n.name, config: n.config || {} }),
        ports: { items: [n.type !== 'start' && { id: 'in', group: 'in' }, n.type !== 'end' && { id: 'out', group: 'out' }].filter(Boolean) },
      }));
      const ids = new Set(nodes.map((n) => n.id));
      const edges = (doc.edges || []).filter((e) => ids.has(e.from) && ids.has(e.to)).map((e, i) => Object.assign(edgeStyle(e.branch), {
        id: e.id || 'e_' + e.from + '_' + e.to + '_' + i,
        source: { cell: e.from, port: 'out' }, target: { cell: e.to, port: 'in' },
        data: { branch: e.branch == null ? null : e.branch },
        labels: e.branch ? [{ attrs: { label: { text: OF.branchLabel(e.branch) } } }] : [],
      }));
      g.resetCells([].concat(g.createNode ? nodes.map((n) => g.createNode(n)) : nodes, edges.map((e) => g.createEdge(e))));
      this.missingEdges = (doc.edges || []).filter((e) => !(ids.has(e.from) && ids.has(e.to)));
      this.hist.clean();
      this.loading = false;
      this.pending = null;
      this.stubs.clear();
      this.paintAllExits();
      this.layoutLabels();
      if (!this.readOnly) this.hist.enable();
    }

    overlapping() {
      const boxes = this.graph.getNodes().map((n) => n.getBBox());
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (boxes[i].isIntersectWithRect(boxes[j])) return true;
      return false;
    }

    toDoc(base) {
      const doc = Object.assign({}, base);
      doc.nodes = this.graph.getNodes().map((n) => {
        const d = n.getData() || {};
        const p = n.getPosition();
        const out = { id: n.id, type: d.type, config: d.config || {}, position: { x: Math.round(p.x), y: Math.round(p.y) } };
        if (d.name && (d.name.zh || d.name.en)) out.name = d.name;
        return out;
      });
      doc.edges = this.graph.getEdges().map((e) => {
        const out = { id: e.id, from: e.getSourceCellId(), to: e.getTargetCellId() };
        const b = (e.getData() || {}).branch;
        if (b) out.branch = b;
        return out;
      }).filter((e) => e.from && e.to).concat(this.missingEdges || []);
      return doc;
    }

    edgeIndex(doc) {
      const out = {};
      (doc.edges || []).forEach((e, i) => { out[i] = e.id; });
      return out;
    }

    // -- selection, clipboard, delete
    selected() { return this.sel.getSelectedCells(); }

    selectOnly(id) {
      const cell = this.graph.getCellById(id);
      if (!cell) return;
      this.sel.clean();
      this.sel.select(cell);
      if (cell.isNode()) this.graph.centerCell(cell);
    }

    cycle(step) {
      const nodes = this.graph.getNodes().slice().sort((a, b) => a.getPosition().x - b.getPosition().x || a.getPosition().y - b.getPosition().y);
      if (!nodes.length) return;
      const cur = this.selected().find((c) => c.isNode());
      let i = cur ? nodes.indexOf(cur) + step : 0;
      i = (i + nodes.length) % nodes.length;
      this.selectOnly(nodes[i].id);
    }

    nudge(dx, dy) {
      const nodes = this.selected().filter((c) => c.isNode());
      if (!nodes.length) return;
      this.graph.batchUpdate('nudge', () => { for (const n of nodes) n.translate(dx, dy); });
      this.emit('change');
    }

    copy() {
      const nodes = this.selected().filter((c) => c.isNode());
      if (!nodes.length) return 0;
      const ids = new Set(nodes.map((n) => n.id));
      const doc = this.toDoc({});
      this.clip = {
        nodes: doc.nodes.filter((n) => ids.has(n.id)),
        edges: doc.edges.filter((e) => ids.has(e.from) && ids.has(e.to)),
      };
      try { localStorage.setItem('orderflow.clipboard', JSON.stringify(this.clip)); } catch (e) { /* private mode */ }
      return nodes.length;
    }

    paste() {
      let clip = this.clip;
      try { clip = JSON.parse(localStorage.getItem('orderflow.clipboard')) || clip; } catch (e) { /* keep */ }
      if (!clip || !clip.nodes.length) return;
      const map = {};
      const added = [];
      this.graph.batchUpdate('paste', () => {
        for (const n of clip.nodes) {
          if (n.type === 'start' && this.graph.getNodes().some((c) => c.getData().type === 'start')) continue;
          const id = this.newId(n.type);
          map[n.id] = id;
          added.push(this.addNodeCell(Object.assign({}, JSON.parse(JSON.stringify(n)), { id: id, position: { x: n.position.x + 40, y: n.position.y + 40 } })));
        }
        for (const e of clip.edges) if (map[e.from] && map[e.to]) this.connect(map[e.from], map[e.to], e.branch);
      });
      this.sel.clean();
      this.sel.select(added);
      clip.nodes.forEach((n) => { n.position = { x: n.position.x + 40, y: n.position.y + 40 }; });
      this.clip = clip;
    }

    removeCells(cells) {
      this.graph.batchUpdate('delete', () => this.graph.removeCells(cells));
    }

    // -- layout and view
    layout(quiet) {
      const g = new dagre.graphlib.Graph();
      g.setGraph({ rankdir: 'LR', nodesep: 36, ranksep: 70, marginx: 20, marginy: 20 });
      g.setDefaultEdgeLabel(() => ({}));
      const nodes = this.graph.getNodes();
      for (const n of nodes) g.setNode(n.id, { width: W, height: H });
      for (const e of this.graph.getEdges()) {
        const s = e.getSourceCellId(), t = e.getTargetCellId();
        if (s && t) g.setEdge(s, t);
      }
      dagre.layout(g);
      if (quiet) this.loading = true;
      this.graph.batchUpdate('layout', () => {
        for (const n of nodes) {
          const p = g.node(n.id);
          if (p) n.position(Math.round(p.x - W / 2), Math.round(p.y - H / 2));
        }
      });
      this.loading = false;
      this.layoutLabels();
      this.fit();
      if (!quiet) this.emit('change');
    }

    fit() {
      if (this.graph.getNodes().length) this.graph.zoomToFit({ padding: 40, maxScale: 1.2 });
    }

    zoom(step) { this.graph.zoom(step, { minScale: 0.15, maxScale: 2.5 }); }

    installTouch(container) {
      let pinch = null;
      const dist = (t) => Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY);
      container.addEventListener('touchstart', (e) => {
        if (e.touches.length === 2) pinch = { d: dist(e.touches), s: this.graph.zoom() };
      }, { passive: true });
      container.addEventListener('touchmove', (e) => {
        if (pinch && e.touches.length === 2) {
          e.preventDefault();
          const cx = (e.touches[0].clientX + e.touches[1].clientX) / 2, cy = (e.touches[0].clientY + e.touches[1].clientY) / 2;
          const scale = Math.max(0.15, Math.min(2.5, pinch.s * dist(e.touches) / pinch.d));
          this.graph.zoomTo(scale, { center: this.graph.clientToLocal(cx, cy) });
        }
      }, { passive: false });
      container.addEventListener('touchend', (e) => { if (e.touches.length < 2) pinch = null; });
    }

    // -- marks: validation issues, simulated path, version diff
    paintNode(node) {
      const id = node.id;
      const base = this.nodeAttrs(node.getData());
      const issues = this.marks.issues.get(id);
      const path = this.marks.path;
      const diff = this.marks.diff;
      let stroke = base.body.stroke, width = 1.5, fill = base.body.fill, opacity = 1, badge = '';
      if (diff) {
        if (diff.added.includes(id)) { stroke = '#16a34a'; width = 3; badge = '+'; }
        else if (diff.changed.includes(id)) { stroke = '#d97706'; width = 3; badge = '~'; }
        else opacity = 0.55;
      }
      if (path) {
        if (path.nodes.has(id)) { stroke = '#16a34a'; width = 3.5; fill = '#dcfce7'; }
        else opacity = 0.35;
        if (path.waiting.has(id)) { stroke = '#2563eb'; fill = '#dbeafe'; badge = '‖'; }
        if (path.failed.has(id)) { stroke = '#dc2626'; fill = '#fee2e2'; badge = '!'; }
      }
      if (issues) {
        const err = issues.some((i) => i.severity === 'error');
        stroke = err ? '#dc2626' : '#d97706'; width = 3; badge = (err ? '! ' : '? ') + issues.length;
      }
      node.setAttrs({ body: { stroke: stroke, strokeWidth: width, fill: fill }, badge: { text: badge, fill: stroke }, '.': { opacity: opacity } }, VISUAL);
      node.attr('root/data-state', path && path.nodes.has(id) ? 'lit' : issues ? 'issue' : '', VISUAL);
    }

    paintEdge(edge) {
      const path = this.marks.path;
      const bad = this.marks.issues.get(edge.id);
      let stroke = '#64748b', width = 1.6, dash = null;
      if (path) {
        if (path.edges.has(edge.id)) { stroke = '#16a34a'; width = 3.5; } else { stroke = '#cbd5e1'; }
      }
      if (bad) { stroke = '#dc2626'; width = 3; dash = '6 3'; }
      edge.setAttrs({ line: { stroke: stroke, strokeWidth: width, strokeDasharray: dash } }, VISUAL);
      edge.attr('root/data-state', path && path.edges.has(edge.id) ? 'lit' : bad ? 'issue' : '', VISUAL);
    }

    repaint() {
      for (const n of this.graph.getNodes()) this.paintNode(n);
      for (const e of this.graph.getEdges()) this.paintEdge(e);
    }

    showIssues(issues, doc) {
      const byCell = new Map();
      const edgeIds = this.edgeIndex(doc);
      for (const issue of issues) {
        let id = issue.node_id;
        const m = /^\/edges\/(\d+)/.exec(issue.path || '');
        if (m && edgeIds[m[1]]) id = edgeIds[m[1]];
        if (!id || !this.graph.getCellById(id)) continue;
        if (!byCell.has(id)) byCell.set(id, []);
        byCell.get(id).push(issue);
      }
      this.marks.issues = byCell;
      this.repaint();
    }

    showPath(steps) {
      const nodes = new Set(), edges = new Set(), waiting = new Set(), failed = new Set();
      for (const s of steps) {
        if (!s.node) continue;
        nodes.add(s.node);
        if (s.event === 'node_waiting') waiting.add(s.node);
        if (s.event === 'incident') failed.add(s.node);
        if (s.event === 'node_passed' || s.event === 'event_received') { waiting.delete(s.node); }
      }
      for (const s of steps) {
        if (s.event !== 'node_passed' || !s.node) continue;
        const cell = this.graph.getCellById(s.node);
        if (!cell) continue;
        const branches = Array.isArray(s.branch) ? s.branch : [s.branch];
        for (const e of this.outgoing(cell)) {
          const b = (e.getData() || {}).branch || null;
          const single = branches.length === 1 && (branches[0] == null || branches[0] === '*');
          if ((single || branches.includes(b)) && nodes.has(e.getTargetCellId())) edges.add(e.id);
        }
      }
      this.marks.path = { nodes, edges, waiting, failed };
      this.repaint();
    }

    clearPath() { this.marks.path = null; this.repaint(); }
    showDiff(diff) { this.marks.diff = diff; this.repaint(); }
    clearDiff() { this.marks.diff = null; this.repaint(); }
  }

  function edgeStyle(branch) {
    return {
      shape: 'edge',
      attrs: { line: { stroke: '#64748b', strokeWidth: 1.6, targetMarker: { name: 'block', width: 8, height: 6 } } },
      defaultLabel: {
        markup: [{ tagName: 'rect', selector: 'body' }, { tagName: 'text', selector: 'label' }],
        attrs: {
          label: { fill: '#0f172a', fontSize: 12, textAnchor: 'middle', textVerticalAnchor: 'middle', pointerEvents: 'none' },
          body: { ref: 'label', fill: '#fff', stroke: '#94a3b8', strokeWidth: 1, rx: 4, ry: 4, refWidth: '140%', refHeight: '140%', refX: '-20%', refY: '-20%' },
        },
        position: { distance: 0.5 },
      },
      zIndex: 0,
      data: { branch: branch || null },
    };
  }

  let registered = false;
  function registerShape() {
    if (registered) return;
    registered = true;
    const port = (side) => ({
      position: side,
      attrs: { circle: { r: 5, magnet: true, stroke: '#475569', strokeWidth: 1.5, fill: '#fff', 'port-group': side === 'left' ? 'in' : 'out' } },
    });
    X6.Graph.registerNode('of-node', {
      inherit: 'rect',
      width: W, height: H,
      markup: [
        { tagName: 'rect', selector: 'body' },
        { tagName: 'rect', selector: 'stripe' },
        { tagName: 'text', selector: 'title' },
        { tagName: 'text', selector: 'sub' },
        { tagName: 'text', selector: 'badge' },
      ].concat([].concat(...Array.from({ length: STUBS }, (_, i) => [
        { tagName: 'path', selector: 'phl' + i },
        { tagName: 'rect', selector: 'ph' + i },
        { tagName: 'text', selector: 'pht' + i },
      ]))),
      attrs: Object.assign({
        body: { refWidth: '100%', refHeight: '100%', rx: 8, ry: 8, strokeWidth: 1.5 },
        stripe: { x: 0, y: 0, width: 6, refHeight: '100%', rx: 3, ry: 3 },
        title: { refX: 16, refY: 20, fontSize: 14, fontWeight: 600, fill: '#0f172a', textAnchor: 'start', textVerticalAnchor: 'middle' },
        sub: { refX: 16, refY: 41, fontSize: 11, fill: '#475569', textAnchor: 'start', textVerticalAnchor: 'middle' },
        badge: { refX: '100%', refX2: -8, refY: 12, fontSize: 12, fontWeight: 700, textAnchor: 'end', textVerticalAnchor: 'middle' },
      }, Object.assign({}, ...Array.from({ length: STUBS }, (_, i) => ({
        ['phl' + i]: { display: 'none', fill: 'none', stroke: '#94a3b8', strokeWidth: 1.2, strokeDasharray: '4 3', pointerEvents: 'none' },
        // A stub is an exit: dragging from it connects that branch.
        ['ph' + i]: { display: 'none', height: 20, rx: 10, ry: 10, fill: '#fff', stroke: '#94a3b8', strokeWidth: 1.2, strokeDasharray: '4 3', magnet: true, 'port-group': 'out', cursor: 'crosshair', class: 'exit-stub' },
        ['pht' + i]: { display: 'none', fontSize: 11, fill: '#475569', textAnchor: 'start', textVerticalAnchor: 'middle', pointerEvents: 'none', class: 'exit-stub-text' },
      })))),
      ports: { groups: { in: port('left'), out: port('right') } },
    }, true);
  }

  OF.FlowGraph = FlowGraph;
})();
