// Approver pages: live SLA countdowns, select-all, "a rejection needs a comment", the reject
// sheet of the inbox cards, and what the reader chose kept across the live pages' refreshes.
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
      document.querySelectorAll("input[name=task][form=ap-bulk]").forEach(function (box) { box.checked = ev.target.checked; });
    }
  });
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-needs-comment]");
    if (!button) { return; }
    var comment = button.form.elements.namedItem("comment");
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
  // Reject from an inbox card: a sheet asks for the reason, then posts to that card's task.
  var sheet = document.getElementById("ap-reject");
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-reject-sheet]");
    if (button && sheet && sheet.showModal) {
      ev.preventDefault();
      var form = sheet.querySelector("form"), title = sheet.querySelector("h2");
      form.action = button.form.action;
      title.textContent = title.dataset.title.replace("{id}", button.dataset.order || "");
      sheet.querySelector(".ap-hint").hidden = true;
      sheet.showModal();
      sheet.querySelector("textarea").focus();
      return;
    }
    if (ev.target.closest("[data-close-sheet]")) { ev.target.closest("dialog").close(); }
  });
  if (sheet) {
    sheet.querySelector("form").addEventListener("submit", function (ev) {
      var reason = sheet.querySelector("textarea");
      if (!reason.value.trim()) {
        ev.preventDefault();
        sheet.querySelector(".ap-hint").hidden = false;
        reason.setAttribute("aria-invalid", "true");
        reason.focus();
      }
    });
  }
  // A live refresh keeps the boxes ticked and the sections opened.
  var kept = null;
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var target = ev.detail.target;
    if (!target || (target.id !== "ap-list" && target.id !== "ap-live")) { return; }
    kept = {
      ticked: Array.prototype.map.call(target.querySelectorAll("input[name=task]:checked"), function (b) { return b.value; }),
      all: !!target.querySelector("[data-select-all]:checked"),
      open: Array.prototype.map.call(target.querySelectorAll("details[open][id]"), function (d) { return d.id; })
    };
  });
  document.addEventListener("htmx:afterSwap", function (ev) {
    var target = ev.detail.target;
    if (!kept || !target || (target.id !== "ap-list" && target.id !== "ap-live")) { return; }
    kept.ticked.forEach(function (value) {
      var box = target.querySelector("input[name=task][value='" + CSS.escape(value) + "']");
      if (box) { box.checked = true; }
    });
    var all = target.querySelector("[data-select-all]");
    if (all && kept.all) { all.checked = true; }
    kept.open.forEach(function (id) { var d = document.getElementById(id); if (d) { d.open = true; } });
    kept = null;
    tick();
  });
  tick();
  setInterval(tick, 30000);
})();
