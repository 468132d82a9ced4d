// 后台作业 page: poll /api/jobs and update progress, rate, ETA and errors in place.
// A job that changed state (or a new job) reloads the page so its buttons match its state.
"use strict";
(function () {
  const table = document.getElementById("jobs");
  if (!table) return;
  const PERIOD = 3000;
  const params = new URLSearchParams();
  if (table.dataset.state) params.set("state", table.dataset.state);
  if (table.dataset.kind) params.set("kind", table.dataset.kind);
  params.set("limit", "200");

  function eta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.round(seconds);
    if (s >= 3600) return Math.floor(s / 3600) + " 时 " + Math.floor((s % 3600) / 60) + " 分";
    if (s >= 60) return Math.floor(s / 60) + " 分 " + (s % 60) + " 秒";
    return s + " 秒";
  }

  function progressCell(cell, j) {
    cell.textContent = "";
    if (j.done === null || j.done === undefined) { cell.textContent = j.step || ""; return; }
    const bar = document.createElement("progress");
    bar.max = j.total || 1;
    bar.value = j.done;
    cell.appendChild(bar);
    cell.appendChild(document.createTextNode(
      " " + (j.step || "") + " " + j.done + (j.total !== null ? "/" + j.total : "")));
  }

  async function tick() {
    try {
      const r = await fetch("/api/jobs?" + params.toString(),
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const data = await r.json();
      const rows = new Map();
      table.querySelectorAll("tr[data-job]").forEach(function (tr) { rows.set(tr.dataset.job, tr); });
      let changed = false;
      data.jobs.forEach(function (j) {
        const tr = rows.get(String(j.id));
        if (!tr) { changed = true; return; }
        if (tr.dataset.jobState !== j.state) { changed = true; return; }
        progressCell(tr.querySelector(".progress"), j);
        tr.querySelector(".rate").textContent = j.rate !== null ? j.rate.toFixed(2) + "/秒" : "";
        tr.querySelector(".eta").textContent = eta(j.eta_seconds);
        tr.querySelector(".error").textContent = j.error || "";
      });
      Object.keys(data.counts["*"]).forEach(function (state) {
        const b = document.querySelector('[data-count="' + state + '"]');
        if (b) b.textContent = String(data.counts["*"][state]);
      });
      if (changed) { window.location.reload(); return; }
    } catch (e) { /* keep polling: the server may be busy */ }
    window.setTimeout(tick, PERIOD);
  }
  window.setTimeout(tick, PERIOD);
})();
