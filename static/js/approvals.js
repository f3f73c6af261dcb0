// Approver pages: live SLA countdowns, select-all, and "a rejection needs a comment".
(function () {
  "use strict";
  var zh = document.documentElement.lang.indexOf("zh") === 0;
  function span(seconds) {
    var s = Math.abs(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (zh) { return d ? d + "天" + h + "小时" : h ? h + "小时" + m + "分" : m + "分钟"; }
    return d ? d + "d " + h + "h" : h ? h + "h " + m + "m" : m + "m";
  }
  function tick() {
    document.querySelectorAll("[data-due]").forEach(function (el) {
      if (!el.dataset.due) { return; }
      var left = (Date.parse(el.dataset.due) - Date.now()) / 1000;
      var text = left >= 0 ? (zh ? "剩余 " + span(left) : span(left) + " left") : (zh ? "已超时 " + span(left) : "overdue by " + span(left));
      var prefix = el.textContent.split("·")[0];
      el.textContent = el.textContent.indexOf("·") >= 0 ? prefix + "· " + text : text;
    });
  }
  document.addEventListener("change", function (ev) {
    if (ev.target.matches("[data-select-all]")) {
      ev.target.form.querySelectorAll("input[name=task]").forEach(function (box) { box.checked = ev.target.checked; });
    }
  });
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-needs-comment]");
    if (!button) { return; }
    var comment = button.form.querySelector("[name=comment]");
    if (comment && !comment.value.trim()) {
      ev.preventDefault();
      comment.focus();
      var hint = button.form.querySelector(".ap-hint");
      if (!hint) {
        hint = document.createElement("p");
        hint.className = "ap-hint";
        hint.setAttribute("role", "alert");
        comment.insertAdjacentElement("afterend", hint);
      }
      hint.textContent = zh ? "驳回时请填写原因。" : "Say why you reject: a comment is required.";
    }
  });
  tick();
  setInterval(tick, 30000);
})();
