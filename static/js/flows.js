/* The new-flow dialog: the key follows the name (its pinyin slug, made on the server) until
   the supervisor types one, and every key is checked as it is typed. */
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', () => {
    const key = document.getElementById('nf-key');
    const nameZh = document.getElementById('nf-name');
    const nameEn = document.getElementById('nf-name-en');
    const msg = document.getElementById('nf-key-msg');
    if (!key || !nameZh || !msg) return;
    let typed = false;
    let seq = 0;
    let timer = null;
    const check = async () => {
      const mine = ++seq;
      const params = new URLSearchParams({ name: nameZh.value.trim() || (nameEn ? nameEn.value.trim() : ''), key: typed ? key.value.trim() : '' });
      let data = null;
      try {
        const res = await fetch(key.dataset.checkUrl + '?' + params, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        data = res.ok ? await res.json() : null;
      } catch (e) { data = null; }
      if (mine !== seq || !data) return;
      if (!typed) key.value = data.suggestion || '';
      const text = key.value ? data.message || '' : '';
      key.setCustomValidity(text);
      key.setAttribute('aria-invalid', text ? 'true' : 'false');
      msg.textContent = text;
      msg.className = 'key-msg' + (text ? ' error' : key.value ? ' ok' : '');
      if (!text && key.value) msg.textContent = '✓ ' + key.value;
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(check, 150); };
    nameZh.addEventListener('input', later);
    if (nameEn) nameEn.addEventListener('input', later);
    key.addEventListener('input', () => { typed = key.value.trim() !== ''; later(); });
  });
})();
