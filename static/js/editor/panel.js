/* The properties panel: node forms generated on the server from each type's config schema
   (loaded with htmx), read back into the node's config; the connection panel; exits. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});

  function setPath(obj, path, value) {
    const parts = path.split('.');
    let cur = obj;
    for (let i = 0; i < parts.length - 1; i++) {
      const key = /^\d+$/.test(parts[i]) ? +parts[i] : parts[i];
      if (cur[key] == null || typeof cur[key] !== 'object') cur[key] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      cur = cur[key];
    }
    const last = parts[parts.length - 1];
    cur[/^\d+$/.test(last) ? +last : last] = value;
  }
  function getPath(obj, path) {
    let cur = obj;
    for (const p of path.split('.')) { if (cur == null) return undefined; cur = cur[/^\d+$/.test(p) ? +p : p]; }
    return cur;
  }
  OF.setPath = setPath;
  /* Names are {zh, en} when both are given, else the one text (the schema wants both or a string). */
  OF.nameValue = function (name) {
    if (name.zh && name.en) return name;
    return name.zh || name.en || null;
  };
  OF.getPath = getPath;

  /* Read a generated form back into a config object. */
  function readForm(form) {
    const config = {};
    // The blank picker a required list opens with is no entry until something is chosen.
    const blank = (item) => !!item && item.hasAttribute('data-blank') &&
      ['', '{}'].includes((item.querySelector('input[type=hidden][data-type=json]') || {}).value || '');
    form.querySelectorAll('.cfg-item[data-item]').forEach((item) => {
      if (blank(item)) return;
      if (getPath(config, item.dataset.item) === undefined) setPath(config, item.dataset.item, item.dataset.itemKind === 'value' ? '' : {});
    });
    form.querySelectorAll('[data-path][data-type]').forEach((el) => {
      if (el.closest('.cond-builder') || el.closest('.dt-grid') || blank(el.closest('.cfg-item'))) return;
      const path = el.dataset.path;
      let v;
      switch (el.dataset.type) {
        case 'string': v = el.value.trim() === '' ? undefined : el.value.trim(); break;
        case 'dsl': v = el.value.trim() === '' ? undefined : el.value; break;
        case 'enum': v = el.value === '' ? undefined : el.value; break;
        case 'boolean': v = el.checked === (el.dataset.default === 'true') ? undefined : el.checked; break;
        case 'number': v = el.value.trim() === '' || isNaN(Number(el.value)) ? undefined : Number(el.value); break;
        case 'integer': v = el.value.trim() === '' || isNaN(parseInt(el.value, 10)) ? undefined : parseInt(el.value, 10); break;
        case 'lines': { const l = el.value.split('\n').map((s) => s.trim()).filter(Boolean); v = l.length ? l : undefined; break; }
        case 'multi': { const c = Array.from(el.querySelectorAll('input:checked')).map((x) => x.value); v = c.length ? c : undefined; break; }
        case 'json': try { v = JSON.parse(el.value); } catch (e) { v = undefined; } break;
        case 'map': {
          const o = {};
          el.querySelectorAll('.map-row').forEach((row) => {
            const k = row.querySelector('.map-key').value.trim();
            if (k) o[k] = row.querySelector('.map-value').value;
          });
          v = Object.keys(o).length ? o : undefined;
          break;
        }
        default: return;
      }
      if (v !== undefined) setPath(config, path, v);
    });
    return config;
  }
  OF.readForm = readForm;

  class Panel {
    constructor(editor) {
      this.ed = editor;
      this.el = document.getElementById('props');
      this.current = null;
      this.apply = OF.debounce(() => this.commit(), 250);
      this.el.addEventListener('input', (e) => this.onEdit(e));
      this.el.addEventListener('change', (e) => this.onEdit(e));
      this.el.addEventListener('click', (e) => this.onClick(e));
      this.el.addEventListener('htmx:afterSwap', () => this.wire());
    }

    get graph() { return this.ed.fg; }

    show(cells) {
      this.apply.flush && this.current && this.apply.flush();
      const nodes = cells.filter((c) => c.isNode());
      const edges = cells.filter((c) => c.isEdge());
      if (nodes.length === 1 && cells.length === 1) return this.showNode(nodes[0].id);
      if (edges.length === 1 && cells.length === 1) return this.showEdge(edges[0]);
      this.current = null;
      this.el.innerHTML = cells.length
        ? '<p>' + OF.esc(OF.t('delete_nodes', { n: nodes.length, m: edges.length }).replace(/[?？]$/, '')) + '</p>'
        : '<p class="muted">' + OF.esc(OF.t('start_here')) + '</p>';
    }

    showNode(id) {
      const cell = this.graph.graph.getCellById(id);
      if (!cell) return;
      this.current = { kind: 'node', id: id };
      const d = cell.getData();
      const node = { id: id, type: d.type, name: d.name, config: d.config || {} };
      this.ed.activateTab('props');
      return htmx.ajax('POST', OF.config.urls.nodeForm, { target: this.el, swap: 'innerHTML', values: { node: JSON.stringify(node) } });
    }

    reload() { if (this.current && this.current.kind === 'node') this.showNode(this.current.id); }

    wire() {
      const form = this.el.querySelector('.node-form');
      if (!form) return;
      const readOnly = !OF.config.canEdit;
      const nodeType = form.dataset.nodeType;
      form.querySelectorAll('.dsl-editor').forEach((root) => {
        const opts = { kind: root.dataset.expr, nodeType: nodeType, path: root.dataset.path, onInput: () => this.apply() };
        root._field = root.dataset.expr === 'condition' ? new OF.ConditionField(root, opts) : new OF.DslField(root, opts);
      });
      form.querySelectorAll('[data-assignee]').forEach((root) => { root._field = new OF.AssigneeField(root); });
      form.querySelectorAll('.dt-grid').forEach((grid) => {
        const hidden = form.querySelector('input[type=hidden][data-path="' + grid.dataset.path + '"]');
        grid._grid = new OF.TableGrid(grid, hidden, () => this.apply());
      });
      this.renderExits(form);
      // The server shows durations as stored (4小时 → 4h); keep the node's config the same.
      if (!readOnly && form.querySelector('[data-normalised]')) this.commit();
      if (readOnly) form.querySelectorAll('input, select, textarea, button').forEach((x) => { x.disabled = true; });
      this.ed.pinFormIssues(form, this.current && this.current.id);
    }

    onEdit(e) {
      if (!this.current || !OF.config.canEdit) return;
      const t = e.target;
      if (this.current.kind === 'edge') return;
      // An exit's own listener handles it (and may have redrawn the list, detaching it).
      if (!t.isConnected || t.closest('.cond-builder') || t.closest('.dt-grid') || t.closest('.exit-list')) return;
      if (t.classList.contains('choice-key') && e.type === 'change') {
        const wrap = t.closest('.cfg-choice');
        const inner = wrap.querySelector('.dsl-input, .choice-value');
        const config = readForm(this.el.querySelector('.node-form'));
        setPath(config, wrap.dataset.path, { [t.value]: inner ? inner.value : '' });
        this.graph.updateNode(this.current.id, { config: config });
        return this.reload();
      }
      if (e.type === 'change' && t.hasAttribute('data-duration')) { this.commit(); return this.reload(); }
      this.apply();
    }

    commit() {
      if (!this.current || this.current.kind !== 'node') return;
      const form = this.el.querySelector('.node-form');
      if (!form || form.dataset.nodeId !== this.current.id) return;
      const name = { zh: form.querySelector('[data-node="name.zh"]').value.trim(), en: form.querySelector('[data-node="name.en"]').value.trim() };
      const patch = { config: readForm(form), name: OF.nameValue(name) };
      this.graph.updateNode(this.current.id, patch);
      this.renderExits(form);
    }

    onClick(e) {
      const b = e.target.closest('[data-action]');
      if (!b || !this.current || !OF.config.canEdit) return;
      const form = this.el.querySelector('.node-form');
      if (this.current.kind === 'edge') return;
      const config = readForm(form);
      const path = b.dataset.path;
      const act = b.dataset.action;
      if (act === 'add-row') {
        const row = document.createElement('div');
        row.className = 'map-row';
        row.innerHTML = '<input type="text" class="map-key" aria-label="' + OF.esc(OF.t('name')) + '"><input type="text" class="map-value" aria-label="' + OF.esc(OF.t('value')) + '"><button type="button" class="icon danger" data-action="remove-row" aria-label="' + OF.esc(OF.t('remove')) + '">✕</button>';
        b.before(row);
        row.querySelector('input').focus();
        return;
      }
      if (act === 'remove-row') { b.closest('.map-row').remove(); return this.commit(); }
      const parts = path.split('.');
      if (act === 'add') {
        const list = getPath(config, path) || [];
        list.push(b.dataset.itemKind === 'value' ? '' : {});
        setPath(config, path, list);
      } else {
        const idx = +parts.pop();
        const list = getPath(config, parts.join('.')) || [];
        if (act === 'remove') list.splice(idx, 1);
        if (act === 'up' && idx > 0) list.splice(idx - 1, 0, list.splice(idx, 1)[0]);
        if (act === 'down' && idx < list.length - 1) list.splice(idx + 1, 0, list.splice(idx, 1)[0]);
      }
      this.graph.updateNode(this.current.id, { config: config });
      this.reload();
    }

    // -- exits: keyboard-accessible connections
    renderExits(form) {
      const box = form.querySelector('.exit-list');
      if (!box) return;
      const g = this.graph.graph;
      const cell = g.getCellById(this.current.id);
      if (!cell) return;
      const spec = this.graph.branchesOf(cell.getData());
      const edges = this.graph.outgoing(cell);
      let branches;
      if (spec.any) branches = edges.map((e) => (e.getData() || {}).branch).concat(['__new']);
      else if (spec.single && !(spec.allowed || []).length) branches = [null];
      else branches = (spec.single ? [null] : []).concat(spec.allowed || spec.required);
      const nodes = g.getNodes().filter((n) => n.id !== cell.id && n.getData().type !== 'start');
      // Redrawing keeps the keyboard where it was: on the same exit's list.
      const had = box.contains(document.activeElement) ? document.activeElement.id : null;
      box.innerHTML = branches.map((b, i) => {
        const edge = edges.find((e) => ((e.getData() || {}).branch || null) === (b === '__new' ? undefined : b));
        const target = edge ? edge.getTargetCellId() : '';
        const label = b === '__new' ? '+' : b == null ? OF.t('exit_default') : OF.branchLabel(b);
        const required = spec.required.includes(b);
        return '<div class="exit-row' + (!target && required ? ' missing' : '') + '"><label for="exit-' + i + '">' + OF.esc(label) + '</label>' +
          '<select id="exit-' + i + '" data-branch="' + (b == null ? '' : OF.esc(b)) + '"' + (OF.config.canEdit ? '' : ' disabled') + '><option value="">' + OF.esc(target ? '—' : OF.t('not_connected')) + '</option>' +
          nodes.map((n) => '<option value="' + OF.esc(n.id) + '"' + (n.id === target ? ' selected' : '') + '>' + OF.esc(this.graph.nodeMeta(n.getData()).title + ' (' + n.id + ')') + '</option>').join('') + '</select></div>';
      }).join('');
      if (had) { const again = document.getElementById(had); if (again) again.focus(); }
      box.querySelectorAll('select').forEach((sel) => sel.addEventListener('change', () => {
        let branch = sel.dataset.branch || null;
        if (branch === '__new') { let k = 1; const used = edges.map((e) => (e.getData() || {}).branch); while (used.includes('branch_' + k)) k++; branch = 'branch_' + k; }
        const old = this.graph.outgoing(cell).find((e) => ((e.getData() || {}).branch || null) === branch);
        g.batchUpdate('connect', () => {
          if (old) g.removeCell(old);
          if (sel.value) this.graph.connect(cell.id, sel.value, branch);
        });
        this.renderExits(form);
      }));
      const want = this.ed.focusExit;
      if (want && want.node === cell.id) {
        this.ed.focusExit = null;
        const sel = box.querySelector('select[data-branch="' + (window.CSS && CSS.escape ? CSS.escape(want.branch) : want.branch) + '"]');
        if (sel) sel.focus();
      }
    }

    // -- connection panel
    showEdge(edge) {
      this.current = { kind: 'edge', id: edge.id };
      const source = edge.getSourceCell(), target = edge.getTargetCell();
      if (!source || !target) return;
      const spec = this.graph.branchesOf(source.getData());
      const branch = (edge.getData() || {}).branch || '';
      const options = spec.any ? [branch || 'branch_1'] : (spec.single ? [''] : []).concat(spec.allowed || spec.required);
      if (branch && !options.includes(branch)) options.push(branch);
      const title = (c) => OF.esc(this.graph.nodeMeta(c.getData()).title);
      this.el.innerHTML = '<div class="node-form"><h2 class="panel-title">' + OF.esc(OF.t('edge')) + '</h2><p>' + title(source) + ' → ' + title(target) + '</p>' +
        '<label for="edge-branch">' + OF.esc(OF.t('branch')) + '</label>' +
        (spec.any ? '<input id="edge-branch" type="text" value="' + OF.esc(branch) + '">' :
          '<select id="edge-branch">' + options.map((o) => '<option value="' + OF.esc(o) + '"' + (o === branch ? ' selected' : '') + '>' + OF.esc(o ? OF.branchLabel(o) : OF.t('exit_default')) + '</option>').join('') + '</select>') +
        (OF.config.canEdit ? '<div class="row-actions"><button type="button" class="btn danger small" id="edge-delete">' + OF.esc(OF.t('delete')) + '</button></div>' : '') + '</div>';
      const input = this.el.querySelector('#edge-branch');
      input.disabled = !OF.config.canEdit;
      input.addEventListener('change', () => this.graph.setBranch(edge.id, input.value));
      const del = this.el.querySelector('#edge-delete');
      if (del) del.addEventListener('click', () => this.ed.confirmDelete([edge]));
      this.ed.pinFormIssues(this.el, edge.id);
    }
  }

  OF.Panel = Panel;
})();
