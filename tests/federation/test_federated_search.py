"""Federated search across real nodes: one live, one hung (SIGSTOP), one dead (closed port).

Querying node 310001 (A) has three partners: 330001 (B) and 320001 (C), real `lantai serve`
processes with published catalogues, and 340001 (D), registered (its keys trusted) but never
started: its port is closed. Each partner node verifies A's signed query against its own
registry and answers from its open catalogue (published 开放 records only). With C stopped by
SIGSTOP (the port accepts connections, nothing answers) the call still returns within the
per-node time-out plus a small overhead, with B's results, ``partial: true`` and C and D named.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from factories import create_fonds, create_series, item_values
from federation.conftest import make_node
from federation.nodes import PW, Node, free_port, parallel, start_all, wait_for
from lantai.appraisal.publication import publish_all_open
from lantai.archival import Level
from lantai.federation.identity import node_info
from lantai.security import Actor

pytestmark: Any = pytest.mark.timeout(240) if hasattr(pytest.mark, "timeout") else []
OP = Actor.operator()
TIMEOUT = 0.8  # search.node_timeout_seconds of the shipped federation.yaml
# what the call may take beyond the per-node time-out (A's own work: signing, verifying replies)
OVERHEAD = 0.7
CATALOGUES = {
    "330001": [
        ("杭州市婚姻登记工作情况报告", "开放"),
        ("关于婚姻登记档案移交的通知", "开放"),
        ("婚姻登记内部审查意见（控制）", "控制"),
    ],
    "320001": [("南京市婚姻登记统计表", "开放"), ("婚姻登记涉密请示（控制）", "控制")],
}


def _fill(node: Node) -> None:
    """Records (some 开放 and published, some 控制) made in-process before the server starts."""
    inst = node.instance()
    try:
        fonds = create_fonds(inst, OP, "M001", name=f"{node.name}民政", responsible="民政局")
        series = create_series(inst, OP, fonds.id, title="婚姻登记")
        with inst.db.write() as s:
            for title, status in CATALOGUES[node.code]:
                inst.catalogue.create_record(
                    s,
                    OP,
                    parent_id=series.id,
                    level=Level.ITEM,
                    values=item_values(title=title, date="19880612", open_status=status),
                )
        publish_all_open(inst, OP, reason="测试：公布开放条目")
    finally:
        inst.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("fedsearch")
    specs = [("310001", "上海市档案馆"), ("330001", "杭州市档案馆"), ("320001", "南京市档案馆")]
    nodes = {code: Node(code, name, tmp / code, free_port()) for code, name in specs}
    a, b, c = nodes["310001"], nodes["330001"], nodes["320001"]
    # D: a node that exists (its key document) but whose server is not running: a closed port
    dead_port = free_port()
    d = make_node(tmp, "340001", "合肥市档案馆")
    with d.db.read() as s:
        d_doc = node_info(s)
    d.close()
    d_keys = tmp / "340001-keys.json"
    d_keys.write_text(json.dumps(d_doc["keys"]), encoding="utf-8")

    def setup(n: Node) -> None:
        n.batch(
            [
                ["init", "--archive-code", n.code, "--archive-name", n.name],
                ["node", "init", "--url", n.url],
                ["users", "create", "clerk", "--name", "办事员", *_role("archivist")],
                ["users", "create", "admin", "--name", "系统管理员", *_role("sysadmin")],
            ]
        )
        if n.code in CATALOGUES:
            _fill(n)

    try:
        parallel(setup, nodes.values())
        start_all(nodes.values())

        def link(n: Node) -> None:
            if n is a:
                cmds: list[list[str]] = []
                for p in (b, c):
                    cmds.append(["node", "add-partner", "--url", p.url])
                    cmds.append(["node", "trust", p.code, *_keys(p.fingerprints())])
                dead = ["--url", f"http://127.0.0.1:{dead_port}", "--code", "340001"]
                cmds.append(
                    ["node", "add-partner", *dead, "--name", "合肥市档案馆", "--keys", str(d_keys)]
                )
                fps = [k["key_id"] for k in d_doc["keys"]["keys"]]
                cmds.append(["node", "trust", "340001", *_keys(fps)])
                n.batch(cmds)
            else:
                n.batch(
                    [
                        ["node", "add-partner", "--url", a.url],
                        ["node", "trust", a.code, *_keys(a.fingerprints())],
                    ]
                )

        parallel(link, nodes.values())
        for n in nodes.values():
            n.login("clerk")
        a.login("admin")
        for n in (b, c):  # the indexing thread of each server has caught up
            wait_for(
                lambda n=n: (
                    n.call("GET", "/api/search", "clerk", params={"q": "婚姻登记"})
                    .json()
                    .get("total", 0)
                    >= len(CATALOGUES[n.code])
                ),
                f"the search index of {n.code}",
                timeout=60,
            )
        yield {"nodes": nodes, "dead_port": dead_port}
    finally:
        for n in nodes.values():
            n.stop()


def _role(role: str) -> list[str]:
    return ["--role", role, "--password", PW]


def _keys(fingerprints: list[str]) -> list[str]:
    return [x for fp in fingerprints for x in ("--key", fp)]


def _search(a: Node, q: str = "婚姻登记") -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    r = a.call("GET", "/api/federation/federated-search", "clerk", params={"q": q})
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    return dict(r.json()), elapsed


def _titles(result: dict[str, Any], code: str) -> set[str]:
    node = next(n for n in result["nodes"] if n["archive_code"] == code)
    return {h["title"] for h in node["hits"]}


def _open_titles(code: str) -> set[str]:
    return {t for t, status in CATALOGUES[code] if status == "开放"}


def test_a_dead_node_is_named_and_the_live_ones_answer_from_open_catalogues(
    net: dict[str, Any],
) -> None:
    a = net["nodes"]["310001"]
    result, elapsed = _search(a)
    assert result["partial"] is True and result["failed"] == ["340001"]
    status = {n["archive_code"]: n["status"] for n in result["nodes"]}
    assert status == {"330001": "ok", "320001": "ok", "340001": "error"}
    dead = next(n for n in result["nodes"] if n["archive_code"] == "340001")
    assert dead["status_label"] == "不可用" and dead["hits"] == [] and dead["error"]
    # open (published) catalogues only: the 控制 records never appear
    assert _titles(result, "330001") == _open_titles("330001")
    assert _titles(result, "320001") == _open_titles("320001")
    assert result["total"] == len(_open_titles("330001")) + len(_open_titles("320001"))
    assert elapsed < TIMEOUT + OVERHEAD, elapsed
    # a node that is not a staff searcher's business: permission checked
    r = a.call("GET", "/api/federation/federated-search", "admin", params={"q": "婚姻"})
    assert r.status_code == 403


def test_a_hung_node_times_out_within_the_bound_and_the_result_is_partial(
    net: dict[str, Any],
) -> None:
    a, c = net["nodes"]["310001"], net["nodes"]["320001"]
    c.pause()  # SIGSTOP: connections are accepted by the kernel, nothing answers
    try:
        for _ in range(2):  # a second call: no connection left hanging from the first
            result, elapsed = _search(a)
            assert elapsed < TIMEOUT + OVERHEAD, elapsed
            assert result["partial"] is True and sorted(result["failed"]) == ["320001", "340001"]
            by_code = {n["archive_code"]: n for n in result["nodes"]}
            assert by_code["320001"]["status"] == "timeout"
            assert by_code["320001"]["status_label"] == "超时"
            assert TIMEOUT * 1000 * 0.9 <= by_code["320001"]["elapsed_ms"] < (TIMEOUT + 0.5) * 1000
            assert by_code["340001"]["status"] == "error"
            assert by_code["330001"]["status"] == "ok"
            assert _titles(result, "330001") == _open_titles("330001")
    finally:
        c.resume()
    # back: complete again apart from the dead node
    result, _ = _search(a)
    assert result["failed"] == ["340001"]
    assert _titles(result, "320001") == _open_titles("320001")
