/* Rule DSL text fields: syntax highlighting and live validation with the caret error. */
(function () {
  'use strict';
  const OF = (window.OF = window.OF || {});
  const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'true', 'false', 'if', 'then', 'else', 'for',
    'rule', 'when', 'set', 'tag', 'end', 'priority', 'mode', 'stop', 'first', 'all']);
  const TOKEN = /(#[^\n]*)|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)|(\d+(?:\.\d+)?(?:ms|[smhdw])?)|([A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*(?:\.[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*)*)|(==|!=|<=|>=|\.\.|[<>+\-*\/%=()[\],])|(\s+)|(.)/g;

  function highlight(source) {
    let out = '';
    let m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(source)) !== null) {
      const text = OF.esc(m[0]);
      if (m[1]) out += '<span class="tk-com">' + text + '</span>';
      else if (m[2]) out += '<span class="tk-str">' + text + '</span>';
      else if (m[3]) out += '<span class="tk-num">' + text + '</span>';
      else if (m[4]) {
        const next = source.slice(TOKEN.lastIndex).match(/^\s*\(/);
        const cls = KEYWORDS.has(m[4]) ? 'tk-kw' : next ? 'tk-fn' : 'tk-field';
        out += '<span class="' + cls + '">' + text + '</span>';
      } else if (m[5]) out += '<span class="tk-op">' + text + '</span>';
      else out += text;
    }
    return out + '\n';
  }

  function lineOffset(source, line) {
    let off = 0;
    for (let i = 1; i < line; i++) {
      const nl = source.indexOf('\n', off);
      if (nl < 0) return source.length;
      off = nl + 1;
    }
    return off;
  }

  function highlightWithError(source, err) {
    if (!err || !err.line) return highlight(source);
    const start = lineOffset(source, err.line) + Math.max(err.column - 1, 0);
    const endCol = err.end_column && err.end_line === err.line ? err.end_column : err.column + 1;
    const end = Math.min(Math.max(lineOffset(source, err.line) + endCol - 1, start + 1), source.length);
    if (start >= source.length) return highlight(source) .replace(/\n$/, '') + '<mark class="tk-err"> </mark>\n';
    return highlight(source.slice(0, start)).replace(/\n$/, '') + '<mark class="tk-err">' +
      highlight(source.slice(start, end)).replace(/\n$/, '') + '</mark>' + highlight(source.slice(end));
  }

  function renderError(box, errors) {
    if (!errors || !errors.length) { box.innerHTML = ''; box.dataset.state = 'ok'; return; }
    const zh = OF.lang === 'zh';
    box.dataset.state = 'error';
    box.innerHTML = errors.slice(0, 3).map((e) => {
      const where = e.line ? ' <span class="muted">(' + OF.esc(OF.t('line_col', { line: e.line, col: e.column })) + ')</span>' : '';
      const hint = zh ? e.hint_zh || e.hint : e.hint;
      return '<div class="dsl-err"><strong>' + OF.esc(zh ? e.message_zh : e.message) + '</strong>' + where +
        (e.excerpt ? '<pre class="caret">' + OF.esc(e.excerpt) + '</pre>' : '') +
        (hint ? '<div class="hint">💡 ' + OF.esc(hint) + '</div>' : '') + '</div>';
    }).join('');
  }

  /* One DSL text field: ``root`` holds a textarea.dsl-input, a pre.dsl-highlight and a
     .dsl-error box. ``check`` posts the text for validation after a typing pause. */
  class DslField {
    constructor(root, opts) {
      this.root = root;
      this.opts = opts;
      this.input = root.querySelector('.dsl-input');
      this.pre = root.querySelector('.dsl-highlight');
      this.errorBox = root.querySelector('.dsl-error');
      this.seq = 0;
      this.lastErrors = [];
      this.lastBuilder = null;
      this.paint();
      this.validate = OF.debounce(() => this.check(), 350);
      this.input.addEventListener('input', () => {
        this.autosize();
        this.lastErrors = [];
        this.paint();
        this.validate();
        if (opts.onInput) opts.onInput(this.input.value);
      });
      this.input.addEventListener('scroll', () => { this.pre.scrollTop = this.input.scrollTop; this.pre.scrollLeft = this.input.scrollLeft; });
      this.autosize();
      if (this.input.value.trim()) this.check();
    }
    get value() { return this.input.value; }
    set value(v) { this.input.value = v; this.autosize(); this.paint(); }
    autosize() {
      this.input.style.height = 'auto';
      this.input.style.height = Math.max(this.input.scrollHeight, 38) + 'px';
    }
    paint() { this.pre.innerHTML = highlightWithError(this.input.value, this.lastErrors[0]); }
    async check() {
      const seq = ++this.seq;
      const source = this.input.value;
      if (!source.trim()) { this.lastErrors = []; renderError(this.errorBox, []); this.paint(); this.root.dataset.valid = 'empty'; return null; }
      const r = await OF.api(OF.config.urls.expression, {
        method: 'POST', body: { source: source, kind: this.opts.kind, node_type: this.opts.nodeType || '', path: this.opts.path || '' },
      });
      if (seq !== this.seq || !r.ok) return null;
      this.lastErrors = r.data.errors || [];
      this.lastBuilder = r.data.builder || null;
      renderError(this.errorBox, this.lastErrors);
      this.root.dataset.valid = r.data.ok ? 'yes' : 'no';
      this.paint();
      if (this.opts.onChecked) this.opts.onChecked(r.data);
      return r.data;
    }
    showErrors(errors) { this.lastErrors = errors || []; renderError(this.errorBox, this.lastErrors); this.paint(); }
  }

  OF.DslField = DslField;
  OF.highlightDsl = highlight;
  OF.renderDslError = renderError;
})();
