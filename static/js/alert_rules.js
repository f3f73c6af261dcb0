/* Alert rule form: shows the fields of the chosen kind and disables the others, so only
   they are sent. */
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', () => {
    const kind = document.getElementById('rule-kind');
    if (!kind) return;
    const sync = () => {
      document.querySelectorAll('.kind-section').forEach((section) => {
        const on = section.dataset.kinds.split(' ').includes(kind.value);
        section.classList.toggle('active', on);
        section.querySelectorAll('input, select, textarea').forEach((el) => { el.disabled = !on; });
        section.querySelectorAll('[data-only]').forEach((el) => {
          const mine = el.dataset.only === kind.value;
          el.style.display = mine ? '' : 'none';
          el.querySelectorAll('input, select').forEach((x) => { x.disabled = !on || !mine; });
        });
      });
    };
    kind.addEventListener('change', sync);
    sync();
  });
})();
