/* The no-code condition builder: fields with Chinese labels, operators, values, and/or groups.
   It writes the rule DSL through the server, and reads DSL back into its tree. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});
  const OPS_BY_TYPE = {
    number: ['==', '!=', '>', '>=', '<', '<=', 'in', 'not_in', 'is_null', 'is_not_null'],
    integer: ['==', '!=', '>', '>=', '<', '<=', 'in', 'not_in', 'is_null', 'is_not_null'],
    string: ['==', '!=', 'in', 'not_in', 'contains', 'starts_with', 'ends_with', 'is_null', 'is_not_null'],
    enum: ['==', '!=', 'in', 'not_in', 'is_null', 'is_not_null'],
    boolean: ['==', '!=', 'is_null', 'is_not_null'],
    datetime: ['>', '>=', '<', '<=', '==', '!=', 'is_null', 'is_not_null'],
    date: ['>', '>=', '<', '<=', '==', '!=', 'is_null', 'is_not_null'],
  };
  const OP_KEYS = { '==': 'op_eq', '!=': 'op_ne', '>': 'op_gt', '>=': 'op_ge', '<': 'op_lt', '<=': 'op_le',
    in: 'op_in', not_in: 'op_not_in', is_null: 'op_is_null', is_not_null: 'op_is_not_null',
    contains: 'op_contains', starts_with: 'op_starts_with', ends_with: 'op_ends_with' };

  function fieldOf(path) { return (OF.config.fields || []).find((f) => f.path === path) || null; }
  function typeOf(f) { return !f ? 'string' : f.enum && f.enum.length ? 'enum' : f.type; }
  function fieldLabel(f) { return OF.lang === 'zh' ? f.label_zh + '  ' + f.path : f.path + '  ' + f.label_zh; }

  class ConditionBuilder {
    constructor(root, onChange) {
      this.root = root;
      this.onChange = onChange;
      this.tree = { op: 'and', items: [] };
      root.addEventListener('change', (e) => this.read(e));
      root.addEventListener('input', OF.debounce((e) => { if (e.target.matches('input[type=text]')) this.read(e); }, 400));
      root.addEventListener('click', (e) => this.click(e));
    }

    set(tree) { this.tree = tree && tree.items ? tree : { op: 'and', items: [] }; this.render(); }

    render() {
      this.root.innerHTML = this.group(this.tree, '', 0);
    }

    group(g, path, depth) {
      const rows = (g.items || []).map((item, i) => {
        const p = (path ? path + '.' : '') + i;
        return item.items ? '<div class="cb-sub">' + this.group(item, p, depth + 1) + '</div>' : this.rule(item, p);
      }).join('');
      return '<div class="cb-group" data-path="' + path + '">' +
        '<div class="cb-head"><select class="cb-op" data-path="' + path + '" aria-label="' + OF.esc(OF.t('operator')) + '">' +
        '<option value="and"' + (g.op === 'and' ? ' selected' : '') + '>' + OF.esc(OF.t('all_of')) + '</option>' +
        '<option value="or"' + (g.op === 'or' ? ' selected' : '') + '>' + OF.esc(OF.t('any_of')) + '</option></select>' +
        (depth ? '<button type="button" class="icon danger" data-cb="remove" data-path="' + path + '" aria-label="' + OF.esc(OF.t('remove')) + '">✕</button>' : '') +
        '</div>' + rows +
        '<div class="cb-actions"><button type="button" class="btn secondary small" data-cb="add-rule" data-path="' + path + '">+ ' + OF.esc(OF.t('add_condition')) + '</button>' +
        (depth < 3 ? '<button type="button" class="btn secondary small" data-cb="add-group" data-path="' + path + '">+ ' + OF.esc(OF.t('add_group')) + '</button>' : '') +
        '</div></div>';
    }

    rule(r, path) {
      const f = fieldOf(r.field);
      const type = typeOf(f);
      const ops = OPS_BY_TYPE[type] || OPS_BY_TYPE.string;
      const groups = {};
      for (const fld of OF.config.fields || []) {
        const g = fld.label_zh.split('.')[0];
        (groups[g] = groups[g] || []).push(fld);
      }
      let fieldSel = '<select class="cb-field" aria-label="' + OF.esc(OF.t('field')) + '"><option value="">—</option>';
      for (const [g, list] of Object.entries(groups)) {
        fieldSel += '<optgroup label="' + OF.esc(g) + '">' + list.map((x) => '<option value="' + x.path + '"' + (x.path === r.field ? ' selected' : '') + '>' + OF.esc(fieldLabel(x)) + '</option>').join('') + '</optgroup>';
      }
      fieldSel += '</select>';
      const opSel = '<select class="cb-cmp" aria-label="' + OF.esc(OF.t('operator')) + '">' + ops.map((o) => '<option value="' + o + '"' + (o === r.cmp ? ' selected' : '') + '>' + OF.esc(OF.t(OP_KEYS[o])) + '</option>').join('') + '</select>';
      return '<div class="cb-rule" data-path="' + path + '">' + fieldSel + opSel + this.valueInput(r, f, type) +
        '<button type="button" class="icon danger" data-cb="remove" data-path="' + path + '" aria-label="' + OF.esc(OF.t('remove')) + '">✕</button></div>';
    }

    valueInput(r, f, type) {
      const cmp = r.cmp;
      if (cmp === 'is_null' || cmp === 'is_not_null') return '<span class="cb-novalue"></span>';
      const label = ' aria-label="' + OF.esc(OF.t('value')) + '"';
      if (type === 'enum' && (cmp === 'in' || cmp === 'not_in')) {
        const chosen = Array.isArray(r.value) ? r.value : [];
        return '<span class="cb-value cb-multi">' + f.enum.map((v) => '<label><input type="checkbox" value="' + OF.esc(v) + '"' + (chosen.includes(v) ? ' checked' : '') + '> ' + OF.esc(v) + '</label>').join('') + '</span>';
      }
      if (type === 'enum') {
        return '<select class="cb-value"' + label + '><option value="">—</option>' + f.enum.map((v) => '<option' + (v === r.value ? ' selected' : '') + '>' + OF.esc(v) + '</option>').join('') + '</select>';
      }
      if (type === 'boolean') {
        const v = r.value === true || r.value === 'true';
        return '<select class="cb-value"' + label + '><option value="true"' + (v ? ' selected' : '') + '>' + OF.esc(OF.t('yes')) + ' (true)</option><option value="false"' + (!v ? ' selected' : '') + '>' + OF.esc(OF.t('no')) + ' (false)</option></select>';
      }
      const val = Array.isArray(r.value) ? r.value.join(', ') : r.value == null ? '' : r.value;
      const ph = cmp === 'in' || cmp === 'not_in' ? ' placeholder="' + OF.esc(OF.t('values_hint')) + '"' : type === 'datetime' ? ' placeholder="2026-01-31T10:00:00+08:00"' : '';
      const mode = type === 'number' || type === 'integer' ? ' inputmode="decimal"' : '';
      return '<input type="text" class="cb-value"' + label + mode + ph + ' value="' + OF.esc(val) + '">';
    }

    at(path) {
      if (path === '') return this.tree;
      let node = this.tree;
      for (const i of path.split('.')) node = node.items[+i];
      return node;
    }
    parentOf(path) {
      const parts = path.split('.');
      const idx = +parts.pop();
      return [this.at(parts.join('.')), idx];
    }

    read(e) {
      const t = e.target;
      if (t.classList.contains('cb-op')) { this.at(t.dataset.path).op = t.value; return this.changed(); }
      const row = t.closest('.cb-rule');
      if (!row) return;
      const r = this.at(row.dataset.path);
      if (t.classList.contains('cb-field')) {
        r.field = t.value;
        const ops = OPS_BY_TYPE[typeOf(fieldOf(r.field))] || OPS_BY_TYPE.string;
        if (!ops.includes(r.cmp)) r.cmp = ops[0];
        r.value = typeOf(fieldOf(r.field)) === 'boolean' ? true : '';
        this.render();
      } else if (t.classList.contains('cb-cmp')) {
        const wasList = Array.isArray(r.value);
        r.cmp = t.value;
        const isList = r.cmp === 'in' || r.cmp === 'not_in';
        if (isList && !wasList) r.value = r.value ? [r.value] : [];
        if (!isList && wasList) r.value = r.value[0] || '';
        this.render();
      } else if (t.closest('.cb-multi')) {
        r.value = Array.from(row.querySelectorAll('.cb-multi input:checked')).map((c) => c.value);
      } else if (t.classList.contains('cb-value')) {
        r.value = r.cmp === 'in' || r.cmp === 'not_in' ? t.value.split(',').map((s) => s.trim()).filter(Boolean) : t.value;
      }
      this.changed();
    }

    click(e) {
      const b = e.target.closest('[data-cb]');
      if (!b) return;
      const path = b.dataset.path;
      if (b.dataset.cb === 'add-rule') this.at(path).items.push({ field: 'order.amount', cmp: '>=', value: '' });
      if (b.dataset.cb === 'add-group') this.at(path).items.push({ op: 'or', items: [{ field: 'order.channel', cmp: '==', value: '' }] });
      if (b.dataset.cb === 'remove') { const [p, i] = this.parentOf(path); p.items.splice(i, 1); }
      this.render();
      this.changed();
      const focus = this.root.querySelector('.cb-rule:last-of-type .cb-value');
      if (b.dataset.cb === 'add-rule' && focus) focus.focus();
    }

    changed() { this.onChange(this.tree); }
  }

  /* A DSL field that can also be edited with the builder (conditions only). */
  class ConditionField {
    constructor(root, opts) {
      this.root = root;
      this.opts = opts;
      this.dsl = new OF.DslField(root, Object.assign({}, opts, {
        onInput: (v) => { if (opts.onInput) opts.onInput(v); },
        onChecked: (data) => { if (data.builder && data.builder.tree) this.tree = data.builder.tree; },
      }));
      this.builderEl = root.querySelector('.cond-builder');
      this.textEl = root.querySelector('.dsl-text');
      this.builder = this.builderEl ? new ConditionBuilder(this.builderEl, (tree) => this.fromBuilder(tree)) : null;
      this.writeSeq = 0;
      const modes = root.querySelector('.dsl-modes');
      if (modes) {
        modes.querySelector('.mode-builder').addEventListener('click', () => this.mode('builder'));
        modes.querySelector('.mode-text').addEventListener('click', () => this.mode('text'));
        this.start();
      }
    }

    async start() {
      const source = this.dsl.value;
      if (!source.trim()) { this.builder.set({ op: 'and', items: [{ field: 'order.amount', cmp: '>=', value: '' }] }); return this.mode('builder', true); }
      const r = await OF.api(OF.config.urls.fromDsl, { method: 'POST', body: { source: source } });
      if (r.ok && r.data.tree) { this.builder.set(r.data.tree); this.mode('builder', true); } else this.mode('text', true);
    }

    async mode(which, quiet) {
      const tabs = this.root.querySelectorAll('.dsl-modes [role=tab]');
      if (which === 'builder' && !quiet) {
        const source = this.dsl.value;
        if (source.trim()) {
          const r = await OF.api(OF.config.urls.fromDsl, { method: 'POST', body: { source: source } });
          if (!r.ok || !r.data.tree) { this.notice(OF.t('builder_unavailable')); return; }
          this.builder.set(r.data.tree);
        } else {
          this.builder.set({ op: 'and', items: [{ field: 'order.amount', cmp: '>=', value: '' }] });
        }
      }
      this.notice('');
      this.writeSeq++;
      this.root.dataset.mode = which;
      tabs[0].setAttribute('aria-selected', String(which === 'builder'));
      tabs[1].setAttribute('aria-selected', String(which === 'text'));
      this.builderEl.hidden = which !== 'builder';
    }

    notice(text) {
      let n = this.root.querySelector('.dsl-notice');
      if (!n) { n = document.createElement('div'); n.className = 'dsl-notice'; this.root.querySelector('.dsl-modes').after(n); }
      n.textContent = text;
      n.hidden = !text;
    }

    async fromBuilder(tree) {
      if (this.root.dataset.mode === 'text') return;
      const seq = ++this.writeSeq;
      const r = await OF.api(OF.config.urls.toDsl, { method: 'POST', body: { tree: tree } });
      // The text may have been taken over meanwhile: never write over what was typed there.
      if (seq !== this.writeSeq || this.root.dataset.mode === 'text') return;
      if (!r.ok) { this.dsl.showErrors([{ message: OF.errorText(r), message_zh: OF.errorText(r) }]); return; }
      this.dsl.value = r.data.source;
      this.dsl.showErrors(r.data.errors);
      this.dsl.check();
      if (this.opts.onInput) this.opts.onInput(r.data.source);
    }
  }

  OF.ConditionBuilder = ConditionBuilder;
  OF.ConditionField = ConditionField;
})();
