/* Decision-table grid: rows and columns, hit policy, paste from Excel/CSV, inline findings. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});
  const POLICIES = ['first', 'unique', 'priority', 'collect', 'rule_order'];
  const POLICY_ZH = { first: '首个命中', unique: '唯一命中', priority: '优先级', collect: '全部收集', rule_order: '按行顺序' };
  const TYPES = ['string', 'number', 'boolean', 'date', 'datetime', 'duration'];

  function blank() {
    return { hit_policy: 'first', inputs: [{ name: 'amount', expression: 'order.amount' }], outputs: [{ name: 'result', type: 'string' }], rules: [{ inputs: ['-'], outputs: ['""'] }] };
  }

  /* Pasted spreadsheet cells: bare words become quoted text ("gold"), lists stay lists. */
  function normalizeCell(text) {
    const s = text.trim();
    if (!s || s === '-') return s || '-';
    if (/^(true|false|null)$/.test(s) || /^-?\d+(\.\d+)?$/.test(s)) return s;
    if (/^[\[\(<>=!"']|^not\(|\.\.|\(/.test(s)) return s;
    return s.split(/[,，]/).map((p) => p.trim()).filter(Boolean).map((p) => (/^-?\d+(\.\d+)?$/.test(p) ? p : JSON.stringify(p))).join(', ');
  }

  function parseClipboard(text) {
    const rows = text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n');
    const sep = text.includes('\t') ? '\t' : ',';
    return rows.map((line) => {
      if (sep === '\t') return line.split('\t');
      const out = []; let cur = ''; let q = false;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (q) { if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c; }
        else if (c === '"') q = true; else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
      }
      out.push(cur);
      return out;
    });
  }

  class TableGrid {
    constructor(root, hidden, onChange) {
      this.root = root;
      this.hidden = hidden;
      this.onChange = onChange;
      try { this.t = JSON.parse(hidden.value || '{}'); } catch (e) { this.t = {}; }
      if (!this.t.inputs) this.t = Object.assign(blank(), this.t);
      this.analysis = null;
      this.analyze = OF.debounce(() => this.runAnalysis(), 600);
      root.addEventListener('input', (e) => this.edit(e));
      root.addEventListener('change', (e) => this.edit(e));
      root.addEventListener('click', (e) => this.click(e));
      root.addEventListener('paste', (e) => this.paste(e));
      this.render();
      this.runAnalysis();
    }

    render() {
      const t = this.t, zh = OF.lang === 'zh';
      const nin = t.inputs.length, nout = t.outputs.length;
      const bad = new Map();
      for (const e of (this.analysis && this.analysis.errors) || []) {
        const loc = e.location || {};
        if (loc.part && loc.row != null) bad.set(loc.part + ':' + loc.row + ':' + loc.column, e);
        if (loc.part && loc.row == null && loc.column != null) bad.set(loc.part + ':h:' + loc.column, e);
      }
      const flagged = new Set();
      for (const f of (this.analysis && this.analysis.findings) || []) for (const r of f.rows) flagged.add(r);
      let h = '<div class="dt-top"><label>' + OF.esc(OF.t('hit_policy')) + ' <select class="dt-policy">' +
        POLICIES.map((p) => '<option value="' + p + '"' + (p === t.hit_policy ? ' selected' : '') + '>' + (zh ? POLICY_ZH[p] : p) + '</option>').join('') + '</select></label>' +
        '<button type="button" class="btn secondary small" data-dt="add-input">+ ' + OF.esc(OF.t('add_input')) + '</button>' +
        '<button type="button" class="btn secondary small" data-dt="add-output">+ ' + OF.esc(OF.t('add_output')) + '</button></div>';
      h += '<div class="dt-scroll"><table class="dt"><thead><tr><th class="dt-idx">#</th>';
      t.inputs.forEach((c, i) => {
        const err = bad.get('input:h:' + i);
        h += '<th class="dt-in' + (err ? ' dt-bad' : '') + '"><input class="dt-h" data-part="inputs" data-col="' + i + '" data-key="name" value="' + OF.esc(c.name) + '" aria-label="' + OF.esc(OF.t('name')) + '">' +
          '<input class="dt-h mono" data-part="inputs" data-col="' + i + '" data-key="expression" value="' + OF.esc(c.expression) + '" aria-label="' + OF.esc(OF.t('expression')) + '">' +
          this.colTools('inputs', i, nin) + '</th>';
      });
      t.outputs.forEach((c, i) => {
        h += '<th class="dt-out"><input class="dt-h" data-part="outputs" data-col="' + i + '" data-key="name" value="' + OF.esc(c.name) + '" aria-label="' + OF.esc(OF.t('name')) + '">' +
          '<select class="dt-h" data-part="outputs" data-col="' + i + '" data-key="type" aria-label="' + OF.esc(OF.t('type')) + '">' + TYPES.map((x) => '<option value="' + x + '"' + (x === c.type ? ' selected' : '') + '>' + OF.esc((OF.i18n.field_types || {})[x] || x) + '</option>').join('') + '</select>' +
          this.colTools('outputs', i, nout) + '</th>';
      });
      h += '<th>' + OF.esc(OF.t('description')) + '</th><th></th></tr></thead><tbody>';
      t.rules.forEach((r, ri) => {
        h += '<tr class="' + (flagged.has(ri) ? 'dt-flag' : '') + '" data-row="' + ri + '"><td class="dt-idx">' + (ri + 1) + '</td>';
        for (let i = 0; i < nin; i++) {
          const err = bad.get('input:' + ri + ':' + i);
          h += '<td' + (err ? ' class="dt-bad" title="' + OF.esc(zh ? err.message_zh : err.message) + '"' : '') + '><input class="dt-cell mono" translate="no" data-row="' + ri + '" data-part="inputs" data-col="' + i + '" value="' + OF.esc((r.inputs || [])[i] ?? '-') + '" aria-label="' + OF.esc(OF.t('row') + ' ' + (ri + 1) + ' ' + t.inputs[i].name) + '"></td>';
        }
        for (let i = 0; i < nout; i++) {
          const err = bad.get('output:' + ri + ':' + i);
          h += '<td class="dt-outcell' + (err ? ' dt-bad' : '') + '"' + (err ? ' title="' + OF.esc(zh ? err.message_zh : err.message) + '"' : '') + '><input class="dt-cell mono" translate="no" data-row="' + ri + '" data-part="outputs" data-col="' + i + '" value="' + OF.esc((r.outputs || [])[i] ?? '') + '" aria-label="' + OF.esc(OF.t('row') + ' ' + (ri + 1) + ' ' + t.outputs[i].name) + '"></td>';
        }
        h += '<td><input class="dt-cell" data-row="' + ri + '" data-part="description" value="' + OF.esc(r.description || '') + '" aria-label="' + OF.esc(OF.t('description')) + '"></td>';
        h += '<td class="dt-rowtools"><button type="button" class="icon" data-dt="row-up" data-row="' + ri + '" aria-label="' + OF.esc(OF.t('move_up')) + '"' + (ri ? '' : ' disabled') + '>↑</button>' +
          '<button type="button" class="icon" data-dt="row-down" data-row="' + ri + '" aria-label="' + OF.esc(OF.t('move_down')) + '"' + (ri < t.rules.length - 1 ? '' : ' disabled') + '>↓</button>' +
          '<button type="button" class="icon danger" data-dt="row-del" data-row="' + ri + '" aria-label="' + OF.esc(OF.t('remove')) + '">✕</button></td></tr>';
      });
      h += '</tbody></table></div><div class="dt-bottom"><button type="button" class="btn secondary small" data-dt="add-row">+ ' + OF.esc(OF.t('add_row')) + '</button><span class="muted small">' + OF.esc(OF.t('paste_hint')) + '</span></div>';
      h += '<div class="dt-findings" aria-live="polite">' + this.findingsHtml() + '</div>';
      const focus = document.activeElement && this.root.contains(document.activeElement) ? this.focusKey(document.activeElement) : null;
      this.root.innerHTML = h;
      if (focus) { const el = this.root.querySelector(focus); if (el) { el.focus(); } }
    }

    focusKey(el) {
      const d = el.dataset;
      if (!d.part) return null;
      return '[data-part="' + d.part + '"]' + (d.row != null ? '[data-row="' + d.row + '"]' : ':not([data-row])') + (d.col != null ? '[data-col="' + d.col + '"]' : '') + (d.key ? '[data-key="' + d.key + '"]' : '');
    }

    colTools(part, i, n) {
      return '<span class="dt-coltools"><button type="button" class="icon" data-dt="col-left" data-part="' + part + '" data-col="' + i + '"' + (i ? '' : ' disabled') + ' aria-label="' + OF.esc(OF.t('move_left')) + '">←</button>' +
        '<button type="button" class="icon" data-dt="col-right" data-part="' + part + '" data-col="' + i + '"' + (i < n - 1 ? '' : ' disabled') + ' aria-label="' + OF.esc(OF.t('move_right')) + '">→</button>' +
        '<button type="button" class="icon danger" data-dt="col-del" data-part="' + part + '" data-col="' + i + '"' + (n > 1 ? '' : ' disabled') + ' aria-label="' + OF.esc(OF.t('remove')) + '">✕</button></span>';
    }

    findingsHtml() {
      const a = this.analysis;
      if (!a) return '';
      const zh = OF.lang === 'zh';
      if (a.errors && a.errors.length) {
        return '<ul class="dt-list bad">' + a.errors.map((e) => '<li>' + OF.esc(zh ? e.message_zh : e.message) + (e.excerpt ? '<pre class="caret">' + OF.esc(e.excerpt) + '</pre>' : '') + '</li>').join('') + '</ul>';
      }
      const win = this.window || '7d';
      let h = '<h4>' + OF.esc(OF.t('findings')) + ' <select class="dt-window" aria-label="' + OF.esc(OF.t('win_label')) + '">' +
        ['24h', '7d', '30d', 'all'].map((w) => '<option value="' + w + '"' + (w === win ? ' selected' : '') + '>' + OF.esc(OF.t('win_' + w)) + '</option>').join('') + '</select></h4>';
      if (!a.findings.length) h += '<p class="ok-text">✓ ' + OF.esc(OF.t('no_findings')) + '</p>';
      h += '<ul class="dt-list">' + a.findings.map((f) => {
        const count = f.orders == null ? OF.t('orders_unknown') : OF.t('orders_fell', { n: f.orders, total: a.orders });
        const ch = (f.channels || []).map((c) => c.channel + ' ' + c.orders).join(', ');
        return '<li class="dt-f dt-f-' + f.kind + '" data-rows="' + f.rows.join(',') + '"><span class="tag">' + OF.esc(OF.t('finding_' + f.kind)) + '</span> ' + OF.esc(zh ? f.message_zh : f.message) +
          '<div class="dt-count"><strong>' + OF.esc(count) + '</strong>' + (ch ? ' <span class="muted">(' + OF.esc(ch) + ')</span>' : '') + '</div></li>';
      }).join('') + '</ul>';
      h += '<p class="muted small">' + OF.esc(OF.t('checked_orders', { n: a.orders })) + (a.unmatched ? ' ' + OF.esc(OF.t('unmatched', { n: a.unmatched })) + '.' : '') + '</p>';
      return h;
    }

    edit(e) {
      const el = e.target, d = el.dataset, t = this.t;
      if (el.classList.contains('dt-window')) { if (e.type === 'change') { this.window = el.value; this.runAnalysis(); } return; }
      if (el.classList.contains('dt-policy')) { t.hit_policy = el.value; return this.changed(true); }
      if (el.classList.contains('dt-h')) { t[d.part][+d.col][d.key] = el.value; return this.changed(e.type === 'change'); }
      if (el.classList.contains('dt-cell')) {
        const r = t.rules[+d.row];
        if (d.part === 'description') { if (el.value) r.description = el.value; else delete r.description; }
        else r[d.part][+d.col] = el.value;
        return this.changed(false);
      }
    }

    click(e) {
      const b = e.target.closest('[data-dt]');
      if (!b) return;
      const t = this.t, d = b.dataset, row = +d.row, col = +d.col;
      const swap = (arr, i, j) => { const x = arr[i]; arr[i] = arr[j]; arr[j] = x; };
      switch (d.dt) {
        case 'add-row': t.rules.push({ inputs: t.inputs.map(() => '-'), outputs: t.outputs.map(() => '""') }); break;
        case 'row-del': t.rules.splice(row, 1); break;
        case 'row-up': swap(t.rules, row, row - 1); break;
        case 'row-down': swap(t.rules, row, row + 1); break;
        case 'add-input': t.inputs.push({ name: 'input_' + (t.inputs.length + 1), expression: 'order.channel' }); t.rules.forEach((r) => r.inputs.push('-')); break;
        case 'add-output': t.outputs.push({ name: 'output_' + (t.outputs.length + 1), type: 'string' }); t.rules.forEach((r) => r.outputs.push('""')); break;
        case 'col-del': t[d.part].splice(col, 1); t.rules.forEach((r) => r[d.part].splice(col, 1)); break;
        case 'col-left': swap(t[d.part], col, col - 1); t.rules.forEach((r) => swap(r[d.part], col, col - 1)); break;
        case 'col-right': swap(t[d.part], col, col + 1); t.rules.forEach((r) => swap(r[d.part], col, col + 1)); break;
      }
      this.changed(true);
    }

    paste(e) {
      const el = e.target;
      if (!el.classList.contains('dt-cell') || el.dataset.part === 'description') return;
      const text = (e.clipboardData || window.clipboardData).getData('text');
      if (!/[\t\n]/.test(text) && !(text.includes(',') && text.includes('\n'))) return;
      e.preventDefault();
      const grid = parseClipboard(text);
      const t = this.t, startRow = +el.dataset.row;
      const cols = t.inputs.length + t.outputs.length;
      let startCol = +el.dataset.col + (el.dataset.part === 'outputs' ? t.inputs.length : 0);
      grid.forEach((cells, i) => {
        const ri = startRow + i;
        while (t.rules.length <= ri) t.rules.push({ inputs: t.inputs.map(() => '-'), outputs: t.outputs.map(() => '""') });
        cells.forEach((cell, j) => {
          const c = startCol + j;
          if (c >= cols) return;
          const v = normalizeCell(cell);
          if (c < t.inputs.length) t.rules[ri].inputs[c] = v; else t.rules[ri].outputs[c - t.inputs.length] = v;
        });
      });
      this.changed(true);
    }

    changed(rerender) {
      this.hidden.value = JSON.stringify(this.t);
      if (rerender) this.render();
      this.onChange();
      this.analyze();
    }

    async runAnalysis() {
      const r = await OF.api(OF.config.urls.table, { method: 'POST', body: { table: this.t, window: this.window || '7d' } });
      if (!r.ok) return;
      this.analysis = r.data;
      this.render();
    }
  }

  OF.TableGrid = TableGrid;
  OF.normalizeCell = normalizeCell;
})();
