/* The flow editor page: loading, autosave with revision checks, problems, palette,
   keyboard shortcuts and the toolbar. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});
  const AUTOSAVE_MS = 2500;
  const POLL_MS = 15000;

  class Editor {
    constructor(shell) {
      this.shell = shell;
      this.base = {};
      this.revision = 0;
      this.dirty = false;
      this.saving = null;
      this.conflict = null;
      this.issues = [];
      this.fg = new OF.FlowGraph(document.getElementById('graph'), document.getElementById('minimap'), { nodeTypes: OF.config.nodeTypes, readOnly: !OF.config.canEdit });
      this.panel = new OF.Panel(this);
      this.sim = new OF.Simulator(this);
      this.backtest = new OF.Backtest(this);
      this.publisher = new OF.Publisher(this);
      this.autosave = OF.debounce(() => this.save(false), AUTOSAVE_MS);
      this.fg.on('change', () => this.changed());
      // A click on an exit stub opens the node with that exit's picker focused.
      this.fg.graph.on('node:click', ({ e, node }) => {
        const stub = e && e.target && e.target.closest && e.target.closest('[data-exit]');
        this.focusExit = stub ? { node: node.id, branch: stub.getAttribute('data-exit') } : null;
      });
      this.fg.on('select', (cells) => {
        this.panel.show(cells);
        if (cells.length === 1 && cells[0].isNode()) this.sim.focusNode(cells[0].id);
      });
      this.wireToolbar();
      this.wireTabs();
      this.wirePalette();
      this.wireKeys();
      this.wireSettings();
      window.addEventListener('beforeunload', (e) => { if (this.dirty && OF.config.canEdit) { e.preventDefault(); e.returnValue = ''; } });
      const problems = document.getElementById('problems');
      problems.addEventListener('click', (e) => {
        const item = e.target.closest('[data-cell]');
        if (item) this.openIssue(item.dataset.cell, item.dataset.path);
      });
      // Problems are buttons: Enter or Space opens one as a click does.
      problems.addEventListener('keydown', (e) => {
        const item = e.target.closest('[data-cell]');
        if (!item || (e.key !== 'Enter' && e.key !== ' ') || e.ctrlKey || e.metaKey || e.altKey) return;
        e.preventDefault();
        e.stopPropagation();
        this.openIssue(item.dataset.cell, item.dataset.path);
      });
      this.load();
      setInterval(() => this.poll(), POLL_MS);
    }

    // -- loading and saving
    async load() {
      const r = await OF.api(OF.config.urls.draft);
      if (!r.ok) { this.banner(OF.errorText(r), 'error'); return; }
      this.applyLoaded(r.data);
      // Documents written by hand or by older tools may stack nodes on each other: arrange
      // them for display; the positions are saved with the next real change.
      if (this.fg.graph.getNodes().length < 400 && this.fg.overlapping()) this.fg.layout(true);
      this.fg.fit();
      if (!OF.config.canEdit) this.banner(OF.t('read_only'), 'info');
      this.validate();
    }

    applyLoaded(data) {
      const doc = data.doc || { nodes: [], edges: [] };
      this.base = Object.assign({}, doc);
      delete this.base.nodes;
      delete this.base.edges;
      this.revision = data.revision;
      this.fg.load(doc);
      this.dirty = false;
      this.conflict = null;
      this.state('saved');
      document.getElementById('canvas-hint').hidden = (doc.nodes || []).length > 0;
    }

    currentDoc() { return this.fg.toDoc(this.base); }

    changed() {
      document.getElementById('canvas-hint').hidden = this.fg.graph.getNodes().length > 0;
      if (!OF.config.canEdit) return;
      this.dirty = true;
      if (!this.conflict) { this.state('unsaved'); this.autosave(); }
      this.revalidate();
    }

    state(s) {
      const el = document.getElementById('save-state');
      el.dataset.state = s;
      el.textContent = OF.t(s);
    }

    async save(explicit) {
      if (!OF.config.canEdit || this.conflict) return;
      // An autosave due after an explicit save has nothing left to save: a second revision
      // would only race the publish that follows.
      if (!explicit && !this.dirty && !this.saving) return;
      if (this.saving) { await this.saving; if (!this.dirty) return; }
      const doc = this.currentDoc();
      this.dirty = false;
      this.state('saving');
      this.saving = OF.api(OF.config.urls.draft, { method: 'PUT', body: { doc: doc, base_revision: this.revision } });
      const r = await this.saving;
      this.saving = null;
      if (r.ok) {
        this.revision = r.data.revision;
        this.setIssues(r.data.issues);
        this.state(this.dirty ? 'unsaved' : 'saved');
        if (explicit) this.showProblems(true);
        return;
      }
      this.dirty = true;
      if (r.status === 409) return this.onConflict(r.data.error.details || {});
      this.state(r.offline ? 'save_failed' : 'save_failed');
      this.banner(OF.errorText(r), 'error');
    }

    onConflict(meta) {
      this.conflict = meta;
      this.state('conflict');
      const text = OF.t('conflict_text', { who: meta.updated_by || '?', when: (meta.updated_at || '').replace('T', ' ').slice(0, 16) });
      this.banner(text, 'error', [
        [OF.t('load_theirs'), () => this.loadTheirs()],
        [OF.t('keep_mine'), () => this.keepMine()],
      ]);
    }

    async loadTheirs() {
      const r = await OF.api(OF.config.urls.draft);
      if (!r.ok) return;
      this.applyLoaded(r.data);
      this.banner('');
      this.validate();
    }

    async keepMine() {
      if (!window.confirm(OF.t('confirm_overwrite'))) return;
      const r = await OF.api(OF.config.urls.revision);
      if (!r.ok) return;
      this.revision = r.data.revision;
      this.conflict = null;
      this.banner('');
      this.dirty = true;
      await this.save(true);
    }

    async poll() {
      if (this.saving || this.conflict || document.hidden) return;
      const r = await OF.api(OF.config.urls.revision);
      if (!r.ok || r.data.revision <= this.revision) return;
      const text = OF.t('conflict_poll', { who: r.data.updated_by || '?', when: (r.data.updated_at || '').replace('T', ' ').slice(0, 16) });
      this.banner(text, 'warn', [[OF.t('load_theirs'), () => this.loadTheirs()]]);
    }

    banner(text, kind, actions) {
      const b = document.getElementById('banner');
      b.hidden = !text;
      b.className = 'ed-banner ' + (kind || '');
      b.textContent = text || '';
      for (const [label, fn] of actions || []) {
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.className = 'btn small secondary';
        btn.textContent = label;
        btn.addEventListener('click', fn);
        b.append(' ', btn);
      }
    }

    // -- validation and problems
    async validate() {
      const r = await OF.api(OF.config.urls.validate, { method: 'POST', body: { doc: this.currentDoc() } });
      if (r.ok) this.setIssues(r.data.issues);
    }

    revalidate() {
      if (!this.revalidateLater) this.revalidateLater = OF.debounce(() => this.validate(), 900);
      this.revalidateLater();
    }

    setIssues(issues) {
      this.issues = issues || [];
      this.fg.showIssues(this.issues, this.currentDoc());
      this.showProblems(false);
      const cur = this.panel.current;
      if (cur) this.pinFormIssues(this.panel.el, cur.id);
    }

    /* Where an issue is, for people: the node's (or connection's) name and the form field's
       label, from the node type's config schema (``/nodes/3/config/sla/duration`` -> 时限 ›
       处理时限). */
    issueWhere(issue, doc) {
      const cell = this.issueCell(issue, doc);
      const item = cell && this.fg.graph.getCellById(cell);
      const zh = OF.lang === 'zh';
      let where = '', field = '', path = '';
      if (item && item.isNode()) where = this.fg.nodeMeta(item.getData()).title;
      else if (item && item.isEdge()) {
        const s = item.getSourceCell(), t = item.getTargetCell();
        where = OF.t('edge') + ' ' + (s ? this.fg.nodeMeta(s.getData()).title : '?') + ' → ' + (t ? this.fg.nodeMeta(t.getData()).title : '?');
      } else where = OF.t('flow_settings');
      const m = /\/config(?:\/(.*))?$/.exec(issue.path || '');
      if (item && item.isNode() && m) {
        const parts = (m[1] || '').split('/').filter(Boolean);
        if (!parts.length) {
          // "'assignees' is a required property": the field is named in the message.
          const req = /'([A-Za-z_][\w]*)' is a required property/.exec(issue.message || '');
          if (req) parts.push(req[1]);
        }
        const t = this.fg.types[item.getData().type];
        let schema = t && t.config_schema;
        const labels = [];
        for (const p of parts) {
          if (!schema) break;
          if (/^\d+$/.test(p)) { schema = schema.items; continue; }
          schema = (schema.properties || {})[p];
          if (schema) labels.push((zh && schema['x-title-zh']) || schema.title || p);
        }
        field = labels.join(' › ');
        path = parts.join('.');
      }
      return { cell: cell, where: where, field: field, path: path };
    }

    /* Select the node (or connection) of an issue, open its panel and put the cursor in the
       field; issues of the flow itself open the trigger settings. */
    openIssue(cell, path) {
      const item = cell && this.fg.graph.getCellById(cell);
      if (!item) { this.openSettings(); return; }
      this.activateTab('props');
      this.fg.selectOnly(cell);
      if (!item.isNode()) return;
      const focus = () => {
        const form = this.panel.el.querySelector('.node-form[data-node-id="' + cell + '"]');
        if (!form) return false;
        const field = (path && (form.querySelector('[data-path="' + path + '"]') || form.querySelector('[data-path^="' + path + '."]'))) || form.querySelector('input, select, textarea');
        if (field) { field.focus(); if (field.scrollIntoView) field.scrollIntoView({ block: 'nearest' }); }
        return true;
      };
      let tries = 0;
      const wait = () => { if (!focus() && ++tries < 40) setTimeout(wait, 50); };
      wait();
    }

    issueCell(issue, doc) {
      const m = /^\/edges\/(\d+)/.exec(issue.path || '');
      if (m && doc.edges[+m[1]]) return doc.edges[+m[1]].id;
      return issue.node_id || '';
    }

    showProblems(open) {
      const errors = this.issues.filter((i) => i.severity === 'error');
      const warnings = this.issues.filter((i) => i.severity !== 'error');
      const count = document.getElementById('problem-count');
      count.textContent = this.issues.length ? String(this.issues.length) : '';
      count.dataset.level = errors.length ? 'error' : warnings.length ? 'warn' : 'ok';
      const doc = this.currentDoc();
      const zh = OF.lang === 'zh';
      const box = document.getElementById('problems');
      if (!this.issues.length) box.innerHTML = '<p class="ok-text">✓ ' + OF.esc(OF.t('no_problems')) + '</p>';
      else {
        box.innerHTML = '<p class="muted">' + OF.esc(OF.t('errors_n', { n: errors.length })) + ' · ' + OF.esc(OF.t('warnings_n', { n: warnings.length })) + '</p><ul class="problem-list">' +
          errors.concat(warnings).map((i) => {
            const at = this.issueWhere(i, doc);
            const cell = at.cell;
            const where = at.where + (at.field ? ' · ' + at.field : '');
            const hint = i.dsl ? (zh ? i.dsl.hint_zh || i.dsl.hint : i.dsl.hint) : '';
            return '<li class="problem ' + i.severity + '" data-cell="' + OF.esc(cell) + '" data-path="' + OF.esc(at.path) + '" tabindex="0" role="button"><span class="sev">' + (i.severity === 'error' ? '⚠' : '△') + '</span> ' +
              (where ? '<strong>' + OF.esc(where) + '</strong> ' : '') + '<span>' + OF.withCode((zh ? i.message_zh : i.message).split('\n')[0]) + '</span>' +
              (i.dsl && i.dsl.excerpt ? '<pre class="caret">' + OF.esc(i.dsl.excerpt) + '</pre>' : '') + (hint ? '<div class="hint">💡 ' + OF.esc(hint) + '</div>' : '') + '</li>';
          }).join('') + '</ul>';
      }
      if (open && errors.length) this.activateTab('problems');
    }

    pinFormIssues(root, cellId) {
      const doc = this.currentDoc();
      const mine = this.issues.filter((i) => this.issueCell(i, doc) === cellId);
      let box = root.querySelector('.form-issues');
      if (!box) { box = document.createElement('div'); box.className = 'form-issues'; const h = root.querySelector('.panel-title'); if (h) h.after(box); else root.prepend(box); }
      const zh = OF.lang === 'zh';
      box.innerHTML = mine.map((i) => '<div class="problem ' + i.severity + '">' + OF.withCode((zh ? i.message_zh : i.message).split('\n')[0]) + '</div>').join('');
      for (const i of mine) {
        const m = /\/config\/(.+)$/.exec(i.path || '');
        if (!m || !i.dsl) continue;
        const path = m[1].split('/').join('.');
        const field = root.querySelector('.dsl-editor[data-path="' + path + '"]');
        if (field && field._field) (field._field.dsl || field._field).showErrors([i.dsl]);
      }
    }

    // -- chrome
    activateTab(name) {
      this.shell.querySelectorAll('.side-tabs [role=tab]').forEach((t) => t.setAttribute('aria-selected', String(t.dataset.tab === name)));
      this.shell.querySelectorAll('.side-pane').forEach((p) => { p.hidden = p.dataset.pane !== name; });
      this.shell.dataset.side = name;
    }

    wireTabs() {
      this.shell.querySelectorAll('.side-tabs [role=tab]').forEach((t) => t.addEventListener('click', () => this.activateTab(t.dataset.tab)));
    }

    wireToolbar() {
      this.shell.querySelector('.ed-toolbar').addEventListener('click', (e) => {
        const b = e.target.closest('[data-cmd]');
        if (b) this.command(b.dataset.cmd);
      });
    }

    command(cmd) {
      const g = this.fg.graph;
      switch (cmd) {
        case 'undo': if (OF.config.canEdit && this.fg.hist.canUndo()) this.fg.hist.undo(); break;
        case 'redo': if (OF.config.canEdit && this.fg.hist.canRedo()) this.fg.hist.redo(); break;
        case 'layout': if (OF.config.canEdit) this.fg.layout(); break;
        case 'zoom-in': this.fg.zoom(0.15); break;
        case 'zoom-out': this.fg.zoom(-0.15); break;
        case 'fit': this.fg.fit(); break;
        case 'save': this.save(true); break;
        case 'simulate': this.activateTab('sim'); document.getElementById('sim-run').focus(); break;
        case 'backtest': this.backtest.open(); break;
        case 'publish': this.publisher.open(); break;
        case 'settings': this.openSettings(); break;
      }
    }

    confirmDelete(cells) {
      const nodes = cells.filter((c) => c.isNode());
      const edges = new Set(cells.filter((c) => c.isEdge()));
      for (const n of nodes) for (const e of this.fg.graph.getConnectedEdges(n)) edges.add(e);
      if (!nodes.length && !edges.size) return;
      const dlg = document.getElementById('dlg-confirm');
      dlg.querySelector('h2').textContent = OF.t('delete_title');
      dlg.querySelector('.dlg-text').textContent = nodes.length ? OF.t('delete_nodes', { n: nodes.length, m: edges.size }) : OF.t('delete_edges', { m: edges.size });
      const done = (ok) => {
        dlg.close();
        if (ok) { this.fg.removeCells(nodes.concat(Array.from(edges))); this.panel.show([]); }
        this.fg.graph.container.focus();
      };
      dlg.querySelector('[value=ok]').onclick = () => done(true);
      dlg.querySelector('[value=cancel]').onclick = () => done(false);
      dlg.showModal();
      dlg.querySelector('[value=ok]').focus();
    }

    wireKeys() {
      document.addEventListener('keydown', (e) => {
        const mod = e.ctrlKey || e.metaKey;
        const typing = e.target.closest('input, textarea, select, [contenteditable]');
        if (document.querySelector('dialog[open]')) return;
        if (mod && e.key.toLowerCase() === 's') { e.preventDefault(); this.save(true); return; }
        if (typing || !this.shell.contains(e.target) && e.target !== document.body) return;
        const g = this.fg.graph;
        const key = e.key.toLowerCase();
        // Enter and Space on a button, link, tab or palette item activate it, as anywhere else.
        if ((key === 'enter' || key === ' ') && e.target.closest('button, a[href], summary, [role=button], [role=tab], [role=option], [role=menuitem]')) return;
        const edit = OF.config.canEdit;
        let handled = true;
        if (mod && key === 'z' && !e.shiftKey) this.command('undo');
        else if (mod && (key === 'y' || (key === 'z' && e.shiftKey))) this.command('redo');
        else if (mod && key === 'c') { const n = this.fg.copy(); if (n) this.banner(OF.t('copied', { n: n }), 'info'); setTimeout(() => this.banner(''), 1500); }
        else if (mod && key === 'v' && edit) this.fg.paste();
        else if (mod && key === 'a') { this.fg.sel.select(g.getCells()); }
        else if (mod && key === 'l' && edit) this.fg.layout();
        else if ((key === 'delete' || key === 'backspace') && edit) this.confirmDelete(this.fg.selected());
        else if (key === '+' || key === '=') this.fg.zoom(0.15);
        else if (key === '-') this.fg.zoom(-0.15);
        else if (key === '0' && !mod) this.fg.fit();
        else if (key === ']') this.fg.cycle(1);
        else if (key === '[') this.fg.cycle(-1);
        else if (key === 'escape') this.fg.sel.clean();
        else if (key === 'enter') { const f = document.querySelector('#props input, #props textarea, #props select'); if (f) f.focus(); }
        else if (key.startsWith('arrow') && edit && this.fg.selected().length) {
          const step = e.shiftKey ? 1 : 10;
          this.fg.nudge(key === 'arrowleft' ? -step : key === 'arrowright' ? step : 0, key === 'arrowup' ? -step : key === 'arrowdown' ? step : 0);
        } else handled = false;
        if (handled) e.preventDefault();
      });
    }

    /* Palette: drag with mouse, pen or finger (pointer events), or tap/Enter to add. */
    wirePalette() {
      const canvas = document.getElementById('graph');
      let drag = null;
      document.querySelectorAll('.pal-item').forEach((item) => {
        item.addEventListener('click', () => {
          if (item.dataset.dragged) { delete item.dataset.dragged; return; }
          const cell = this.fg.addNode(item.dataset.type, this.fg.viewportCenter());
          this.panel.show([cell]);
        });
        item.addEventListener('pointerdown', (e) => {
          if (e.button !== 0) return;
          drag = { item: item, x: e.clientX, y: e.clientY, ghost: null, id: e.pointerId };
        });
      });
      document.addEventListener('pointermove', (e) => {
        if (!drag || e.pointerId !== drag.id) return;
        if (!drag.ghost && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 6) return;
        if (!drag.ghost) {
          drag.ghost = drag.item.cloneNode(true);
          drag.ghost.classList.add('pal-ghost');
          document.body.append(drag.ghost);
        }
        drag.ghost.style.left = e.clientX - 40 + 'px';
        drag.ghost.style.top = e.clientY - 16 + 'px';
        e.preventDefault();
      });
      const end = (e) => {
        if (!drag || e.pointerId !== drag.id) return;
        const d = drag;
        drag = null;
        if (!d.ghost) return;
        d.ghost.remove();
        d.item.dataset.dragged = '1';
        setTimeout(() => delete d.item.dataset.dragged, 0);
        const r = canvas.getBoundingClientRect();
        if (e.type === 'pointerup' && e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom) {
          // Dropped on an exit stub: the new node is connected from that exit.
          const hit = document.elementFromPoint(e.clientX, e.clientY);
          const stub = hit && hit.closest ? hit.closest('#graph .exit-stub') : null;
          const owner = stub && stub.closest('[data-cell-id]');
          const exit = stub ? stub.getAttribute('data-exit') || '' : '';
          const cell = (owner && !exit.startsWith('+') && this.fg.dropOnExit(d.item.dataset.type, owner.getAttribute('data-cell-id'), exit, e.clientY)) ||
            this.fg.dropAt(d.item.dataset.type, e.clientX, e.clientY);
          this.panel.show([cell]);
        }
      };
      document.addEventListener('pointerup', end);
      document.addEventListener('pointercancel', end);
    }

    wireSettings() {
      this.settings = document.getElementById('dlg-settings');
      const done = () => {
        const name = { zh: document.getElementById('set-name-zh').value.trim(), en: document.getElementById('set-name-en').value.trim() };
        const filter = document.getElementById('set-filter').value.trim();
        // Keep the trigger's other settings (from/to, fields, schedule) that this dialog
        // does not edit.
        const trigger = Object.assign({}, this.base.trigger || {}, { event: document.getElementById('set-event').value });
        delete trigger.filter;
        if (filter) trigger.filter = filter;
        const concurrency = document.getElementById('set-concurrency').value;
        delete trigger.concurrency;
        if (concurrency && concurrency !== 'parallel') trigger.concurrency = concurrency;
        const group = document.getElementById('set-group').value.trim();
        if (group) {
          trigger.exclusive_group = group;
          trigger.group_priority = parseInt(document.getElementById('set-priority').value, 10) || 0;
        }
        this.base = Object.assign({}, this.base, { name: OF.nameValue(name) || OF.config.key, trigger: trigger });
        document.getElementById('flow-name').textContent = OF.localName(name, OF.config.key);
        this.settings.close();
        this.changed();
      };
      this.settings.querySelector('[value=ok]').addEventListener('click', done);
    }

    openSettings() {
      const name = this.base.name || {};
      document.getElementById('set-name-zh').value = typeof name === 'string' ? name : name.zh || '';
      document.getElementById('set-name-en').value = typeof name === 'string' ? name : name.en || '';
      const trig = this.base.trigger || {};
      document.getElementById('set-event').value = trig.event || 'order.created';
      document.getElementById('set-concurrency').value = trig.concurrency || 'parallel';
      document.getElementById('set-group').value = trig.exclusive_group || '';
      document.getElementById('set-priority').value = trig.group_priority || 0;
      const root = this.settings.querySelector('.dsl-editor');
      root.querySelector('.dsl-input').value = trig.filter || '';
      if (!root._field) root._field = new OF.ConditionField(root, { kind: 'condition', nodeType: '', path: 'trigger.filter' });
      else root._field.start();
      this.settings.querySelectorAll('input, select, textarea, button:not([value])').forEach((x) => { x.disabled = !OF.config.canEdit; });
      this.settings.showModal();
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    const shell = document.getElementById('editor');
    const cfg = document.getElementById('editor-config');
    if (!shell || !cfg) return;
    OF.config = JSON.parse(cfg.textContent);
    OF.lang = OF.config.lang;
    OF.editor = new Editor(shell);
  });
})();
