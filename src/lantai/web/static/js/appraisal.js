// 开放审核工作台: item list with filters, item view with highlighted hits, keyboard decisions,
// bulk decisions, claim / advance / apply, unit opinions. Everything goes through /api/appraisal.
// Record text is only ever inserted as text nodes (never innerHTML).
"use strict";
(function () {
  const root = document.getElementById("wb");
  if (!root) return;

  const BATCH = root.dataset.batchId;
  const API = "/api/appraisal/batches/" + encodeURIComponent(BATCH);
  const CSRF = root.dataset.csrf;
  const USER = root.dataset.user;
  const RESULTS = JSON.parse(root.dataset.results || "[]");
  const POSTPONE = root.dataset.postpone;
  const REASON_REQUIRED = JSON.parse(root.dataset.reasonRequired || "[]");
  const CATEGORIES = JSON.parse(root.dataset.categories || "{}");
  const CAN_DECIDE = !!root.dataset.canDecide;
  const CAN_MANAGE = !!root.dataset.canManage;
  const PAGE = 200;
  // Mnemonic keys, bound only when the configured results contain these names.
  const KEY_RESULTS = { o: "开放", c: "控制", y: "延期开放" };

  const els = {
    rounds: document.getElementById("wb-rounds"),
    state: document.getElementById("wb-state"),
    status: document.getElementById("wb-status"),
    task: document.getElementById("wb-task"),
    filter: document.getElementById("wb-filter"),
    count: document.getElementById("wb-count"),
    list: document.getElementById("wb-items"),
    more: document.getElementById("wb-more"),
    item: document.getElementById("wb-item"),
    dialog: document.getElementById("wb-dialog"),
    dlgForm: document.getElementById("wb-dialog-form"),
    dlgWhat: document.getElementById("wb-dialog-what"),
    dlgResult: document.getElementById("dlg-result"),
    dlgDue: document.getElementById("dlg-due"),
    dlgDueLabel: document.getElementById("dlg-due-label"),
    dlgReason: document.getElementById("dlg-reason"),
    dlgBasis: document.getElementById("dlg-basis"),
    dlgError: document.getElementById("wb-dialog-error"),
    unitCount: document.getElementById("unit-count"),
  };

  const state = {
    batch: null,      // batch JSON (progress per round)
    items: [],        // loaded items (current filter)
    total: 0,
    selected: null,   // record_id
    pending: null,    // what the dialog will decide: {recordIds|filter, count}
    hitIndex: -1,
  };

  // ---- small helpers -------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === "text") node.textContent = String(v);
        else if (k === "className") node.className = v;
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of children || []) {
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function say(text, bad) {
    els.status.textContent = text;
    els.status.classList.toggle("bad", !!bad);
  }

  function problemText(body, status) {
    if (!body || typeof body !== "object") return "请求失败（HTTP " + status + "）";
    let text = body.error || "请求失败";
    const errs = (body.errors || []).map(function (e) {
      const where = e.row ? "第" + e.row + "行 " : "";
      return where + (e.field ? "「" + e.field + "」" : "") + (e.message || "") + (e.value ? "（" + e.value + "）" : "");
    }).filter(Boolean);
    if (errs.length && errs.join("；") !== text) text += "：" + errs.slice(0, 8).join("；") + (errs.length > 8 ? " …" : "");
    return text;
  }

  async function api(method, url, body, isForm) {
    const opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = CSRF;
    if (body !== undefined) {
      if (isForm) opts.body = body;
      else { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    }
    const r = await fetch(url, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) { const err = new Error(problemText(data, r.status)); err.status = r.status; throw err; }
    return data;
  }

  function currentRound() { return state.batch && state.batch.current_round; }
  function decidedNow(item) {
    const r = currentRound();
    return !!r && item.decisions.some(function (d) { return d.round === r; });
  }
  function applied() { return state.batch && state.batch.state === "applied"; }

  // ---- batch header: progress per round, task, buttons ----------------------------------------

  function showBatch(b) {
    state.batch = b;
    els.state.textContent = b.state_label;
    clear(els.rounds);
    for (const r of b.rounds) {
      const bar = el("progress", { className: "ap-bar", max: r.total || 1, value: r.decided });
      const parts = [el("span", { className: "ap-round-name", text: r.name }), " ", bar, " ",
        el("span", { className: "ap-count", text: r.decided + "/" + r.total })];
      const res = Object.keys(r.results || {});
      if (res.length) {
        parts.push(" ");
        parts.push(el("span", { className: "ap-results muted", text: res.map(function (k) { return k + " " + r.results[k]; }).join(" · ") }));
      }
      if (r.assignee) parts.push(el("span", { className: "muted", text: " 承办：" + r.assignee }));
      if (r.state === "skipped") parts.push(el("span", { className: "muted", text: " 已跳过" }));
      els.rounds.appendChild(el("li", { className: "ap-round ap-" + r.state, "data-round": r.id }, parts));
    }
    const cur = b.rounds.find(function (r) { return r.state === "current"; });
    const claim = document.getElementById("btn-claim");
    const adv = document.getElementById("btn-advance");
    const apply = document.getElementById("btn-apply");
    const last = b.rounds.length && b.rounds[b.rounds.length - 1];
    if (applied()) {
      els.task.textContent = "审核结果已于 " + (b.applied_at || "").slice(0, 16).replace("T", " ") + " 由 " + (b.applied_by || "") + " 写入目录";
    } else if (cur) {
      els.task.textContent = "当前：" + cur.name + (cur.assignee ? "，由 " + cur.assignee + " 承办" : "，尚无人承办（作出第一个结论即领取）");
    }
    if (claim) claim.hidden = applied() || !cur || cur.assignee === USER;
    if (adv) adv.hidden = applied() || !cur || cur === last;
    if (apply) apply.hidden = applied() || !cur || cur !== last;
    const bulk = document.getElementById("wb-bulk");
    if (bulk) bulk.hidden = applied();
    if (els.unitCount) els.unitCount.textContent = String(b.unit_opinions);
  }

  // ---- item list -----------------------------------------------------------------------------

  function filterParams() {
    const p = new URLSearchParams();
    const f = new FormData(els.filter);
    for (const [k, v] of f.entries()) if (v !== "") p.set(k, String(v));
    return p;
  }

  function filterBody() {
    const out = {};
    const p = filterParams();
    if (p.has("no_hits")) out.no_hits = p.get("no_hits") === "true";
    for (const k of ["suggestion", "category", "rule_id", "unit_opinion"]) if (p.has(k)) out[k] = p.get(k);
    if (p.has("undecided")) out.undecided = true;
    return out;
  }

  function resultClass(result) {
    const i = RESULTS.indexOf(result);
    return "ap-result ap-res-" + (i + 1);
  }

  function itemRow(item) {
    const cur = item.decisions.find(function (d) { return d.round === currentRound(); });
    const badge = cur
      ? el("span", { className: resultClass(cur.result), text: cur.result })
      : el("span", { className: "ap-undecided", text: applied() ? (item.result || "") : "未审" });
    const hits = item.screening.hit_count
      ? el("span", { className: "ap-hits", title: "预筛命中", text: "命中 " + item.screening.hit_count })
      : el("span", { className: "ap-nohits", text: "无命中" });
    const li = el("li", {
      role: "option", "data-record-id": item.record_id, id: "item-" + item.record_id,
      "aria-selected": item.record_id === state.selected ? "true" : "false",
      className: cur ? "decided" : "",
    }, [
      el("span", { className: "code", text: item.archival_code || ("#" + item.record_id) }),
      el("span", { className: "title", text: item.title }),
      el("span", { className: "meta" }, [
        hits, " ", el("span", { className: "muted", text: "建议 " + item.screening.suggestion }),
        item.unit_opinions.length ? el("span", { className: "ap-unit", text: " 单位：" + (item.unit_opinions[0].opinion || "有意见") }) : null,
        " ", badge,
      ]),
    ]);
    return li;
  }

  function renderList() {
    clear(els.list);
    for (const it of state.items) els.list.appendChild(itemRow(it));
    els.count.textContent = "共 " + state.total + " 件/卷" + (state.items.length < state.total ? "，已列出 " + state.items.length : "");
    els.more.hidden = state.items.length >= state.total;
  }

  async function loadItems(append) {
    const p = filterParams();
    p.set("offset", String(append ? state.items.length : 0));
    p.set("limit", String(PAGE));
    const page = await api("GET", API + "/items?" + p.toString());
    state.items = append ? state.items.concat(page.items) : page.items;
    state.total = page.total;
    renderList();
  }

  function indexOfSelected() {
    return state.items.findIndex(function (it) { return it.record_id === state.selected; });
  }

  async function select(recordId, scroll) {
    state.selected = recordId;
    for (const li of els.list.querySelectorAll("li[aria-selected]")) {
      li.setAttribute("aria-selected", String(Number(li.dataset.recordId) === recordId));
    }
    const li = document.getElementById("item-" + recordId);
    if (li && scroll !== false) li.scrollIntoView({ block: "nearest" });
    const item = state.items.find(function (it) { return it.record_id === recordId; });
    if (!item) { clear(els.item); return; }
    clear(els.item);
    els.item.appendChild(el("p", { className: "muted", text: "载入中…" }));
    let source = null;
    try { source = await api("GET", API + "/items/" + recordId + "/source"); }
    catch (e) { source = { error: e.message }; }
    if (state.selected !== recordId) return;  // moved on meanwhile
    renderItem(item, source);
  }

  function move(delta) {
    if (!state.items.length) return;
    let i = indexOfSelected();
    i = i < 0 ? 0 : Math.min(state.items.length - 1, Math.max(0, i + delta));
    select(state.items[i].record_id);
  }

  function nextUndecided(afterPosition) {
    const after = state.items.find(function (it) { return it.position > afterPosition && !decidedNow(it); });
    return after || state.items.find(function (it) { return !decidedNow(it); }) || null;
  }

  // ---- item view -----------------------------------------------------------------------------

  // Text with the hits [start, end) marked; page breaks (form feeds) shown as separators.
  function highlighted(text, hits, pageStart) {
    const frag = document.createDocumentFragment();
    const spans = hits
      .map(function (h) { return { s: Math.max(0, h.location.start), e: Math.min(text.length, h.location.end), h: h }; })
      .filter(function (x) { return x.e > x.s; })
      .sort(function (a, b) { return a.s - b.s || b.e - a.e; });
    let page = pageStart || 1;
    function plain(s) {
      const pieces = s.split("\f");
      pieces.forEach(function (piece, i) {
        if (i > 0) { page += 1; frag.appendChild(el("span", { className: "pagebreak", text: "第 " + page + " 页" })); }
        if (piece) frag.appendChild(document.createTextNode(piece));
      });
    }
    let at = 0;
    for (const sp of spans) {
      if (sp.s < at) continue;  // overlapping: the first (longest) one wins
      plain(text.slice(at, sp.s));
      const mark = el("mark", {
        className: "hit sev-" + (sp.h.severity || ""), title: sp.h.reason, tabindex: "-1",
        "data-hit": sp.h._n,
      }, [text.slice(sp.s, sp.e)]);
      frag.appendChild(mark);
      at = sp.e;
    }
    plain(text.slice(at));
    return frag;
  }

  function hitsFor(item, recordId, source, name) {
    return item.screening.hits.filter(function (h) {
      const loc = h.location;
      const rid = loc.record_id === undefined || loc.record_id === null ? item.record_id : loc.record_id;
      return rid === recordId && loc.source === source && loc.name === name;
    });
  }

  function decisionTable(item) {
    if (!item.decisions.length) return el("p", { className: "muted", text: "尚无结论" });
    const rows = item.decisions.map(function (d) {
      return el("tr", { className: d.round === currentRound() ? "now" : "" }, [
        el("td", { text: d.round_name }),
        el("td", {}, [el("span", { className: resultClass(d.result), text: d.result })]),
        el("td", { text: d.review_due || "" }),
        el("td", { text: d.reason || "" }),
        el("td", { text: d.basis || "" }),
        el("td", { text: d.reviewer + " " + d.decided_at.slice(0, 16).replace("T", " ") + (d.revision > 1 ? "（第" + d.revision + "次）" : "") }),
      ]);
    });
    return el("table", { className: "grid compact" }, [
      el("thead", {}, [el("tr", {}, ["轮次", "结论", "复审日期", "理由", "依据", "审核人、时间（UTC）"].map(function (t) { return el("th", { text: t }); }))]),
      el("tbody", {}, rows),
    ]);
  }

  function opinionsBox(item) {
    if (!item.unit_opinions.length) return el("p", { className: "muted", text: "尚无单位意见" });
    return el("ul", { className: "ap-opinions" }, item.unit_opinions.map(function (o) {
      return el("li", {}, [
        el("span", { className: o.opinion ? resultClass(o.opinion) : "muted", text: o.opinion || "（未识别结论）" }),
        " ", el("strong", { text: o.unit || "" }), " ",
        el("span", { text: o.reason || o.raw || "" }), " ",
        el("span", { className: "muted", text: "（" + o.source_label + "，" + o.recorded_by + " " + o.recorded_at.slice(0, 10) + "）" }),
      ]);
    }));
  }

  function hitList(item) {
    const hits = item.screening.hits;
    if (!hits.length) return el("p", { className: "muted", text: "机器预筛无命中。" });
    return el("ol", { className: "ap-hitlist" }, hits.map(function (h) {
      const loc = h.location;
      const where = (loc.source === "field" ? "著录项「" : "全文「") + (loc.label || loc.name) + "」" +
        (loc.page ? "第" + loc.page + "页" : "") + "，字符 " + loc.start + "–" + loc.end;
      const li = el("li", { "data-hit": h._n }, [
        el("button", { type: "button", className: "link-dark goto", "data-hit": h._n, text: h.rule_name }),
        " ", el("span", { className: "ap-cat", text: h.category }),
        " ", el("span", { className: resultClass(h.result), text: "建议" + h.result }),
        " ", el("span", { className: "muted", text: "严重程度 " + h.severity }),
        el("br"), el("span", { className: "muted", text: where }),
        h.masked ? el("span", { className: "muted", text: " · 遮蔽为 " + h.masked }) : null,
        el("br"), el("span", { className: "basis", text: "依据：" + h.basis + (h.basis_verified ? "" : "（依据待核实）") }),
      ]);
      return li;
    }));
  }

  function renderItem(item, source) {
    clear(els.item);
    item.screening.hits.forEach(function (h, i) { h._n = i; });
    state.hitIndex = -1;
    const cur = item.decisions.find(function (d) { return d.round === currentRound(); });
    const head = el("div", { className: "wb-item-head" }, [
      el("h2", {}, [el("span", { className: "code", text: item.archival_code || "" }), " ", item.title]),
      el("p", { className: "muted", text: [
        item.level === "file" ? "案卷" : "件",
        item.year ? item.year + " 年" : "",
        CATEGORIES[item.category] || item.category || "",
        "密级 " + (item.security_level || "公开"),
        "开放标识 " + (item.open_status || "未审核"),
      ].filter(Boolean).join(" · ") }),
    ]);
    els.item.appendChild(head);

    const sug = el("section", { className: "wb-sug" }, [
      el("h3", {}, ["机器建议：", el("span", { className: resultClass(item.screening.suggestion), text: item.screening.suggestion })]),
      el("p", { text: item.screening.suggestion_reason || "" }),
      hitList(item),
    ]);
    const side = el("section", { className: "wb-opinion" }, [
      el("h3", { text: "单位意见" }), opinionsBox(item),
    ]);
    els.item.appendChild(el("div", { className: "wb-two" }, [sug, side]));

    const actions = el("div", { className: "wb-decide" });
    if (CAN_DECIDE && !applied()) {
      actions.appendChild(el("span", { text: "本轮（" + (state.batch.current_round_name || "") + "）结论：" }));
      RESULTS.forEach(function (r, i) {
        const key = Object.keys(KEY_RESULTS).find(function (k) { return KEY_RESULTS[k] === r; });
        actions.appendChild(el("button", {
          type: "button", className: "decide " + resultClass(r) + (cur && cur.result === r ? " chosen" : ""),
          "data-result": r, "aria-keyshortcuts": key || String(i + 1),
          text: r + "（" + (key || String(i + 1)) + "）",
        }));
      });
    }
    els.item.appendChild(actions);

    els.item.appendChild(el("h3", { text: "各轮结论" }));
    els.item.appendChild(decisionTable(item));

    if (source && source.error) {
      els.item.appendChild(el("p", { className: "wb-error", text: "著录项与全文无法载入：" + source.error }));
      return;
    }
    for (const rec of source.records) {
      const isChild = rec.record_id !== item.record_id;
      const box = el("section", { className: "wb-record" + (isChild ? " child" : "") });
      if (isChild) box.appendChild(el("h3", {}, ["卷内件 ", el("span", { className: "code", text: rec.archival_code || "" }), " ", rec.title]));
      const dl = el("dl", { className: "fields wb-fields" });
      for (const v of rec.values) {
        const hs = hitsFor(item, rec.record_id, "field", v.key);
        dl.appendChild(el("dt", { text: v.label }));
        const dd = el("dd", hs.length ? { className: "has-hit" } : {});
        dd.appendChild(highlighted(v.value, hs));
        dl.appendChild(dd);
      }
      box.appendChild(el("h3", { text: "著录项" }));
      box.appendChild(dl);
      if (rec.texts.length) {
        for (const t of rec.texts) {
          const hs = hitsFor(item, rec.record_id, "text", t.part);
          const m = /第\s*(\d+)\s*页/.exec(t.part);
          box.appendChild(el("h3", { text: "全文「" + t.part + "」" + (hs.length ? "，命中 " + hs.length + " 处" : "") + (t.truncated ? "（过长，只显示前 " + t.text.length + " 字）" : "") }));
          const pre = el("div", { className: "fulltext", tabindex: "0" });
          pre.appendChild(highlighted(t.text, hs, m ? Number(m[1]) : 1));
          box.appendChild(pre);
        }
      } else {
        box.appendChild(el("p", { className: "muted", text: "无全文。" }));
      }
      els.item.appendChild(box);
    }
  }

  function gotoHit(n) {
    const marks = els.item.querySelectorAll("mark.hit");
    if (!marks.length) return;
    let target = null;
    if (n === undefined) {
      state.hitIndex = (state.hitIndex + 1) % marks.length;
      target = marks[state.hitIndex];
    } else {
      target = els.item.querySelector('mark.hit[data-hit="' + Number(n) + '"]');
    }
    if (!target) return;
    for (const m of marks) m.classList.remove("current");
    target.classList.add("current");
    target.scrollIntoView({ block: "center" });
  }

  // ---- decisions -----------------------------------------------------------------------------

  function needsDialog(result) {
    return result === POSTPONE || REASON_REQUIRED.indexOf(result) >= 0;
  }

  function openDialog(result, target, what) {
    state.pending = target;
    els.dlgResult.value = result;
    els.dlgWhat.textContent = what;
    els.dlgReason.value = "";
    els.dlgBasis.value = "";
    els.dlgDue.value = "";
    els.dlgError.textContent = "";
    syncDue();
    els.dialog.showModal();
    (result === POSTPONE ? els.dlgDue : (needsDialog(result) ? els.dlgReason : document.getElementById("dlg-ok"))).focus();
  }

  function syncDue() {
    const postpone = els.dlgResult.value === POSTPONE;
    els.dlgDueLabel.hidden = !postpone;
    els.dlgDue.required = postpone;
    els.dlgReason.required = REASON_REQUIRED.indexOf(els.dlgResult.value) >= 0;
  }

  async function submitDecision(body, target) {
    const before = state.items.find(function (it) { return it.record_id === state.selected; });
    const pos = before ? before.position : -1;
    let res;
    if (target.recordId) {
      res = await api("POST", API + "/items/" + target.recordId + "/decision", body);
    } else {
      res = await api("POST", API + "/decisions", Object.assign({}, body, { filter: target.filter }));
    }
    showBatch(res.batch);
    say((res.round_name || "") + "：" + res.count + " 件/卷作出结论「" + body.result + "」" + (res.replaced ? "（其中 " + res.replaced + " 件/卷替换了先前的结论）" : ""));
    await loadItems(false);
    const next = target.recordId ? nextUndecided(pos) : (state.items.find(function (it) { return it.record_id === state.selected; }) || nextUndecided(-1));
    if (next) await select(next.record_id);
    else if (state.items.length) await select(state.items[0].record_id);
    else clear(els.item);
  }

  async function decideSelected(result) {
    if (!CAN_DECIDE || applied() || state.selected === null) return;
    const item = state.items.find(function (it) { return it.record_id === state.selected; });
    if (!item) return;
    const target = { recordId: item.record_id };
    if (needsDialog(result)) {
      openDialog(result, target, "条目：" + (item.archival_code || "") + " " + item.title);
      return;
    }
    try { await submitDecision({ result: result, review_due: null, reason: "", basis: "" }, target); }
    catch (e) { say(e.message, true); }
  }

  async function bulk(result, filter, label) {
    if (!CAN_DECIDE || applied()) return;
    const p = new URLSearchParams();
    for (const k of Object.keys(filter)) p.set(k, String(filter[k]));
    p.set("limit", "1");
    let count = 0;
    try { count = (await api("GET", API + "/items?" + p.toString())).total; }
    catch (e) { say(e.message, true); return; }
    if (!count) { say(label + "：没有符合条件的条目。", true); return; }
    openDialog(result, { filter: filter, count: count }, label + "：将对 " + count + " 件/卷作出结论，请确认。");
  }

  els.dlgResult.addEventListener("change", syncDue);
  els.dlgForm.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); els.dlgForm.requestSubmit(); }
  });
  document.getElementById("dlg-cancel").addEventListener("click", function () { els.dialog.close(); });
  els.dlgForm.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const body = {
      result: els.dlgResult.value,
      review_due: els.dlgDue.value || null,
      reason: els.dlgReason.value.trim(),
      basis: els.dlgBasis.value.trim(),
    };
    if (body.result === POSTPONE && !body.review_due) { els.dlgError.textContent = "延期开放须填写复审日期"; els.dlgDue.focus(); return; }
    if (REASON_REQUIRED.indexOf(body.result) >= 0 && !body.reason) { els.dlgError.textContent = "结论为「" + body.result + "」时须填写理由"; els.dlgReason.focus(); return; }
    const target = state.pending;
    try {
      document.getElementById("dlg-ok").disabled = true;
      await submitDecision(body, target);
      els.dialog.close();
    } catch (e) {
      els.dlgError.textContent = e.message;
    } finally {
      document.getElementById("dlg-ok").disabled = false;
    }
  });

  // ---- events --------------------------------------------------------------------------------

  els.list.addEventListener("click", function (ev) {
    const li = ev.target.closest("li[data-record-id]");
    if (li) select(Number(li.dataset.recordId), false);
  });
  els.item.addEventListener("click", function (ev) {
    const b = ev.target.closest("button.decide");
    if (b) { decideSelected(b.dataset.result); return; }
    const g = ev.target.closest("button.goto");
    if (g) gotoHit(g.dataset.hit);
  });
  els.filter.addEventListener("change", async function () {
    try {
      await loadItems(false);
      const keep = state.items.find(function (it) { return it.record_id === state.selected; });
      if (keep) await select(keep.record_id);
      else if (state.items.length) await select(state.items[0].record_id);
      else { state.selected = null; clear(els.item); els.item.appendChild(el("p", { className: "muted", text: "没有符合筛选条件的条目。" })); }
    } catch (e) { say(e.message, true); }
  });
  els.more.addEventListener("click", function () { loadItems(true).catch(function (e) { say(e.message, true); }); });

  const bulkNoHits = document.getElementById("bulk-nohits");
  if (bulkNoHits) bulkNoHits.addEventListener("click", function () {
    bulk("开放", { no_hits: true, undecided: true }, "本批次无命中且本轮未作结论的条目 → 开放");
  });
  const bulkFilter = document.getElementById("bulk-filter");
  if (bulkFilter) bulkFilter.addEventListener("click", function () {
    const result = document.getElementById("bulk-result").value;
    bulk(result, filterBody(), "按当前筛选批量作出结论「" + result + "」");
  });

  function action(id, url, confirmText, done) {
    const b = document.getElementById(id);
    if (!b) return;
    b.addEventListener("click", async function () {
      if (confirmText && !window.confirm(confirmText)) return;
      b.disabled = true;
      try {
        const res = await api("POST", API + url, {});
        showBatch(res.batch || res);
        say(done(res));
        await loadItems(false);
        if (state.selected !== null) await select(state.selected, false);
      } catch (e) { say(e.message, true); }
      finally { b.disabled = false; }
    });
  }
  action("btn-claim", "/claim", null, function (b) { return "已领取「" + b.current_round_name + "」任务"; });
  action("btn-advance", "/advance", "本轮结束，进入下一轮？", function (b) { return "已进入「" + b.current_round_name + "」"; });
  action("btn-apply", "/apply", "将终审结论写入目录（开放标识与审核日期），写入后批次不能再改动。继续？", function () { return "审核结果已写入目录"; });

  const unitForm = document.getElementById("unit-form");
  if (unitForm) unitForm.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    try {
      const res = await api("POST", API + "/unit-opinions", new FormData(unitForm), true);
      showBatch(res.batch);
      say("已导入 " + res.imported + " 条单位意见");
      unitForm.reset();
      await loadItems(false);
      if (state.selected !== null) await select(state.selected, false);
    } catch (e) { say("单位意见未导入：" + e.message, true); }
  });

  document.addEventListener("keydown", function (ev) {
    if (els.dialog.open) return;  // the dialog handles Enter / Esc itself
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    const key = ev.key;
    let handled = true;
    if (key === "j" || key === "ArrowDown") move(1);
    else if (key === "k" || key === "ArrowUp") move(-1);
    else if (key === "n") {
      const cur = state.items.find(function (it) { return it.record_id === state.selected; });
      const next = nextUndecided(cur ? cur.position : -1);
      if (next) select(next.record_id);
    } else if (key === "h") gotoHit();
    else if (KEY_RESULTS[key] && RESULTS.indexOf(KEY_RESULTS[key]) >= 0) decideSelected(KEY_RESULTS[key]);
    else if (/^[1-9]$/.test(key) && Number(key) <= RESULTS.length) decideSelected(RESULTS[Number(key) - 1]);
    else handled = false;
    if (handled) ev.preventDefault();
  });

  // ---- start ---------------------------------------------------------------------------------

  (async function start() {
    try {
      showBatch(await api("GET", API));
      await loadItems(false);
      const first = nextUndecided(-1) || state.items[0];
      if (first) await select(first.record_id);
      else els.item.replaceChildren(el("p", { className: "muted", text: "本批次没有您可查看的条目。" }));
    } catch (e) { say(e.message, true); }
  })();
})();
