/* Simulator, backtest and publish dialogs of the flow editor. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});
  const json = (v) => OF.esc(JSON.stringify(v, null, 0));

  function sampleOrder() {
    const v = (id) => document.getElementById(id).value;
    const amount = v('sim-amount').trim() || '0';
    const now = new Date();
    // The order is stamped in the company's time zone, as a store there would stamp it.
    const offset = OF.config.utcOffsetMinutes || 0;
    const abs = Math.abs(offset);
    const sign = offset < 0 ? '-' : '+';
    const pad = (n) => String(n).padStart(2, '0');
    const stamp = new Date(now.getTime() + offset * 60000).toISOString().slice(0, 19) + sign + pad(Math.floor(abs / 60)) + ':' + pad(abs % 60);
    return {
      external_id: 'SIM-' + now.getTime(), channel: v('sim-channel'), status: 'paid', currency: 'CNY',
      amount: Number(amount), created_at: stamp, urgent: false,
      customer: { id: 'C-SIM', name: '模拟客户', tier: v('sim-tier'), credit_limit: 1000000, outstanding: 0, payment_terms: 'net30' },
      lines: [{ sku: 'SKU-SIM-1', name: '样品', qty: 1, price: Number(amount), category: 'general', weight: 1 }],
      shipping_address: { country: 'CN', province: v('sim-province'), city: '' },
    };
  }

  class Simulator {
    constructor(editor) {
      this.ed = editor;
      this.report = null;
      this.form = document.getElementById('sim-form');
      this.result = document.getElementById('sim-result');
      this.events = document.getElementById('sim-events');
      this.form.addEventListener('change', (e) => {
        if (e.target.name === 'sim-source') {
          this.form.querySelectorAll('.sim-src').forEach((s) => { s.hidden = s.dataset.src !== e.target.value; });
        }
      });
      document.getElementById('sim-json').value = JSON.stringify(sampleOrder(), null, 2);
      this.form.querySelectorAll('[data-add-event]').forEach((b) => b.addEventListener('click', () => this.addEvent(b.dataset.addEvent)));
      this.events.addEventListener('click', (e) => { if (e.target.matches('.ev-remove')) e.target.closest('.ev-row').remove(); });
      document.getElementById('sim-run').addEventListener('click', () => this.run());
      // Enter in a one-line field of the order runs the simulation, as the button does.
      this.form.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter' || e.target.tagName !== 'INPUT' || e.target.type === 'checkbox') return;
        e.preventDefault();
        this.run();
      });
      document.getElementById('sim-clear').addEventListener('click', () => this.clear());
      const send = document.getElementById('sim-send');
      if (send) send.addEventListener('click', () => this.sendTestOrder());
      this.result.addEventListener('click', (e) => {
        const n = e.target.closest('[data-node]');
        if (n && n.tagName !== 'DETAILS') this.ed.fg.selectOnly(n.dataset.node);
      });
    }

    addEvent(kind) {
      const row = document.createElement('div');
      row.className = 'ev-row';
      row.dataset.kind = kind;
      const approvals = this.ed.fg.graph.getNodes().filter((n) => n.getData().type === 'approval');
      let h = '';
      if (kind === 'approval') {
        h = '<span>' + OF.esc(OF.t('event_approval')) + '</span><select class="ev-node" aria-label="' + OF.esc(OF.t('node')) + '">' + approvals.map((n) => '<option value="' + OF.esc(n.id) + '">' + OF.esc(this.ed.fg.nodeMeta(n.getData()).title) + '</option>').join('') + '</select>' +
          '<select class="ev-decision" aria-label="' + OF.esc(OF.t('decision')) + '"><option value="approved">' + OF.esc(OF.t('approved')) + '</option><option value="rejected">' + OF.esc(OF.t('rejected')) + '</option></select>';
      } else if (kind === 'advance') {
        h = '<span>' + OF.esc(OF.t('event_advance')) + '</span><input class="ev-by" type="text" value="25h" size="6" aria-label="' + OF.esc(OF.t('event_advance')) + '">';
      } else {
        h = '<span>' + OF.esc(OF.t('event_external')) + '</span><input class="ev-name" type="text" value="shipped" size="10" aria-label="' + OF.esc(OF.t('name')) + '">';
      }
      row.innerHTML = h + '<button type="button" class="icon danger ev-remove" aria-label="' + OF.esc(OF.t('remove')) + '">✕</button>';
      this.events.append(row);
    }

    scripted() {
      return Array.from(this.events.querySelectorAll('.ev-row')).map((row) => {
        const q = (s) => row.querySelector(s).value;
        if (row.dataset.kind === 'approval') return { type: 'approval_decided', node: q('.ev-node'), decision: q('.ev-decision'), actor: 'simulator' };
        if (row.dataset.kind === 'advance') return { type: 'advance', by: q('.ev-by') };
        return { type: 'external_event', name: q('.ev-name'), payload: {} };
      });
    }

    source() {
      const src = this.form.querySelector('input[name=sim-source]:checked').value;
      if (src === 'past') return { order_id: document.getElementById('sim-order').value || null };
      if (src === 'json') {
        try { return { order: JSON.parse(document.getElementById('sim-json').value) }; } catch (e) { return { error: OF.t('invalid_json') }; }
      }
      return { order: sampleOrder() };
    }

    async run() {
      const src = this.source();
      if (src.error) { this.result.innerHTML = '<p class="error">' + OF.esc(src.error) + '</p>'; return; }
      this.result.innerHTML = '<p class="muted">' + OF.esc(OF.t('sim_running')) + '</p>';
      const body = Object.assign({ doc: this.ed.currentDoc(), events: this.scripted() }, src);
      const r = await OF.api(OF.config.urls.simulate, { method: 'POST', body: body });
      if (!r.ok) { this.showError(r); return; }
      this.report = r.data;
      this.ed.fg.showPath(r.data.steps || []);
      this.ed.fg.fit();
      this.render();
    }

    showError(r) {
      const details = (r.data && r.data.error && r.data.error.details) || [];
      const zh = OF.lang === 'zh';
      const item = (d) => {
        const field = zh ? d.field_zh || d.field : d.field;
        const message = zh ? d.message_zh || d.message : d.message || JSON.stringify(d);
        const where = d.path ? '<code>' + OF.esc(d.path) + '</code> ' : '';
        // An order's problem (it has a rule) names the field, what is accepted and an example.
        if (d.rule) return '<li>' + where + OF.withCode(message) + '</li>';
        return '<li>' + where + OF.esc(field ? field + ': ' : '') + OF.esc(message) +
          (d.example ? ' ' + OF.esc(OF.t('accepted_eg')) + ' <code>' + OF.esc(d.example) + '</code>' : '') + '</li>';
      };
      const list = Array.isArray(details) ? details.map(item).join('') : '';
      this.result.innerHTML = '<div class="error"><p>' + OF.esc(OF.errorText(r)) + '</p>' + (list ? '<ul>' + list + '</ul>' : '') + '</div>';
    }

    render() {
      const rep = this.report;
      const names = (id) => { const c = this.ed.fg.graph.getCellById(id); return c ? this.ed.fg.nodeMeta(c.getData()).title : id; };
      let h = '<div class="sim-summary" data-status="' + OF.esc(rep.status) + '"><div><span class="muted">' + OF.esc(OF.t('sim_status')) + '</span> <strong class="sim-status">' + OF.esc(OF.runStatus(rep.status)) + '</strong></div>';
      if (rep.outcome) h += '<div><span class="muted">' + OF.esc(OF.t('sim_outcome')) + '</span> <strong class="sim-outcome">' + OF.esc(rep.outcome) + '</strong></div>';
      const pending = (rep.pending || []).map((p) => names(p.node)).join(', ');
      if (pending) h += '<div><span class="muted">' + OF.esc(OF.t('sim_waiting')) + '</span> <strong>' + OF.esc(pending) + '</strong></div>';
      if (rep.excluded_by) h += '<div class="flash sim-excluded">' + OF.esc(OF.t('sim_excluded', { flow: rep.excluded_by })) + '</div>';
      h += '</div><ol class="sim-path" aria-label="' + OF.esc(OF.t('sim_path')) + '">' + (rep.path || []).map((id) => '<li><button type="button" class="linklike" data-node="' + OF.esc(id) + '">' + OF.esc(names(id)) + '</button></li>').join('') + '</ol>';
      h += '<div class="sim-steps">' + (rep.steps || []).map((s) => {
        const branch = s.branch == null ? '' : ' → ' + OF.branchLabel(Array.isArray(s.branch) ? s.branch.join(', ') : s.branch);
        const part = (k, v) => v && Object.keys(v).length ? '<dt>' + OF.esc(OF.t(k)) + '</dt><dd><code>' + json(v) + '</code></dd>' : '';
        return '<details class="sim-step" data-node="' + OF.esc(s.node) + '"><summary><strong>' + OF.esc(names(s.node)) + '</strong> <span class="muted">' + OF.esc((OF.i18n.events || {})[s.event] || s.event) + OF.esc(branch) + '</span></summary><dl>' +
          part('inputs_seen', s.inputs) + part('decision', s.decision) + part('changes', s.changes) + '</dl></details>';
      }).join('') + '</div>';
      if ((rep.effects || []).length) h += '<details><summary>' + OF.esc(OF.t('effects')) + ' (' + rep.effects.length + ')</summary><pre class="mono small">' + OF.esc(JSON.stringify(rep.effects, null, 1)) + '</pre></details>';
      this.result.innerHTML = h;
    }

    focusNode(id) {
      if (!this.report) return;
      let first = null;
      this.result.querySelectorAll('.sim-step').forEach((d) => { const hit = d.dataset.node === id; d.open = hit; if (hit && !first) first = d; });
      if (first) first.scrollIntoView({ block: 'nearest' });
    }

    clear() { this.report = null; this.result.innerHTML = ''; this.ed.fg.clearPath(); }

    async sendTestOrder() {
      const src = this.source();
      if (src.error) { this.result.innerHTML = '<p class="error">' + OF.esc(src.error) + '</p>'; return; }
      const r = await OF.api(OF.config.urls.testOrder, { method: 'POST', body: src });
      if (!r.ok) { this.showError(r); return; }
      this.result.innerHTML = '<p class="ok-text" data-test-order="' + r.data.order_id + '">' + OF.esc(OF.t('test_order_sent', { id: r.data.order_id, runs: r.data.runs.length })) +
        ' <a href="' + OF.esc(OF.config.urls.runs) + '">→</a></p>';
    }
  }

  class Backtest {
    /* A backtest runs as a background job: started here, its progress polled, cancellable;
       the changed orders come a page at a time and each one opens in the simulator. */
    constructor(editor) {
      this.ed = editor;
      this.job = null;
      this.page = 1;
      this.dlg = document.getElementById('dlg-backtest');
      this.out = document.getElementById('bt-result');
      this.bar = document.getElementById('bt-progress');
      this.stopBtn = document.getElementById('bt-stop');
      document.getElementById('bt-run').addEventListener('click', () => this.run());
      this.stopBtn.addEventListener('click', () => this.stop());
      this.dlg.querySelector('[value=cancel]').addEventListener('click', () => { this.dlg.close(); this.ed.fg.clearPath(); });
      this.out.addEventListener('click', (e) => {
        const open = e.target.closest('[data-simulate]');
        if (open) { this.simulate(open.dataset.simulate); return; }
        const pager = e.target.closest('[data-page]');
        if (pager) { this.showPage(parseInt(pager.dataset.page, 10)); return; }
        const row = e.target.closest('[data-path]');
        if (row) this.ed.fg.showPath(JSON.parse(row.dataset.path).map((n) => ({ node: n, event: 'node_passed', branch: '*' })));
      });
    }
    open() { this.dlg.showModal(); }
    jobUrl(tail) { return OF.config.urls.backtestJobs + this.job + (tail || ''); }
    async run() {
      clearTimeout(this.timer);
      this.out.innerHTML = '<p class="muted">' + OF.esc(OF.t('bt_running')) + '</p>';
      const last = parseInt(document.getElementById('bt-last').value, 10) || 1000;
      const r = await OF.api(OF.config.urls.backtestStart, { method: 'POST', body: { doc: this.ed.currentDoc(), last: last } });
      if (!r.ok) { this.out.innerHTML = '<p class="error">' + OF.esc(OF.errorText(r)) + '</p>'; return; }
      this.job = r.data.id;
      this.progress(r.data);
    }
    async poll() {
      const r = await OF.api(this.jobUrl());
      if (!r.ok) { this.out.innerHTML = '<p class="error">' + OF.esc(OF.errorText(r)) + '</p>'; this.stopBtn.hidden = true; return; }
      this.progress(r.data);
    }
    progress(d) {
      const active = d.status === 'queued' || d.status === 'running';
      this.bar.hidden = false;
      this.bar.max = Math.max(d.total, 1);
      this.bar.value = d.done;
      this.stopBtn.hidden = !active || d.cancel_requested;
      let h = '<p class="muted" id="bt-count">' + OF.esc(OF.t('bt_progress', { done: d.done, total: d.total })) + ' · ' + OF.esc(OF.t('bt_status_' + d.status)) + '</p>';
      if (d.stalled) h += '<p class="error">' + OF.esc(OF.t('bt_stalled')) + '</p>';
      if (d.error) h += '<p class="error">' + OF.esc(OF.t('bt_failed', { error: d.error })) + '</p>';
      h += this.summary(d);
      this.out.innerHTML = h + '<div id="bt-changes"></div>';
      if (active) { this.timer = setTimeout(() => this.poll(), 800); return; }
      this.showPage(1);
    }
    summary(d) {
      const s = d.summary;
      let h = '<p class="bt-summary"><strong>' + OF.esc(OF.t('bt_summary', { changed: s.changed, orders: s.orders })) + '</strong></p>';
      if (d.published_version == null) h += '<p class="muted">' + OF.esc(OF.t('no_live')) + '</p>';
      h += '<p>' + Object.keys(s.counts).map((k) => '<span class="tag">' + OF.esc(OF.t('bt_' + k)) + ' ' + s.counts[k] + '</span>').join(' ') + '</p>';
      if (s.workload.length) {
        h += '<h3>' + OF.esc(OF.t('bt_workload')) + '</h3><div class="table-wrap"><table class="bt-table"><thead><tr><th>' + OF.esc(OF.t('bt_who')) + '</th><th>' + OF.esc(OF.t('published')) + '</th><th>' + OF.esc(OF.t('draft')) + '</th><th>±</th></tr></thead><tbody>' +
          s.workload.slice(0, 50).map((w) => '<tr><td>' + OF.esc(OF.t('bt_kind_' + w.kind)) + ' ' + OF.esc(w.who) + '</td><td>' + w.before + '</td><td>' + w.after + '</td><td>' + (w.delta > 0 ? '+' : '') + w.delta + '</td></tr>').join('') + '</tbody></table></div>';
      }
      return h;
    }
    async showPage(page) {
      const box = document.getElementById('bt-changes');
      if (!box || !this.job) return;
      const r = await OF.api(this.jobUrl('/changes?page=' + page));
      if (!r.ok) { box.innerHTML = '<p class="error">' + OF.esc(OF.errorText(r)) + '</p>'; return; }
      const d = r.data;
      this.page = d.page;
      if (!d.items.length) { box.innerHTML = ''; return; }
      const pages = Math.max(1, Math.ceil(d.total / d.per_page));
      let h = '<div class="table-wrap"><table class="bt-table"><thead><tr><th>#</th><th></th><th>' + OF.esc(OF.t('published')) + '</th><th>' + OF.esc(OF.t('draft')) + '</th><th></th></tr></thead><tbody>' +
        d.items.map((x) => '<tr data-path="' + OF.esc(JSON.stringify(x.draft.path)) + '" tabindex="0"><td>' + OF.esc(x.external_id) + '<div class="muted small">' + OF.esc(x.channel) + '</div></td><td>' + x.changes.map((c) => '<span class="tag">' + OF.esc(OF.t('bt_' + c)) + '</span>').join('') + '</td>' +
          '<td>' + OF.esc(x.published.outcome || OF.runStatus(x.published.status) || '—') + '<div class="muted small">' + OF.esc(x.published.path.join(' → ')) + '</div></td>' +
          '<td>' + OF.esc(x.draft.outcome || OF.runStatus(x.draft.status) || '—') + '<div class="muted small">' + OF.esc(x.draft.path.join(' → ')) + '</div></td>' +
          '<td><button type="button" class="btn secondary small" data-simulate="' + OF.esc(String(x.order_id)) + '">' + OF.esc(OF.t('bt_simulate')) + '</button></td></tr>').join('') + '</tbody></table></div>';
      h += '<div class="row-actions">' +
        (d.page > 1 ? '<button type="button" class="btn secondary small" data-page="' + (d.page - 1) + '">' + OF.esc(OF.t('bt_prev')) + '</button>' : '') +
        '<span class="muted small">' + OF.esc(OF.t('bt_page', { page: d.page, pages: pages })) + '</span>' +
        (d.page < pages ? '<button type="button" class="btn secondary small" data-page="' + (d.page + 1) + '">' + OF.esc(OF.t('bt_next')) + '</button>' : '') + '</div>';
      box.innerHTML = h;
    }
    async stop() {
      this.stopBtn.hidden = true;
      const r = await OF.api(this.jobUrl('/cancel'), { method: 'POST', body: {} });
      if (!r.ok) this.out.insertAdjacentHTML('afterbegin', '<p class="error">' + OF.esc(OF.errorText(r)) + '</p>');
    }
    simulate(orderId) {
      /* The order in the simulator, as a past order, run on the draft. */
      const select = document.getElementById('sim-order');
      if (!Array.from(select.options).some((o) => o.value === orderId)) {
        const opt = document.createElement('option');
        opt.value = orderId;
        opt.textContent = '#' + orderId;
        select.prepend(opt);
      }
      select.value = orderId;
      const past = document.querySelector('input[name=sim-source][value=past]');
      past.checked = true;
      past.dispatchEvent(new Event('change', { bubbles: true }));
      this.dlg.close();
      this.ed.activateTab('sim');
      this.ed.sim.run();
    }
  }

  class Publisher {
    constructor(editor) {
      this.ed = editor;
      this.dlg = document.getElementById('dlg-publish');
      if (!this.dlg) return;
      this.dlg.querySelector('[value=cancel]').addEventListener('click', () => this.close());
      document.getElementById('pub-go').addEventListener('click', () => this.publish());
      document.getElementById('pub-backtest').addEventListener('click', () => this.ed.backtest.open());
    }
    close() { this.dlg.close(); this.ed.fg.clearDiff(); }
    async open() {
      await this.ed.save(true);
      if (this.ed.conflict) return;
      const problems = document.getElementById('pub-problems');
      const errors = this.ed.issues.filter((i) => i.severity === 'error');
      const go = document.getElementById('pub-go');
      go.disabled = errors.length > 0;
      problems.innerHTML = '';
      if (errors.length) {
        // Each error by node name and field; a click closes the dialog and opens that node.
        const doc = this.ed.currentDoc();
        const zh = OF.lang === 'zh';
        problems.innerHTML = '<div class="flash error"><p>' + OF.esc(OF.t('publish_errors')) + '</p><ul class="pub-errors">' + errors.map((i) => {
          const at = this.ed.issueWhere(i, doc);
          return '<li><button type="button" class="pub-error" data-cell="' + OF.esc(at.cell) + '" data-path="' + OF.esc(at.path) + '"><strong>' + OF.esc(at.where) + '</strong>' +
            (at.field ? ' · <span class="pub-field">' + OF.esc(at.field) + '</span>' : '') + '<span class="pub-msg">' + OF.esc((zh ? i.message_zh : i.message).split('\n')[0]) + '</span></button></li>';
        }).join('') + '</ul></div>';
        problems.querySelectorAll('.pub-error').forEach((b) => b.addEventListener('click', () => {
          this.close();
          this.ed.openIssue(b.dataset.cell, b.dataset.path);
        }));
      }
      const r = await OF.api(OF.config.urls.diff);
      const diffBox = document.getElementById('pub-diff');
      if (r.ok) {
        const d = r.data;
        this.ed.fg.showDiff({ added: d.added, changed: d.changed });
        const name = (id) => { const c = this.ed.fg.graph.getCellById(id); return c ? this.ed.fg.nodeMeta(c.getData()).title + ' (' + id + ')' : id; };
        const li = (cls, label, items) => items.length ? '<li class="' + cls + '"><strong>' + OF.esc(label) + '</strong>: ' + items.map(OF.esc).join(', ') + '</li>' : '';
        diffBox.innerHTML = d.identical ? '<p class="muted">' + OF.esc(OF.t('no_diff')) + '</p>' : '<ul class="diff-list">' +
          li('d-add', OF.t('added'), d.added.map(name)) + li('d-chg', OF.t('changed'), d.changed.map(name)) +
          li('d-del', OF.t('removed'), d.removed.map((n) => OF.localName(n.name, n.id) + ' (' + n.id + ')')) + li('d-mov', OF.t('moved'), d.moved.map(name)) +
          li('d-add', OF.t('edge') + ' +', d.edges_added.map((e) => e[0] + ' → ' + e[1] + (e[2] ? ' [' + e[2] + ']' : ''))) +
          li('d-del', OF.t('edge') + ' −', d.edges_removed.map((e) => e[0] + ' → ' + e[1] + (e[2] ? ' [' + e[2] + ']' : ''))) + '</ul>';
        document.getElementById('pub-json').innerHTML = d.json.split('\n').map((l) => '<span class="' + (l[0] === '+' ? 'j-add' : l[0] === '-' ? 'j-del' : l[0] === '@' ? 'j-hunk' : '') + '">' + OF.esc(l) + '</span>').join('\n');
      }
      this.dlg.showModal();
      (problems.querySelector('.pub-error') || document.getElementById('pub-note')).focus();
      this.overlap(errors.length === 0);
    }
    async overlap(valid) {
      // Simulates the draft and the other live flows over recent orders: loaded after the
      // dialog opens so the diff can be read meanwhile.
      const box = document.getElementById('pub-overlap');
      box.innerHTML = valid ? '<p class="muted">' + OF.esc(OF.t('overlap_loading')) + '</p>' : '';
      if (!valid) return;
      box.setAttribute('aria-busy', 'true');
      let html = '';
      try {
        const res = await fetch(OF.config.urls.overlap, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
        html = res.ok ? await res.text() : '';
      } catch (e) { html = ''; }
      box.innerHTML = html || '<p class="muted">' + OF.esc(OF.t('overlap_failed')) + '</p>';
      box.setAttribute('aria-busy', 'false');
    }
    async publish() {
      const note = document.getElementById('pub-note').value.trim();
      if (!note) { document.getElementById('pub-problems').innerHTML = '<div class="flash error">' + OF.esc(OF.t('note_required')) + '</div>'; return; }
      if (this.ed.saving) await this.ed.saving;  // publish the revision a save in flight makes
      const r = await OF.api(OF.config.urls.publish, { method: 'POST', body: { note: note, revision: this.ed.revision } });
      if (!r.ok) { document.getElementById('pub-problems').innerHTML = '<div class="flash error">' + OF.esc(OF.errorText(r)) + '</div>'; return; }
      this.close();
      document.getElementById('pub-note').value = '';
      this.ed.banner(OF.t('published_ok', { n: r.data.version }), 'success');
      const tag = document.querySelector('.ed-title .tag');
      if (tag) { tag.className = 'tag status-published'; tag.textContent = 'v' + r.data.version + ' ✓'; }
    }
  }

  OF.Simulator = Simulator;
  OF.Backtest = Backtest;
  OF.Publisher = Publisher;
})();
