// The assignee picker of approval, notify and escalation fields: choose the kind, search
// people, business roles and departments in Chinese, English or pinyin, and see whom the
// choice reaches today ("财务 · 2 人：李娜、李强"). The assignee is kept as JSON in the
// field's hidden input, which the panel reads back like any other field.
(function () {
  'use strict';
  const OF = window.OF = window.OF || {};
  const SEARCHED = ['user', 'role', 'department', 'head'];

  class AssigneeField {
    constructor(root, onChange) {
      this.root = root;
      this.onChange = onChange;
      const q = (s) => root.querySelector(s);
      this.hidden = q('input[type=hidden]');
      this.kindSel = q('.assignee-kind');
      this.search = q('.assignee-search');
      this.list = q('.assignee-matches');
      this.scope = q('.assignee-scope');
      this.expr = q('.assignee-expr');
      this.levels = q('.assignee-levels');
      this.contact = q('.assignee-contact');
      this.out = q('.assignee-resolves');
      this.timer = null;
      this.matches = [];
      let value;
      try { value = JSON.parse(this.hidden.value || '{}'); } catch (e) { value = {}; }
      this.fill(value || {});
      this.kindSel.addEventListener('change', () => { this.clear(); this.show(); this.write(); });
      this.search.addEventListener('input', () => { this.later(); });
      this.search.addEventListener('focus', () => { this.later(); });
      this.search.addEventListener('change', () => this.write());
      this.search.addEventListener('keydown', (e) => this.keys(e));
      this.list.addEventListener('mousedown', (e) => {
        const li = e.target.closest('li[data-index]');
        if (!li) return;
        e.preventDefault();
        this.pick(this.matches[+li.dataset.index]);
      });
      this.search.addEventListener('blur', () => setTimeout(() => this.close(), 150));
      [this.scope, this.expr, this.levels, this.contact].forEach((el) => el.addEventListener('change', () => this.write()));
    }

    get kind() { return this.kindSel.value; }

    fill(v) {
      this.search.value = v.user || v.role || v.department || '';
      this.scope.value = v.scope || '';
      this.expr.value = v.manager_of || v.expression || '';
      this.levels.value = v.levels || '';
      this.contact.value = v.contact || 'consignee';
      this.show();
      if (SEARCHED.includes(this.kind) && this.search.value) this.describe(this.search.value);
    }

    clear() {
      this.search.value = this.scope.value = this.expr.value = this.levels.value = '';
      this.out.textContent = '';
    }

    show() {
      const k = this.kind;
      this.root.dataset.kind = k;
      this.search.parentElement.hidden = !SEARCHED.includes(k);
      this.scope.hidden = k !== 'role';
      this.expr.hidden = !(k === 'manager_of' || k === 'expression');
      this.levels.hidden = k !== 'manager_of';
      this.contact.hidden = k !== 'contact';
      if (k === 'manager_of' || k === 'expression') this.out.textContent = OF.t('assignee_per_order');
      else if (k === 'contact') this.out.textContent = OF.t('assignee_contact');
    }

    value() {
      const k = this.kind, key = this.search.value.trim();
      if (k === 'user') return key ? { user: key } : {};
      if (k === 'role') return key ? Object.assign({ role: key }, this.scope.value.trim() ? { scope: this.scope.value.trim() } : {}) : {};
      if (k === 'department') return key ? { department: key } : {};
      if (k === 'head') return key ? { department: key, head: true } : {};
      if (k === 'manager_of') {
        const levels = parseInt(this.levels.value, 10);
        return this.expr.value.trim() ? Object.assign({ manager_of: this.expr.value.trim() }, levels > 1 ? { levels: levels } : {}) : {};
      }
      if (k === 'expression') return this.expr.value.trim() ? { expression: this.expr.value.trim() } : {};
      return { contact: this.contact.value };
    }

    write() {
      this.hidden.value = JSON.stringify(this.value());
      this.hidden.dispatchEvent(new Event('input', { bubbles: true }));
      if (this.onChange) this.onChange();
    }

    url(params) {
      return OF.config.urls.people + '?' + new URLSearchParams(Object.assign({ kind: this.kind }, params)).toString();
    }

    later() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.find(), 150);
    }

    async find() {
      if (!SEARCHED.includes(this.kind)) return;
      const res = await fetch(this.url({ q: this.search.value.trim() }), { headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      this.matches = (await res.json()).items || [];
      this.render();
    }

    render() {
      if (!this.matches.length) {
        this.list.innerHTML = '<li class="muted">' + OF.esc(OF.t('assignee_none')) + '</li>';
      } else {
        this.list.innerHTML = this.matches.map((m, i) => '<li role="option" id="' + this.root.dataset.path + '-opt-' + i + '" data-index="' + i + '" data-key="' + OF.esc(m.key) + '">' +
          '<strong>' + OF.esc(m.name) + '</strong> <code>' + OF.esc(m.key) + '</code><div class="muted small">' + OF.esc(m.summary) + '</div></li>').join('');
      }
      this.list.hidden = false;
      this.search.setAttribute('aria-expanded', 'true');
      this.active = -1;
    }

    close() {
      this.list.hidden = true;
      this.search.setAttribute('aria-expanded', 'false');
    }

    keys(e) {
      const items = this.list.querySelectorAll('li[data-index]');
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (!items.length) return;
        e.preventDefault();
        this.active = (this.active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
        items.forEach((li, i) => li.setAttribute('aria-selected', i === this.active ? 'true' : 'false'));
        this.search.setAttribute('aria-activedescendant', items[this.active].id);
      } else if (e.key === 'Enter' && this.active >= 0) {
        e.preventDefault();
        this.pick(this.matches[this.active]);
      } else if (e.key === 'Escape') {
        this.close();
      }
    }

    pick(match) {
      if (!match) return;
      this.search.value = match.key;
      this.out.textContent = match.summary;
      this.close();
      this.write();
    }

    async describe(key) {
      const res = await fetch(this.url({ key: key }), { headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      const found = ((await res.json()).items || [])[0];
      this.out.textContent = found ? found.summary : OF.t('assignee_unknown', { key: key });
    }
  }

  OF.AssigneeField = AssigneeField;
})();
