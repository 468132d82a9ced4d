/* 一屏掌控: draws /api/dashboard with the vendored ECharts, follows /api/dashboard/stream
   (Server-Sent Events, falls back to polling) and lists the records behind a clicked figure. */
(function () {
  "use strict";
  var KPIS = ["holdings.fonds", "holdings.files", "holdings.items", "holdings.gb", "holdings.photos",
    "holdings.minutes", "growth.this_year", "digitisation.scanned", "digitisation.frames",
    "linking.ratio", "ocr.backlog", "open.rate", "open.this_year", "review.items",
    "publication.online", "publication.this_year", "use.visits", "use.items", "xarchive.open", "ingest.queue", "ingest.transfers",
    "storage.copies", "storage.fixity", "storage.alerts", "disposal.destroyed", "backup.last",
    "backup.tested", "search.lag", "summary.lag"];
  var KIND_UNITS = { transfer: " 批移交", page: " 页", review_batch: " 个批次", backup: " 份备份" };
  var COLORS = ["#7a1f1f", "#a33a2a", "#c8742c", "#d9a441", "#5b8c5a", "#3f6e8c", "#6b5b95", "#8c6d62"];
  var charts = {};
  var byKey = {};
  var drillState = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function fmt(f) {
    if (f.status !== "ok") { return "未启用"; }
    if (f.value === null) { return "—"; }
    var v = f.value;
    if (f.unit === "GB") { return v < 0.01 && v > 0 ? "< 0.01" : v.toFixed(2); }
    if (typeof v === "number" && !Number.isInteger(v)) { return v.toFixed(2); }
    return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
      charts[id].on("click", function (p) {
        var key = p.data && p.data.figure;
        if (key) { drill(key, p.data.params || {}, p.data.label || p.name); }
      });
      window.addEventListener("resize", function () { charts[id].resize(); });
    }
    return charts[id];
  }

  function kpis(data) {
    var box = document.getElementById("kpis");
    box.textContent = "";
    KPIS.forEach(function (key) {
      var f = byKey[key];
      if (!f) { return; }
      var tile = el("button", "kpi" + (f.status === "ok" ? "" : " disabled"));
      tile.type = "button";
      tile.dataset.figure = key;
      tile.appendChild(el("span", "label", f.label));
      tile.appendChild(el("span", "value", fmt(f)));
      tile.appendChild(el("span", "unit", f.unit));
      if (f.target !== null && f.target !== undefined) {
        tile.appendChild(el("span", "target", "目标 " + f.target + " %"));
      }
      tile.title = f.note || "";
      if (f.drill) { tile.addEventListener("click", function () { drill(key, {}, f.label); }); }
      box.appendChild(tile);
    });
    var list = document.getElementById("disabled-list");
    list.textContent = "";
    data.figures.forEach(function (f) {
      if (f.status !== "ok") { list.appendChild(el("li", null, f.label + "：" + (f.note || "未启用"))); }
    });
  }

  function points(f) {
    return f.series.map(function (p) {
      return { name: p.label, value: p.value, figure: f.key, params: p.params, label: f.label + " · " + p.label };
    });
  }

  function bar(id, f, horizontal) {
    var pts = points(f);
    var cat = { type: "category", data: pts.map(function (p) { return p.name; }),
      axisLabel: { interval: 0, fontSize: 11, hideOverlap: false } };
    var val = { type: "value", minInterval: 1 };
    chart(id).setOption({
      color: COLORS, animation: false, tooltip: { trigger: "item" },
      grid: { left: 60, right: 20, top: 20, bottom: 40 },
      xAxis: horizontal ? val : cat, yAxis: horizontal ? cat : val,
      series: [{ type: "bar", data: pts, label: { show: true, position: horizontal ? "right" : "top" } }]
    }, true);
  }

  function pie(id, f) {
    chart(id).setOption({
      color: COLORS, animation: false, tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: points(f), label: { formatter: "{b}\n{c}" } }]
    }, true);
  }

  function growth(f) {
    var target = f.target || 0;
    chart("chart-growth").setOption({
      animation: false,
      series: [{
        type: "gauge", min: 0, max: Math.max(20, Math.ceil((f.value || 0) / 10) * 10),
        progress: { show: true, width: 14 }, axisLine: { lineStyle: { width: 14 } },
        detail: { formatter: "{value} %", fontSize: 20 }, title: { offsetCenter: [0, "75%"] },
        data: [{ value: f.value || 0, name: "目标 ≥ " + target + " %", figure: f.key, params: {}, label: f.label }]
      }]
    }, true);
  }

  function rates() {
    var keys = ["digitisation.ratio", "digitisation.scanned", "open.rate"];
    var data = keys.map(function (k) {
      var f = byKey[k];
      return { name: f.label, value: f.value || 0, figure: k, params: {}, label: f.label };
    });
    chart("chart-rates").setOption({
      color: COLORS, animation: false, tooltip: { trigger: "item", formatter: "{b}：{c} %" },
      grid: { left: 84, right: 56, top: 10, bottom: 30 },
      xAxis: { type: "value", max: 100, interval: 50, axisLabel: { formatter: "{value} %" } },
      yAxis: { type: "category", data: data.map(function (d) { return d.name; }),
        axisLabel: { width: 78, overflow: "break", fontSize: 11 } },
      series: [
        { type: "bar", data: data, label: { show: true, position: "right", formatter: "{c} %" } },
        { type: "scatter", symbol: "diamond", symbolSize: 14, itemStyle: { color: "#1f2328" }, tooltip: { formatter: "目标 {c} %" },
          data: keys.map(function (k) { return byKey[k].target || 0; }).map(function (t, i) { return [t, i]; }) }
      ]
    }, true);
  }

  function empty(id, text) {
    chart(id).setOption({ title: { text: text, left: "center", top: "middle",
      textStyle: { color: "#8a8f98", fontSize: 14, fontWeight: "normal" } }, series: [] }, true);
  }

  function linking(f) {
    if (!f.series.length) { empty("chart-linking", f.note || "暂无专题库"); return; }
    var pts = points(f);
    chart("chart-linking").setOption({
      color: ["#3f6e8c"], animation: false, tooltip: { trigger: "item", formatter: "{b}：{c} %" },
      grid: { left: 50, right: 20, top: 20, bottom: 40 },
      xAxis: { type: "category", data: pts.map(function (p) { return p.name; }) },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value} %" } },
      series: [{ type: "bar", data: pts, label: { show: true, position: "top", formatter: "{c} %" },
        markLine: { symbol: "none", lineStyle: { color: "#7a1f1f", type: "dashed" },
          label: { position: "insideEndTop", formatter: "目标 {c} %" },
          data: [{ yAxis: f.target || 0 }] } }]
    }, true);
  }

  function stacked(id, pairs, color, none) {
    var pts = [];
    pairs.forEach(function (pair) {
      var f = byKey[pair[0]];
      if (!f || f.status !== "ok") { return; }
      points(f).forEach(function (p) { p.name = pair[1] + " " + p.name; pts.push(p); });
    });
    if (!pts.length) { empty(id, none); return; }
    var cat = { type: "category", data: pts.map(function (p) { return p.name; }) };
    chart(id).setOption({
      color: [color], animation: false, tooltip: { trigger: "item" },
      grid: { left: 150, right: 40, top: 10, bottom: 30 },
      xAxis: { type: "value", minInterval: 1 }, yAxis: cat,
      series: [{ type: "bar", data: pts, label: { show: true, position: "right" } }]
    }, true);
  }

  function draw(data) {
    byKey = {};
    data.figures.forEach(function (f) { byKey[f.key] = f; });
    kpis(data);
    bar("chart-category", byKey["holdings.by_category"], false);
    bar("chart-year", byKey["holdings.by_year"], false);
    growth(byKey["growth.this_year"]);
    rates();
    bar("chart-queue", byKey["ingest.queue"], true);
    pie("chart-carrier", byKey["holdings.by_carrier"]);
    linking(byKey["linking.ratio"]);
    stacked("chart-work", [["ocr.backlog", "OCR"], ["review.items", "开放审核"]], "#c8742c", "暂无待办");
    stacked("chart-use", [["use.purposes", "目的"], ["use.visits", "渠道"]], "#5b8c5a", "本年尚无利用登记");
    var status = document.getElementById("dash-status");
    status.textContent = "数据截至审计日志第 " + data.seq + " 条事件 · 更新于 " + new Date().toLocaleTimeString("zh-CN");
    document.body.dataset.seq = String(data.seq);
  }

  function drill(key, params, label) {
    drillState = { key: key, params: params, offset: 0, label: label };
    document.getElementById("drill-rows").textContent = "";
    loadDrill();
  }

  function third(kind, it) {
    if (kind === "page") { return "第 " + it.page_no + " 页" + (it.record_id ? "" : "（未挂接）"); }
    if (kind === "review_batch") { return it.round + " · " + it.items + " 条"; }
    if (kind === "backup") { return it.verified_ok === true ? "恢复测试通过" : (it.verified_ok === false ? "恢复测试未通过" : "未测试"); }
    return it.state_label || (it.year !== null && it.year !== undefined ? String(it.year) : "");
  }

  function loadDrill() {
    var s = drillState;
    var q = new URLSearchParams(s.params);
    q.set("offset", String(s.offset));
    q.set("limit", "50");
    fetch("/api/dashboard/drill/" + encodeURIComponent(s.key) + "?" + q.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var box = document.getElementById("drill");
        box.hidden = false;
        document.getElementById("drill-title").textContent = "明细：" + s.label;
        document.getElementById("drill-total").textContent = "共 " + d.total + (KIND_UNITS[d.kind] || " 条");
        var body = document.getElementById("drill-rows");
        d.items.forEach(function (it) {
          var tr = el("tr");
          var first = el("td");
          var link = el("a", null, d.kind === "transfer" || d.kind === "backup" ? it.uid : (it.archival_code || ("#" + it.id)));
          if (it.href) { link.href = it.href; }
          first.appendChild(link);
          tr.appendChild(first);
          tr.appendChild(el("td", null, it.title || it.file || it.source_name || ""));
          tr.appendChild(el("td", null, third(d.kind, it)));
          body.appendChild(tr);
        });
        s.offset += d.items.length;
        document.getElementById("drill-more").hidden = s.offset >= d.total;
        box.scrollIntoView({ behavior: "smooth", block: "start" });
      });
  }

  function poll() {
    fetch("/api/dashboard", { credentials: "same-origin" })
      .then(function (r) { return r.json(); }).then(draw);
    window.setTimeout(poll, 10000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("drill-more").addEventListener("click", loadDrill);
    if (window.EventSource) {
      var es = new EventSource("/api/dashboard/stream");
      es.addEventListener("figures", function (e) { draw(JSON.parse(e.data)); });
      es.onerror = function () {
        if (es.readyState === EventSource.CLOSED) { poll(); }
      };
    } else {
      poll();
    }
  });
}());
