// Page behaviour that templates declare with data attributes, because the
// Content-Security-Policy refuses inline handlers (onclick=..., onsubmit=...):
//   <form data-confirm="Sure?">      asks before submitting
//   <form data-no-submit>            never submits (the page's script handles it)
//   <button data-open-dialog="id">   opens the <dialog id="id">
//   <button data-close-dialog>       closes its <dialog>
//   <select data-autosubmit>         submits its form on change
//   .table-wrap                      when its table is wider than the screen, it can be
//                                    reached and scrolled from the keyboard (a named region)
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

  // A table wider than its box scrolls sideways; keyboard users reach it with Tab and
  // scroll it with the arrow keys, and screen readers name it by its heading.
  function scrollableTables() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (wrap.hasAttribute("tabindex")) return;
        var heading = wrap.querySelector("h2, h3, caption");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        if (heading && !wrap.hasAttribute("aria-label")) {
          if (!heading.id) heading.id = "tw-" + Math.random().toString(36).slice(2, 9);
          wrap.setAttribute("aria-labelledby", heading.id);
        }
        wrap.dataset.scrollable = "";
      } else if (wrap.hasAttribute("data-scrollable")) {
        ["tabindex", "role", "aria-labelledby", "data-scrollable"].forEach(function (a) { wrap.removeAttribute(a); });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", scrollableTables);
  document.addEventListener("htmx:afterSettle", scrollableTables);
  window.addEventListener("resize", scrollableTables);
})();
