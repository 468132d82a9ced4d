// 校对 page: save the edited lines through PUT /api/digitisation/pages/{id}/text (the form's
// POST is the fallback without JavaScript).
"use strict";
(function () {
  const form = document.getElementById("ocr-form");
  if (!form || !document.getElementById("ocr-save")) return;
  const status = document.getElementById("save-status");
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const lines = Array.from(form.querySelectorAll("input[name=line]")).map(function (i) { return i.value; });
    status.textContent = "正在保存…";
    try {
      const r = await fetch("/api/digitisation/pages/" + form.dataset.page + "/text", {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf, Accept: "application/json" },
        body: JSON.stringify({ text: lines.join("\n") }),
      });
      const body = await r.json();
      if (!r.ok) { status.textContent = "保存失败：" + (body.message || ("HTTP " + r.status)); return; }
      status.textContent = "已保存校对文本（" + body.corrected_by + "）";
      form.querySelectorAll("li.weak").forEach(function (li) { li.classList.remove("weak"); });
    } catch (e) {
      status.textContent = "保存失败：" + e.message;
    }
  });
})();
