// 上网审查 batch page: select all, count the ticked items, require a reason before rejecting or
// taking records off the portal, and confirm decisions on many items.
"use strict";
(function () {
  const form = document.getElementById("decide-form");
  if (!form) return;
  const all = document.getElementById("check-all");
  const boxes = Array.from(form.querySelectorAll('input[name="record_id"]'));
  const counter = document.getElementById("selected-count");
  const reason = document.getElementById("reason");

  function update() {
    const n = boxes.filter(function (b) { return b.checked; }).length;
    if (counter) counter.textContent = String(n);
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }
  if (all) all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
    update();
  });
  boxes.forEach(function (b) { b.addEventListener("change", update); });
  update();

  form.addEventListener("submit", function (ev) {
    const button = ev.submitter;
    if (!button) return;
    const needsReason = button.id === "btn-reject" || button.id === "btn-unpublish";
    if (needsReason && !reason.value.trim()) {
      ev.preventDefault();
      reason.setCustomValidity(button.id === "btn-reject" ? "不予上网须填写理由" : "撤下公布须填写理由");
      reason.reportValidity();
      return;
    }
    reason.setCustomValidity("");
  });
  reason.addEventListener("input", function () { reason.setCustomValidity(""); });
})();
