"""The work the fault campaigns kill: ingest (+ replication), OCR, disposal, the web server.

Each workload prepares what a campaign needs in-process (fonds, scan batches, reviewed disposal
batches — not under test here) and offers :class:`~faults.harness.Step` s that run the real
command line, with the fault points each may be killed at.
"""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import func, select

from factories import create_fonds
from faults.harness import Campaign, Lab, Step
from ingest.builders import make_bag, sample_items
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor, Perm
from lantai.store import DisposalBatch, IngestTransfer, Job, ScanBatch, TransferState, utcnow

__all__ = [
    "DisposalWork",
    "IngestWork",
    "OcrWork",
    "pending_work",
]

# (point, highest hit worth trying) — the points a run of each command passes.
STORE_POINTS = [("storage.local.put", 12), ("storage.local.renamed", 1)]
REPLICATION_POINTS = [
    ("replication.copied", 1),
    ("replication.recorded", 1),
    ("storage.tar.volumes", 1),
]
JOB_POINTS = [("jobs.claimed", 2), ("jobs.ran", 2)]
INGEST_POINTS = [
    ("ingest.stage.read", 1),
    ("ingest.stage.snapshot", 1),
    ("ingest.staged", 1),
    ("ingest.check.reports", 1),
    ("ingest.checked", 1),
    ("ingest.aip_committed", 1),
    ("ingest.stored", 1),
    ("catalogue.records.created", 1),
    ("ingest.catalogue.written", 1),
    ("ingest.catalogued", 1),
    ("ingest.finish.cleaned", 1),
    ("ingest.reject.report_stored", 1),
    *STORE_POINTS,
    *REPLICATION_POINTS,
    *JOB_POINTS,
]
OCR_POINTS = [
    ("ocr.page.recognised", 4),
    ("ocr.page.committed", 4),
    ("ocr.texts.added", 1),
    ("ocr.pdf.stored", 2),
    ("storage.local.put", 2),
    *JOB_POINTS,
]
DISPOSAL_POINTS = [
    ("disposal.location.destroyed", 4),
    ("storage.local.destroy.index", 2),
    ("disposal.item.destroyed", 2),
    ("disposal.register.stored", 1),
    ("storage.local.put", 2),
    ("storage.local.renamed", 1),
]
RESUME = ["ingest", "resume"]


def pending_work(lab: Lab) -> bool:
    """Is there a transfer in progress, or a job running or due?"""
    with lab.instance() as inst, inst.db.read() as s:
        open_transfers = s.scalar(
            select(func.count()).where(
                IngestTransfer.state.not_in(
                    [TransferState.DONE.value, TransferState.REJECTED.value, "failed"]
                )
            )
        )
        jobs = s.scalar(
            select(func.count()).where(
                (Job.state == "running") | ((Job.state == "queued") & (Job.run_after <= utcnow()))
            )
        )
    return bool(open_transfers or jobs)


class IngestWork:
    """Transfers of a few 件 each (every fifth one is rejected: a wrong SHA-256)."""

    def __init__(self, lab: Lab, *, items: int = 2, fonds: bool = True) -> None:
        self.lab = lab
        self.items = items
        self.n = 0
        self.expected: list[str] = []
        self.last: list[str] | None = None
        if fonds:
            with lab.instance() as inst:
                create_fonds(inst, Actor.operator(), code="Z109")

    def submit(self) -> list[str]:
        self.n += 1
        reject = self.n % 5 == 0
        items = sample_items(self.items, year=1980 + self.n, pages=1)
        pkg = make_bag(
            self.lab.root / f"transfer-{self.n}",
            items,
            defects=("bad_sha256",) if reject else (),
            form="zip" if self.n % 2 else "dir",
        )
        if not reject:
            self.expected += [str(i.values["archival_code"]) for i in items]
        key = f"faults-{self.n}"
        self.last = ["ingest", "run", str(pkg), "--fonds", "Z109", "--category", "WS", "--key", key]
        return self.last

    def again(self) -> list[str] | None:
        """The same `lantai ingest run` once more (an agency retrying with its key)."""
        return self.last

    def resume(self) -> list[str] | None:
        return RESUME if pending_work(self.lab) else None

    def steps(self) -> tuple[Step, Step, Step, Step]:
        return (
            Step("ingest run", self.submit, INGEST_POINTS, ok=(0, 2)),
            Step("ingest run again", self.again, INGEST_POINTS, ok=(0, 1, 2)),
            Step("ingest resume", self.resume, INGEST_POINTS),
            Step("search catchup", lambda: ["search", "catchup"], [("search.index.committed", 1)]),
        )

    def walk(self, campaign: Campaign, kills: int) -> None:
        run, again, resume, catchup = self.steps()

        def choose(rng: random.Random) -> Step:
            r = rng.random()
            if self.n > 1 and r > 0.92:
                return catchup
            if self.last is not None and r < 0.15:
                return again
            if r < 0.55 and pending_work(self.lab):
                return resume
            return run

        campaign.walk(kills, choose, max_runs=kills * 3)


