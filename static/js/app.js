// Page behaviour that templates declare with data attributes, because the
// Content-Security-Policy refuses inline handlers (onclick=..., onsubmit=...):
//   <form data-confirm="Sure?">      asks before submitting
//   <form data-no-submit>            never submits (the page's script handles it)
//   <button data-open-dialog="id">   opens the <dialog id="id">
//   <button data-close-dialog>       closes its <dialog>
//   <select data-autosubmit>         submits its form on change
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-no-submit")) {
      event.preventDefault();
    } else if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    if (!(event.target instanceof Element)) return;
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      document.getElementById(opener.dataset.openDialog).showModal();
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof Element && field.matches("[data-autosubmit]")) field.form.submit();
  });
})();
