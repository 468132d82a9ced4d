// Lazy fonds tree: each node loads its children page by page from the JSON API.
"use strict";
(function () {
  const LEVELS = { fonds: "全宗", series: "类别", file: "案卷", item: "件" };
  const PAGE = 50;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function fetchPage(url, cursor) {
    const u = new URL(url, window.location.origin);
    u.searchParams.set("limit", PAGE);
    if (cursor) u.searchParams.set("cursor", cursor);
    const r = await fetch(u, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) { window.location = "/login?next=/browse"; return null; }
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
    return body;
  }

  function nodeItem(rec) {
    const li = el("li", { "data-id": rec.id, "data-level": rec.level });
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false", "aria-label": "展开 " + rec.title }, "▸");
    if (!rec.has_children) toggle.setAttribute("disabled", "disabled");
    li.appendChild(toggle);
    li.appendChild(el("span", { class: "node-level" }, LEVELS[rec.level] || rec.level));
    if (rec.archival_code) li.appendChild(el("span", { class: "node-code" }, rec.archival_code));
    li.appendChild(el("a", { href: "/records/" + rec.id }, rec.title));
    toggle.addEventListener("click", () => toggleNode(li, toggle, rec.id));
    return li;
  }

  async function loadInto(ul, url, cursor) {
    const page = await fetchPage(url, cursor);
    if (!page) return;
    for (const rec of page.items) ul.appendChild(nodeItem(rec));
    const old = ul.querySelector(":scope > li.more-row");
    if (old) old.remove();
    if (page.next_cursor) {
      const li = el("li", { class: "more-row" });
      const shown = ul.querySelectorAll(":scope > li[data-id]").length;
      const btn = el("button", { type: "button", class: "more" }, "加载更多（已显示 " + shown + " / " + page.total + "）");
      btn.addEventListener("click", () => { btn.disabled = true; loadInto(ul, url, page.next_cursor).catch(showError); });
      li.appendChild(btn);
      ul.appendChild(li);
    }
  }

  async function toggleNode(li, toggle, id) {
    let ul = li.querySelector(":scope > ul");
    if (ul) {
      const open = toggle.getAttribute("aria-expanded") === "true";
      ul.hidden = open;
      toggle.setAttribute("aria-expanded", String(!open));
      toggle.textContent = open ? "▸" : "▾";
      return;
    }
    ul = el("ul");
    li.appendChild(ul);
    toggle.setAttribute("aria-expanded", "true");
    toggle.textContent = "▾";
    await loadInto(ul, "/api/records/" + id + "/children").catch(showError);
  }

  function showError(err) {
    const tree = document.getElementById("tree");
    tree.prepend(el("p", { class: "alert", role: "alert" }, "加载失败：" + err.message));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const tree = document.getElementById("tree");
    const ul = el("ul");
    tree.replaceChildren(ul);
    loadInto(ul, tree.dataset.rootUrl).then(() => {
      if (!ul.children.length) tree.replaceChildren(el("p", { class: "muted" }, "尚无全宗。"));
    }).catch(showError);
  });
})();