class OcrWork:
    """Scan batches of two linked 件 of two pages each, recognised with tesseract."""

    def __init__(self, lab: Lab, *, batches: int = 3) -> None:
        from digitisation_support import make_items, render_page, save
        from lantai.digitisation.batch import import_batch
        from lantai.digitisation.linking import link_batch

        self.lab = lab
        self.uids: list[str] = []
        self.done: set[str] = set()
        op = Actor.operator()
        with lab.instance() as inst:
            items = make_items(inst, op, [2] * (2 * batches))
            for b in range(batches):
                root = lab.root / f"scan-{b}"
                for _rid, code in items[2 * b : 2 * b + 2]:
                    for page in (1, 2):
                        img = render_page(b * 10 + page, width_mm=50)
                        save(img, root / code / f"{page:04d}.png")
                batch = import_batch(inst, op, root, fonds_code="Z109")
                link_batch(inst, op, batch.id)
                self.uids.append(batch.uid)
        self.current: str | None = None

    def ocr(self) -> list[str] | None:
        todo = [u for u in self.uids if u not in self.done]
        if not todo:
            return None
        self.current = todo[0]
        return ["scan", "ocr", todo[0], "--engine", "tesseract"]

    def steps(self) -> tuple[Step, Step]:
        return (
            Step("scan ocr", self.ocr, OCR_POINTS),
            Step("ingest resume", lambda: RESUME if pending_work(self.lab) else None, OCR_POINTS),
        )

    def walk(self, campaign: Campaign, kills: int) -> None:
        ocr, resume = self.steps()

        def choose(rng: random.Random) -> Step:
            if pending_work(self.lab) and rng.random() < 0.5:
                return resume
            return ocr

        target = campaign.kills + kills
        start = campaign.runs
        while campaign.kills < target and campaign.runs - start < kills * 3:
            step = choose(campaign.rng)
            run = campaign.once(step)
            if run is None:
                break
            if step is ocr and not run.killed and self.current:
                self.done.add(self.current)

    def finished(self) -> bool:
        with self.lab.instance() as inst, inst.db.read() as s:
            rows = s.scalars(select(ScanBatch).where(ScanBatch.uid.in_(self.uids))).all()
            return all(r.ocr for r in rows)


REVIEW_PERMS = frozenset(
    {Perm.DISPOSAL_REVIEW, Perm.DISPOSAL_READ, Perm.DISPOSAL_APPROVE, Perm.CATALOGUE_RECORD_READ}
)


class DisposalWork:
    """An ingested transfer of expired 件 (D10, 2011) in batches reviewed to 销毁 in two rounds."""

    def __init__(self, lab: Lab, *, batches: int = 4, per_batch: int = 2) -> None:
        from lantai.disposal import Decision, create_batch, decide
        from lantai.ingest.service import Submission, submit
        from lantai.store import Record

        self.lab = lab
        op = Actor.operator()
        chen = Actor(username="chen", display_name="陈工", user_id=11, permissions=REVIEW_PERMS)
        wang = Actor(username="wang", display_name="王馆长", user_id=12, permissions=REVIEW_PERMS)
        n = batches * per_batch
        items = sample_items(n + 1, year=2011, pages=1)
        for i, item in enumerate(items, 1):
            ret = "D10" if i <= n else "Y"
            item.values["retention"] = ret
            item.values["archival_code"] = f"Z109-WS·2011-{ret}-BGS-{i:04d}"
            item.values["item_no"] = i
        self.codes = [str(i.values["archival_code"]) for i in items]
        self.uids: list[str] = []
        with lab.instance() as inst:
            create_fonds(inst, op, code="Z109")
            with inst.db.write() as s:
                submit(
                    inst,
                    s,
                    op,
                    Submission(
                        source=make_bag(lab.root / "expired", items),
                        fonds_code="Z109",
                        category="WS",
                    ),
                )
            InProcessRunner(inst, default_registry()).run_until_idle()
            with inst.db.read() as s:
                ids = dict(
                    s.execute(
                        select(Record.archival_code, Record.id).where(Record.level == "item")
                    ).all()
                )
            d10 = [ids[c] for c in self.codes[:n]]
            for b in range(batches):
                chunk = d10[b * per_batch : (b + 1) * per_batch]
                with inst.db.write() as s:
                    uid = create_batch(
                        inst,
                        s,
                        chen,
                        title=f"到期鉴定{b + 1}",
                        record_ids=chunk,
                        as_of=date.today(),
                    ).uid
                for rnd, who in ((1, chen), (2, wang)):
                    with inst.db.write() as s:
                        decide(
                            inst,
                            s,
                            who,
                            uid,
                            rnd,
                            [Decision(r, "destroy", "已无查考利用价值") for r in chunk],
                        )
                self.uids.append(uid)

    def execute(self) -> list[str] | None:
        with self.lab.instance() as inst, inst.db.read() as s:
            open_ = list(
                s.scalars(
                    select(DisposalBatch.uid)
                    .where(DisposalBatch.uid.in_(self.uids), DisposalBatch.state == "open")
                    .order_by(DisposalBatch.id)
                )
            )
        return ["disposal", "execute", open_[0]] if open_ else None

    def steps(self) -> tuple[Step, Step]:
        return (
            Step("disposal execute", self.execute, DISPOSAL_POINTS),
            Step(
                "ingest resume",
                lambda: RESUME if pending_work(self.lab) else None,
                [*REPLICATION_POINTS, *JOB_POINTS],
            ),
        )

    def walk(self, campaign: Campaign, kills: int) -> None:
        execute, resume = self.steps()

        def choose(rng: random.Random) -> Step:
            if pending_work(self.lab) and rng.random() < 0.3:
                return resume
            return execute

        target = campaign.kills + kills
        start = campaign.runs
        while campaign.kills < target and campaign.runs - start < kills * 3:
            if campaign.once(choose(campaign.rng)) is None:
                break

    def finish(self) -> list[list[str]]:
        """Commands that complete what is left: execute every open batch, then the jobs."""
        out: list[list[str]] = []
        while (cmd := self.execute()) is not None:
            run = self.lab.lantai(*cmd)
            assert run.returncode == 0, run.text[-3000:]
            out.append(cmd)
        return out
