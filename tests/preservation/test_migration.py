"""Format migration: DOCX/XLSX → PDF/A-2b via LibreOffice headless, the original kept, derivative
linked and replicated; an absent converter lists the items (skipped, with the reason)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from factories import create_fonds
from ingest.builders import make_bag, sample_items
from lantai.formats.pdf import inspect_pdf
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.preservation import list_migrations, migrate
from lantai.preservation.tasks import enqueue_migration
from lantai.security import Actor
from lantai.storage import open_store, policy_satisfied
from lantai.store import Event, FormatMigration, IngestTransfer, RecordFile
from preservation.office import docx_bytes, make_xlsx

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed: scripts/bootstrap.sh installs it",
)


@pytest.fixture
def transfer(instance: Instance, tmp_path: Path) -> str:
    items = sample_items(2)
    xlsx = make_xlsx(tmp_path / "t.xlsx", [["档号", "题名"], ["Z109-WS·2011-Y-BGS-0001", "通知"]])
    name0, name1 = items[0].files[1][0], items[1].files[1][0]
    items[0].files[1] = (str(Path(name0).with_suffix(".docx")), docx_bytes("关于档案工作的通知"))
    items[1].files[1] = (str(Path(name1).with_suffix(".xlsx")), xlsx.read_bytes())
    create_fonds(instance, Actor.operator(), code="Z109")
    with instance.db.write() as s:
        submit(
            instance,
            s,
            Actor.operator(),
            Submission(source=make_bag(tmp_path / "bag", items), fonds_code="Z109", category="WS"),
        )
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        row = s.scalar(select(IngestTransfer))
        assert row is not None and row.state == "done", row and row.error
        return row.uid


def test_absent_converter_lists_then_migration_writes_linked_pdfa(
    instance: Instance, transfer: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    with monkeypatch.context() as m:  # a machine without LibreOffice
        m.setenv("PATH", str(empty))
        summary = migrate(instance, "chen", transfer_uid=transfer)
    assert (summary.converted, summary.skipped, summary.failed) == (0, 2, 0)
    assert summary.kept == 2 and not summary.packages  # the OFD 正文 are kept as they are
    assert all("未安装转换工具 LibreOffice" in i["reason"] for i in summary.listed)
    with instance.db.read() as s:
        listed = list_migrations(s, state="skipped")
    assert len(listed) == 2 and listed[0]["state_label"].startswith("未转换")

    store = open_store(instance.settings)
    with instance.db.read() as s:
        originals = {
            f.id: (f.aip_id, f.path, f.sha256)
            for f in s.scalars(select(RecordFile))
            if f.path.endswith((".docx", ".xlsx"))
        }
    assert len(originals) == 2

    with instance.db.write() as s:  # as a job, with LibreOffice present
        enqueue_migration(s, actor="chen", transfer_uid=transfer)
    InProcessRunner(instance, default_registry()).run_until_idle()
    with instance.db.read() as s:
        rows = list(s.scalars(select(FormatMigration).order_by(FormatMigration.id)))
        events = list(
            s.scalars(select(Event).where(Event.action == "preservation:format:migrated"))
        )
    assert [r.state for r in rows] == ["done", "done"]
    assert {r.record_file_id for r in rows} == set(originals)
    assert len(events) == 2
    package = rows[0].derivative_package
    assert package is not None and all(r.derivative_package == package for r in rows)
    for r in rows:
        aip, path, sha = originals[r.record_file_id]
        assert store.stat(f"{aip}/{path}").sha256 == sha  # the original is untouched
        assert r.derivative_path == f"data/{path}.pdf" and r.target_format == "PDF/A-2b"
        pdf = tmp_path / f"{r.id}.pdf"
        with store.open(f"{package}/{r.derivative_path}") as f:
            pdf.write_bytes(f.read())
        assert inspect_pdf(pdf).pdfa.claim == "2B"
        detail = json.loads(next(e.detail for e in events if e.object_id == str(r.record_id)))
        assert detail["original"] == f"{aip}/{path}" and detail["format"] == "PDF/A-2b"
    with store.open(f"{package}/migration.json") as f:
        manifest = json.load(io.TextIOWrapper(f, "utf-8"))
    assert {d["original_sha256"] for d in manifest["derivatives"]} == {
        sha for _, _, sha in originals.values()
    }
    assert policy_satisfied(instance, package)  # replicated like every package

    again = migrate(instance, "chen", transfer_uid=transfer)  # nothing converted twice
    assert (again.converted, again.already) == (0, 2)

    # the CLI reads the same instance
    from typer.testing import CliRunner

    from lantai.cli.main import app as cli_app

    monkeypatch.setenv("LANTAI_HOME", str(instance.settings.resolved_home))
    monkeypatch.delenv("LANTAI_DATABASE_URL", raising=False)
    runner = CliRunner()
    r = runner.invoke(cli_app, ["preserve", "list", "--state", "done", "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)) == 2
    r = runner.invoke(cli_app, ["preserve", "migrate", "--transfer", transfer])
    assert r.exit_code == 0 and "此前已迁移 2" in r.output, r.output
    r = runner.invoke(cli_app, ["preserve", "migrate"])
    assert r.exit_code == 1 and "只指定一个范围" in r.output
