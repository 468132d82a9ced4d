"""The index follows the event log, survives crashes, rebuilds without a gap, has one writer."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.demo.generator import generate_records
from lantai.errors import Conflict
from lantai.instance import Instance
from lantai.search import Indexer, SearchParams, SearchReader, SearchRuntime, add_text, search_home
from lantai.search.index import IndexState
from lantai.search.schema import SCHEMA_VERSION
from lantai.security import Actor
from lantai.store import Record
from search_support import SearchKit, make_kit

OP = Actor.operator()


def _series(inst: Instance) -> Record:
    fonds = create_fonds(inst, OP)
    return create_series(inst, OP, fonds.id, "文书档案 2011年")


def test_catalogue_changes_reach_the_index_through_events(any_kit: SearchKit) -> None:
    kit = any_kit
    series = _series(kit.inst)
    rec = kit.item(series.id, title="关于档案馆新馆建设的请示")
    assert kit.ids("新馆建设") == []  # not applied yet
    assert kit.sync() > 0
    assert kit.ids("新馆建设") == [rec.id]
    # an update replaces the document
    with kit.inst.db.write() as s:
        kit.inst.catalogue.update_record(s, OP, rec.id, {"title": "关于档案馆库房改造的请示"})
    kit.sync()
    assert kit.ids("新馆建设") == []
    assert kit.ids("库房改造") == [rec.id]
    # withdrawn records leave the index, restored ones come back
    with kit.inst.db.write() as s:
        kit.inst.catalogue.withdraw(s, OP, rec.id, reason="重复著录")
    kit.sync()
    assert kit.ids("库房改造") == []
    with kit.inst.db.write() as s:
        kit.inst.catalogue.restore(s, OP, rec.id)
    kit.sync()
    assert kit.ids("库房改造") == [rec.id]


def test_full_text_is_indexed_and_shown_in_a_snippet(any_kit: SearchKit) -> None:
    kit = any_kit
    rec = kit.item(_series(kit.inst).id, title="会议纪要")
    add_text(kit.inst, OP, rec.id, "第1页", "ocr", "會議決定：檔案館開放時間為每週一至週五。")
    kit.sync()
    res = kit.search(q="档案馆开放时间")
    assert [h.id for h in res.hits] == [rec.id]
    snippet = res.hits[0].highlights["fulltext"]
    assert [s.text for s in snippet if s.mark] == ["檔案館開放時間"]
    assert res.hits[0].snippet_part == "第1页"
    assert kit.ids("全文:周一至周五") == [rec.id]
    assert kit.ids("题名:周一至周五") == []
    # the same text again changes nothing; a new text for the part replaces it
    head = kit.indexer.head()
    add_text(kit.inst, OP, rec.id, "第1页", "ocr", "會議決定：檔案館開放時間為每週一至週五。")
    assert kit.indexer.head() == head
    add_text(kit.inst, OP, rec.id, "第1页", "ocr", "会议决定：查档预约改为网上办理。")
    kit.sync()
    assert kit.ids("档案馆开放时间") == []
    assert kit.ids("查档预约") == [rec.id]


def test_generated_batches_are_indexed_by_their_id_range(any_kit: SearchKit) -> None:
    kit = any_kit
    summary = generate_records(kit.inst, records=1200, batch=500, seed=3, years=(2001, 2005))
    kit.sync()
    res = kit.search(year_from=2001, year_to=2005, size=1)
    assert res.total == summary.count + len(summary.series_ids) == 1205  # items + 类别 per year
    with kit.inst.db.read() as s:
        title = s.scalar(select(Record.title).where(Record.id == summary.last_id))
    assert title is not None and summary.last_id in kit.ids(f'"{title}"', size=100)


def test_replaying_events_after_a_crash_duplicates_nothing(kit: SearchKit) -> None:
    series = _series(kit.inst)
    rec = kit.item(series.id, title="关于推进数字档案馆建设的意见")
    kit.sync()
    gen = kit.indexer.home.current()
    assert gen is not None
    # crash after the tantivy commit, before state.json was written: the state is behind
    state = gen.read_state()
    assert state is not None
    gen.write_state(IndexState(seq=0, complete=True, records=state.records))
    kit.indexer.release()
    again = make_kit(kit.inst)  # a new process starting up
    try:
        assert again.indexer.home.current() == gen  # caught up, not rebuilt
        assert again.ids("数字档案馆建设") == [rec.id]
        assert again.search(size=1).total == kit.search(size=1).total
    finally:
        again.indexer.release()


def test_restart_catches_up_without_rebuilding(kit: SearchKit) -> None:
    series = _series(kit.inst)
    kit.sync()
    gen = kit.indexer.home.current()
    kit.indexer.release()
    rec = kit.item(series.id, title="关于开展档案安全检查的通知")  # written while no indexer ran
    again = make_kit(kit.inst)
    try:
        assert again.indexer.home.current() == gen
        assert again.ids("档案安全检查") == [rec.id]
    finally:
        again.indexer.release()


def test_unusable_indexes_are_rebuilt(kit: SearchKit) -> None:
    series = _series(kit.inst)
    rec = kit.item(series.id, title="关于档案数字化外包安全管理的规定")
    kit.sync()
    home = kit.indexer.home
    gen = home.current()
    assert gen is not None
    state = gen.read_state()
    assert state is not None
    # an index ahead of the event log (the database was restored from a backup) …
    gen.write_state(IndexState(seq=state.seq + 1000, complete=True))
    # … and an unfinished generation left by a crash during a rebuild
    (home.root / "gen-000099").mkdir()
    kit.indexer.release()
    again = make_kit(kit.inst)
    try:
        new = home.current()
        assert new is not None and new.name != gen.name
        assert not (home.root / "gen-000099").exists()
        assert again.ids("数字化外包") == [rec.id]
    finally:
        again.indexer.release()


def test_index_of_an_older_schema_is_rebuilt(kit: SearchKit) -> None:
    rec = kit.item(_series(kit.inst).id, title="关于档案开放审核的办法")
    kit.sync()
    gen = kit.indexer.home.current()
    assert gen is not None
    state = gen.read_state()
    assert state is not None
    gen.write_state(IndexState(seq=state.seq, schema_version=SCHEMA_VERSION - 1, complete=True))
    kit.indexer.release()
    assert SearchReader(kit.indexer.home).snapshot() is None  # never queried with today's schema
    again = make_kit(kit.inst)
    try:
        assert again.indexer.home.current() != gen
        assert again.ids("开放审核") == [rec.id]
    finally:
        again.indexer.release()


def test_a_second_writer_is_locked_out_and_changes_nothing(kit: SearchKit) -> None:
    rec = kit.item(_series(kit.inst).id, title="关于档案馆对外开放的公告")
    kit.sync()
    home = search_home(kit.inst)
    second = Indexer(kit.inst, home)
    assert not second.acquire()
    with pytest.raises(Conflict, match="另一进程"):
        second.catch_up()
    with pytest.raises(Conflict):
        second.rebuild()
    # another process cannot take it either
    code = (
        "import sys; from lantai.search.index import SearchHome, WriterLock; "
        "from pathlib import Path; "
        "sys.exit(0 if not WriterLock(SearchHome(Path(sys.argv[1]))).acquire() else 3)"
    )
    assert subprocess.run([sys.executable, "-c", code, str(home.root)], check=False).returncode == 0
    # and a runtime started in this state searches but does not index …
    runtime = SearchRuntime.start(kit.inst, interval=0.05, standby=0.05)
    try:
        assert not runtime.indexing
        other = kit.item(_series_for(kit.inst).id, title="关于档案馆闭馆整修的公告")
        time.sleep(0.3)
        assert runtime.service.search(OP, SearchParams(q="闭馆整修")).total == 0
        assert [h.id for h in runtime.service.search(OP, SearchParams(q="对外开放")).hits] == [
            rec.id
        ]
        # … until the holder exits: then it takes over and catches up
        kit.indexer.release()
        deadline = time.monotonic() + 10
        while runtime.service.search(OP, SearchParams(q="闭馆整修")).total == 0:
            assert time.monotonic() < deadline, "the standby runtime did not take over"
            time.sleep(0.05)
        assert runtime.indexing
        assert runtime.service.search(OP, SearchParams(q="闭馆整修")).hits[0].id == other.id
    finally:
        runtime.stop()
    assert home.current() is not None
    assert second.acquire()  # released by the runtime when it stopped
    second.release()


def _series_for(inst: Instance) -> Record:
    with inst.db.read() as s:
        found = s.scalar(select(Record).where(Record.level == Level.SERIES.value))
    assert found is not None
    return found


def test_rebuild_swaps_in_without_a_moment_of_empty_results(kit: SearchKit) -> None:
    generate_records(kit.inst, records=3000, batch=1000, seed=5, years=(2001, 2003))
    series = _series_for(kit.inst)
    kit.sync()
    before = kit.indexer.home.current()
    failures: list[str] = []
    totals: list[int] = []
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                res = kit.search(q="关于", size=5)
                totals.append(res.total)
                if res.total == 0 or not res.hits:
                    failures.append(f"empty result in {res.generation}")
            except Exception as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=query) for _ in range(2)]
    for t in threads:
        t.start()
    added: list[int] = []

    def write_during_rebuild(_: int) -> None:
        if len(added) < 3:  # the scan would otherwise meet each new record and go on forever
            added.append(kit.item(series.id, title=f"关于重建期间新增条目的说明{len(added)}").id)

    try:
        write_during_rebuild(0)
        report = kit.indexer.rebuild(progress=write_during_rebuild)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert len(totals) > 10
    after = kit.indexer.home.current()
    assert after is not None and before is not None and after.name != before.name
    assert report.records >= 3000
    # writes made while the new generation was being built are in it
    found = kit.ids("重建期间新增条目", size=100)
    assert sorted(found) == sorted(added)
    # the old generation is kept for readers that have not noticed the swap; older ones go
    kit.indexer.rebuild()
    names = [g.name for g in kit.indexer.home.generations()]
    assert before.name not in names and after.name in names


def test_parallel_rebuild_equals_in_process_rebuild(kit: SearchKit) -> None:
    generate_records(kit.inst, records=2500, batch=1000, seed=9, years=(2001, 2002))
    rec = kit.item(_series_for(kit.inst).id, title="關於檔案館開放的通知")
    add_text(kit.inst, OP, rec.id, "正文", "extracted", "自即日起，周六开放查档服务。")
    kit.sync()
    queries = ["关于", "档案馆开放", "全文:周六开放", "年度:2001", "通知 -工作"]
    before = {q: kit.search(q=q, size=1).total for q in queries}
    kit.indexer.workers, kit.indexer.pool_threshold = 2, 0
    report = kit.indexer.rebuild()
    assert report.records == kit.search(size=1).total
    assert {q: kit.search(q=q, size=1).total for q in queries} == before
    assert kit.ids("全文:周六开放") == [rec.id]


def test_runtime_indexes_a_write_by_itself(instance: Instance) -> None:
    """The indexing thread follows the event log on its own (poll interval 0.5 s): a write becomes
    searchable with no call from the writer. Latency is a benchmark matter; the bound here (ten
    poll intervals) only guards against a stalled thread on a loaded machine."""
    series = _series(instance)
    runtime = SearchRuntime.start(instance, interval=0.5)
    try:
        deadline = time.monotonic() + 30
        while runtime.reader.snapshot() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with instance.db.write() as s:
            rec = instance.catalogue.create_record(
                s,
                OP,
                parent_id=series.id,
                level=Level.ITEM,
                values=item_values(title="关于档案日活动的安排"),
            )
        written = time.monotonic()
        found = False
        while not found and time.monotonic() - written < 5:
            found = bool(runtime.service.search(OP, SearchParams(q="档案日活动")).total)
            time.sleep(0.02)
        assert found
        assert [h.id for h in runtime.service.search(OP, SearchParams(q="档案日活动")).hits] == [
            rec.id
        ]
        # a rebuild asked for by another process (the CLI) is done by the running indexer
        gen = runtime.home.current()
        runtime.home.request_rebuild()
        deadline = time.monotonic() + 30
        while runtime.home.current() == gen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.home.current() != gen
        assert runtime.service.search(OP, SearchParams(q="档案日活动")).total == 1
    finally:
        runtime.stop()


def test_status_reports_generation_lag_and_size(kit: SearchKit) -> None:
    kit.item(_series(kit.inst).id, title="关于档案统计年报的通知")
    st = kit.indexer.status()
    assert st.lag > 0
    kit.sync()
    st = kit.indexer.status()
    assert st.lag == 0 and st.complete and st.schema_ok
    assert st.records >= 3 and st.size_bytes > 0
    gen = kit.indexer.home.current()
    assert gen is not None and st.generation == gen.name
    assert json.loads(gen.state_path.read_text())["seq"] == st.seq
