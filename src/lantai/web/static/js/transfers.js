// Live progress of transfers: poll the JSON API while a transfer is being processed.
"use strict";
(function () {
  const STEPS = {
    unpack: "读取与解包", hash: "计算数字摘要", identify: "格式识别", check: "四性检测",
    decide: "判定", store: "生成并保存 AIP", catalogue: "编目入库", finish: "清理",
  };
  const PERIOD = 1500;

  function describe(job) {
    if (!job || !job.progress || !job.progress.step) return job && job.state === "queued" ? "排队中" : "";
    const p = job.progress;
    let text = STEPS[p.step] || p.step;
    if (p.total) text += " " + (p.done || 0) + "/" + p.total;
    return text;
  }

  async function fetchJson(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }

  // Detail page: one transfer; reload once it has finished so the report shows.
  const card = document.querySelector("#transfer[data-poll-uid]");
  if (card) {
    const uid = card.getAttribute("data-poll-uid");
    const tick = async function () {
      try {
        const t = await fetchJson("/api/transfers/" + encodeURIComponent(uid));
        document.getElementById("state").textContent = t.state_label;
        document.getElementById("progress").textContent = t.finished ? "已结束" : describe(t.job);
        if (t.finished) { window.location.reload(); return; }
      } catch (e) { /* keep polling: the server may be busy */ }
      window.setTimeout(tick, PERIOD);
    };
    window.setTimeout(tick, PERIOD);
  }

  // List page: every unfinished row.
  const rows = document.querySelectorAll("#transfers tr[data-poll-uid]");
  if (rows.length) {
    const tick = async function () {
      let pending = 0;
      try {
        const list = await fetchJson("/api/transfers?limit=50");
        const byUid = new Map(list.map(function (t) { return [t.uid, t]; }));
        rows.forEach(function (row) {
          const t = byUid.get(row.getAttribute("data-poll-uid"));
          if (!t) return;
          row.querySelector(".state").textContent = t.state_label;
          row.querySelector(".progress").textContent = t.finished ? "" : describe(t.job);
          if (!t.finished) pending += 1;
        });
      } catch (e) { pending = rows.length; }
      if (pending) window.setTimeout(tick, PERIOD);
    };
    window.setTimeout(tick, PERIOD);
  }
})();
