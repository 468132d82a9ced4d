"""End to end: BagIt, EEP and offline transfers through the job — accepted, flagged, rejected;
catalogue rows, events and the AIP all or nothing."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from factories import create_fonds
from ingest.builders import make_bag, make_eep, make_eep_set, make_offline, sample_items
from lantai.archival import Level
from lantai.errors import Problem, ValidationFailed
from lantai.ingest.pipeline import Pipeline
from lantai.ingest.service import Submission, submit, work_dir
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, JobState, default_registry
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import (
    Event,
    IngestTransfer,
    Job,
    Record,
    RecordFile,
    RecordText,
    ReviewState,
    TransferState,
)


@pytest.fixture
def fonds(any_instance: Instance, operator: Actor) -> Record:
    return create_fonds(any_instance, operator, code="Z109")


def ingest(inst: Instance, source: Path, **kw: Any) -> IngestTransfer:
    """Submit ``source`` and run its job to the end in this thread; the final transfer row."""
    kw.setdefault("fonds_code", "Z109")
    kw.setdefault("category", "WS")
    with inst.db.write() as s:
        row, _ = submit(inst, s, Actor.operator(), Submission(source=source, **kw))
    runner = InProcessRunner(inst, default_registry())
    assert row.job_id is not None
    runner.run_until_idle()
    with inst.db.read() as s:
        final = s.get(IngestTransfer, row.id)
    assert final is not None
    return final


def _items(inst: Instance) -> list[Record]:
    with inst.db.read() as s:
        return list(
            s.scalars(select(Record).where(Record.level == Level.ITEM.value).order_by(Record.id))
        )


def _actions(inst: Instance, uid: str) -> list[str]:
    with inst.db.read() as s:
        return list(
            s.scalars(select(Event.action).where(Event.object_id == uid).order_by(Event.seq))
        )


def _report(inst: Instance, row: IngestTransfer) -> dict[str, Any]:
    assert row.report_key
    with open_store(inst.settings).open(row.report_key) as f:
        data: dict[str, Any] = json.load(f)
    return data


def _assert_clean_staging(inst: Instance, row: IngestTransfer) -> None:
    assert not work_dir(inst.settings, row.uid).exists()
    uploads = inst.settings.staging_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


STEPS = [
    "ingest:transfer:received",
    "ingest:transfer:unpacked",
    "ingest:digests:calculated",
    "ingest:formats:identified",
    "ingest:transfer:checked",
]


@pytest.mark.parametrize("form", ["dir", "zip"])
def test_bag_is_accepted_and_catalogued(
    any_instance: Instance, fonds: Record, tmp_path: Path, form: str
) -> None:
    inst = any_instance
    items = sample_items(3)
    bag = make_bag(tmp_path, items, form=form)  # type: ignore[arg-type]
    row = ingest(inst, bag)
    assert row.state == TransferState.DONE, row.error
    # No virus scanner here: 4-1/4-2 are 人工复核, so the transfer is accepted and flagged.
    assert row.decision == "accept_flagged" and row.review == ReviewState.PENDING
    assert row.record_count == 3 and row.fonds_id == fonds.id
    assert (row.actual_items, row.actual_files) == (3, 6)
    assert _actions(inst, row.uid) == [
        *STEPS,
        "ingest:aip:stored",
        "ingest:transfer:accepted",
    ]

    records = _items(inst)
    assert [r.archival_code for r in records] == [i.values["archival_code"] for i in items]
    assert [r.title for r in records] == [i.values["title"] for i in items]
    with inst.db.read() as s:
        series = s.get(Record, records[0].parent_id)
        assert series is not None and series.title == "文书档案 2011年"
        files = list(s.scalars(select(RecordFile).order_by(RecordFile.id)))
        texts = list(s.scalars(select(RecordText)))
        created = s.scalars(
            select(Event.detail).where(Event.action == "catalogue:records:created")
        ).all()
        added = s.scalars(select(Event.detail).where(Event.action == "catalogue:texts:added")).all()
        per_record = s.scalar(
            select(func.count()).where(Event.action == "catalogue:record:created")
        )
        assert inst.audit.verify(s).ok
    assert len(files) == 6 and {f.aip_id for f in files} == {row.aip_id}
    # ONE event for the transfer's records: the range, and which 电子文件号 became which record.
    assert len(created) == 1 and per_record == 1  # the one record:created is the 类别
    batch = json.loads(created[0])
    assert (batch["transfer"], batch["aip"], batch["count"]) == (row.uid, row.aip_id, 3)
    assert (batch["first_id"], batch["last_id"]) == (records[0].id, records[-1].id)
    assert batch["records"] == [
        [r.id, i.key, r.archival_code] for r, i in zip(records, items, strict=True)
    ]
    assert len(added) == 1 and json.loads(added[0])["record_ids"] == sorted(
        {t.record_id for t in texts}
    )
    # Every linked file is in the stored AIP, with the digests recorded at receipt.
    store = open_store(inst.settings)
    for f in files:
        info = store.stat(f"{row.aip_id}/{f.path}")
        assert (info.size, info.sha256, info.sm3) == (f.size, f.sha256, f.sm3)
        assert f.puid == "lantai/ofd"
    original = dict(items[0].files)
    with store.open(f"{row.aip_id}/data/objects/{items[0].files[0][0]}") as fh:
        assert fh.read() == original[items[0].files[0][0]]
    # Full text from the OFDs went to the full-text table.
    assert texts and any(items[0].values["title"] in t.text for t in texts)
    # The report is kept inside the AIP and readable through its key.
    report = _report(inst, row)
    assert report["decision"]["code"] == "accept_flagged"
    assert report["transfer"]["uid"] == row.uid
    assert store.exists(f"{row.aip_id}/data/METS.xml")
    _assert_clean_staging(inst, row)
    with inst.db.read() as s:
        assert inst.audit.verify(s).ok


class _WorkerDied(Exception):
    pass


class _DiesBeforeCatalogue(Pipeline):
    def _catalogue(self, row: IngestTransfer) -> None:
        raise _WorkerDied


@pytest.mark.parametrize("resumed", [False, True])
def test_plain_texts_reach_the_catalogue(
    any_instance: Instance, fonds: Record, tmp_path: Path, resumed: bool
) -> None:
    """A plain-text file's text is catalogued (decoded from the staged file, not carried through
    the snapshot), also when another worker resumes the transfer after the store step."""
    items = sample_items(2)
    words = {}
    for n, item in enumerate(items):
        name = f"{item.key}-正文.txt"
        words[item.key] = f"第{n}件：关于防汛抗旱的通知\r\n各单位：……".encode()
        item.files = [(name, words[item.key]), *item.files[1:]]
    instance = any_instance
    bag = make_bag(tmp_path, items)
    with instance.db.write() as s:
        row, _ = submit(
            instance,
            s,
            Actor.operator(),
            Submission(source=bag, fonds_code="Z109", category="WS"),
        )
    if resumed:
        with pytest.raises(_WorkerDied):
            _DiesBeforeCatalogue(instance).run(row.id)
        with instance.db.read() as s:
            stopped = s.get(IngestTransfer, row.id)
            assert stopped is not None and stopped.state == TransferState.STORED
    assert Pipeline(instance).run(row.id) is TransferState.DONE
    with instance.db.read() as s:
        stored = {
            (rid, part, text)
            for rid, part, text in s.execute(
                select(RecordText.record_id, RecordText.part, RecordText.text)
            )
        }
    by_key = {r.archival_code: r.id for r in _items(instance)}
    expected = {
        (by_key[i.values["archival_code"]], f"{i.key}-正文.txt", words[i.key].decode())
        for i in items
    }
    assert expected <= stored


def test_eep_and_offline_transfers(any_instance: Instance, fonds: Record, tmp_path: Path) -> None:
    inst = any_instance
    items = sample_items(4)
    eep = make_eep(tmp_path / "eep", items[0])
    row = ingest(inst, eep)
    assert row.state == TransferState.DONE, row.error
    assert row.kind == "eep" and row.record_count == 1

    offline = make_offline(tmp_path / "off", items[1:3])
    row2 = ingest(inst, offline)
    assert row2.state == TransferState.DONE, row2.error
    assert row2.kind == "offline" and row2.record_count == 2

    eep_set = make_eep_set(tmp_path / "set", items[3:], form="zip")
    row3 = ingest(inst, eep_set)
    assert row3.state == TransferState.DONE, row3.error
    assert row3.kind == "eep_set" and row3.record_count == 1
    assert sorted(r.archival_code or "" for r in _items(inst)) == sorted(
        i.values["archival_code"] for i in items
    )


def test_blocking_failure_rejects_and_keeps_the_report(
    any_instance: Instance, fonds: Record, tmp_path: Path
) -> None:
    inst = any_instance
    bag = make_bag(tmp_path, sample_items(2), defects=["bad_sha256"], form="zip")
    row = ingest(inst, bag)
    assert row.state == TransferState.REJECTED and row.decision == "reject"
    assert row.aip_id is None and row.record_count == 0
    assert _items(inst) == []  # catalogue untouched
    assert _actions(inst, row.uid) == [*STEPS, "ingest:transfer:rejected"]
    report = _report(inst, row)
    failed = [i["code"] for i in report["items"] if i["status"] == "failed" and i["blocking"]]
    assert "YJ-1-1" in failed
    store = open_store(inst.settings)
    assert row.report_key and row.report_key.startswith(f"rpt-{row.uid}/")
    assert store.exists(f"rpt-{row.uid}/四性检测报告.pdf")
    assert [p for p in store.packages() if not p.startswith("rpt-")] == []
    _assert_clean_staging(inst, row)


def test_unsafe_package_is_rejected_with_a_report(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    create_fonds(instance, operator, code="Z109")
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../../etc/cron.d/x")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    row = ingest(instance, evil)
    assert row.state == TransferState.REJECTED
    report = _report(instance, row)
    (item,) = report["items"]
    assert item["code"] == "YJ-4-7" and item["status"] == "failed" and item["blocking"]
    assert "../../etc/cron.d/x" in json.dumps(report, ensure_ascii=False)
    assert _actions(instance, row.uid) == [
        "ingest:transfer:received",
        "ingest:transfer:checked",
        "ingest:transfer:rejected",
    ]
    _assert_clean_staging(instance, row)
    assert not (tmp_path.parent / "etc").exists()


def test_quick_mode_runs_only_cheap_checks(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    create_fonds(instance, operator, code="Z109")
    row = ingest(instance, make_bag(tmp_path, sample_items(2)), mode="quick")
    assert row.state == TransferState.DONE, row.error
    report = _report(instance, row)
    assert report["mode"] == "quick"
    assert all(i["code"] not in ("YJ-4-2", "YJ-3-3") for i in report["items"])


def test_catalogue_failure_leaves_nothing(
    instance: Instance, operator: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record refused inside the catalogue transaction: no record, no file link, no AIP."""
    create_fonds(instance, operator, code="Z109")
    before_records = _items(instance)
    original = type(instance.catalogue)._prepare
    calls = {"n": 0}

    def refuse_second(self: Any, session: Any, actor: Any, draft: Any, **kw: Any) -> Any:
        prep = original(self, session, actor, draft, **kw)
        if draft.level is Level.ITEM:
            calls["n"] += 1
            if calls["n"] == 2:
                prep.problems.append(Problem(field="档号", message="测试：拒绝"))
        return prep

    monkeypatch.setattr(type(instance.catalogue), "_prepare", refuse_second)
    row = ingest(instance, make_bag(tmp_path, sample_items(3), form="zip"))
    assert row.state == TransferState.FAILED and "测试：拒绝" in (row.error or "")
    assert _items(instance) == before_records
    with instance.db.read() as s:
        assert s.scalar(select(func.count()).select_from(RecordFile)) == 0
        job = s.get(Job, row.job_id)
        assert job is not None and job.state == JobState.FAILED and job.attempts == 1
        series = s.scalars(select(Record).where(Record.level == Level.SERIES.value)).all()
    assert series == []  # the series created in the rolled-back transaction is gone too
    actions = _actions(instance, row.uid)
    assert actions[-2:] == ["ingest:aip:stored", "ingest:transfer:failed"]
    assert "ingest:transfer:accepted" not in actions
    store = open_store(instance.settings)
    assert row.aip_id and store.package(row.aip_id) is None  # the uncommitted AIP is gone
    discarded = _actions(instance, row.aip_id)
    assert discarded == ["storage:package:discarded"]
    _assert_clean_staging(instance, row)


def test_same_key_same_transfer(instance: Instance, operator: Actor, tmp_path: Path) -> None:
    create_fonds(instance, operator, code="Z109")
    bag = make_bag(tmp_path, sample_items(1))
    a = ingest(instance, bag, idempotency_key="batch-1")
    b = ingest(instance, bag, idempotency_key="batch-1")
    assert a.uid == b.uid
    assert len(_items(instance)) == 1


def test_submission_is_checked_before_anything_is_written(
    instance: Instance, tmp_path: Path
) -> None:
    with pytest.raises(ValidationFailed) as exc, instance.db.write() as s:
        submit(
            instance,
            s,
            Actor.operator(),
            Submission(source=tmp_path / "nothing", fonds_code="Q999", category="XX"),
        )
    fields = {p.field for p in exc.value.problems}
    assert {"全宗号", "门类"} <= fields
    with instance.db.read() as s:
        assert s.scalar(select(func.count()).select_from(IngestTransfer)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


@pytest.fixture
def clamd(tmp_path: Path) -> Iterator[str]:
    from formats.clamav_support import clamd_path, private_clamd

    if clamd_path() is None:
        pytest.skip("clamd is not installed (Debian clamav-daemon)")
    with private_clamd(tmp_path / "clamd") as daemon:
        yield f"unix:{daemon.unix.path}"


def test_virus_rejects_and_clean_package_scans(
    instance: Instance, operator: Actor, tmp_path: Path, clamd: str
) -> None:
    instance.settings.clamav_address = clamd
    create_fonds(instance, operator, code="Z109")
    clean = ingest(instance, make_bag(tmp_path / "a", sample_items(1), form="zip"))
    assert clean.state == TransferState.DONE
    report = _report(instance, clean)
    scans = {i["code"]: i["status"] for i in report["items"]}
    assert scans["YJ-4-1"] == "passed" and scans["YJ-4-2"] == "passed"
    infected = ingest(instance, make_bag(tmp_path / "b", sample_items(1), defects=["eicar"]))
    assert infected.state == TransferState.REJECTED
    report = _report(instance, infected)
    virus = next(i for i in report["items"] if i["code"] == "YJ-4-2")
    assert virus["status"] == "failed"


def test_giving_up_after_the_catalogue_commit_finishes_the_transfer(
    instance: Instance, operator: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantai.ingest.pipeline import Pipeline
    from lantai.ingest.service import mark_failed

    create_fonds(instance, operator, code="Z109")

    def broken_cleanup(self: Any, row: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Pipeline, "_finish", broken_cleanup)
    row = ingest(instance, make_bag(tmp_path, sample_items(2), form="zip"))
    assert row.state == TransferState.CATALOGUED  # retried later; not lost
    with instance.db.read() as s:
        job = s.get(Job, row.job_id)
        assert job is not None and job.state == JobState.QUEUED and "disk full" in (job.error or "")
    assert not mark_failed(instance, row.id, "OSError: disk full")
    with instance.db.read() as s:
        final = s.get(IngestTransfer, row.id)
    assert final is not None and final.state == TransferState.DONE and final.record_count == 2
    assert "接收已完成" in (final.error or "")
    assert final.aip_id and open_store(instance.settings).package(final.aip_id) is not None
    assert len(_items(instance)) == 2
    _assert_clean_staging(instance, final)
    assert "ingest:transfer:failed" not in _actions(instance, row.uid)
