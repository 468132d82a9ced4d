"""The cross-archive request (跨馆出证) the fault campaigns kill: two archives as real servers.

Two labs are two archives, the 受理馆 310001 (A) and the 出证馆 330001 (B), set up in this
process the way ``tests/federation`` sets up its nodes (``federation.conftest``: node identity,
partners registered and trusted both ways, B's marriage register, a real-name citizen at A) plus
a clerk at each and a 控制 record at A for 出具证明 requests. Each is served by ``lantai serve``
forked from the zygote (:class:`FaultNode`: ``tests/federation``'s ``Node`` whose server is a
:class:`~faults.harness.Forked`), with the message back-off of ``Node.fast_retries``.

One :meth:`CrossArchiveWork.round` is the life of a request, through the HTTP API as people do
it: the citizen applies at A for a 婚姻登记 certificate held by B and for a 出具证明 of A's own
record; A's clerk approves the latter (certificate issued at A) and forwards the former; B's
server receives it and answers ``received``; B's clerk issues the certificate, which travels
back; A's clerk informs the citizen, who downloads it (``collected`` goes to B). Every message
goes through the outboxes and the background delivery jobs of the servers.

A server started with a fault point (``start(fault=…)``) that dies there is checked at once
(:func:`node_violations` and the instance invariants, before anything restarts), restarted
without it, and the round goes on: a request whose server died under it is sent again, as a
person would (a 409 then means it had committed). :func:`pair_violations` checks both archives
against each other once the outboxes are empty.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx2
import yaml
from sqlalchemy import select

from factories import create_fonds, create_series, item_values
from faults.harness import Forked, Lab
from federation.conftest import APPLICANT_ID, OP, citizen, holdings, link
from federation.nodes import Node, free_port
from lantai.access.certify import request_ref
from lantai.access.config import ACCESS_FILE_NAME, load_access_config
from lantai.archival import Level
from lantai.certificates import key_ring, verify_pdf
from lantai.certificates.verify import Verdict
from lantai.federation.identity import init_node
from lantai.federation.livelihood import TRANSITIONS, State
from lantai.federation.reminders import REMIND_KIND
from lantai.instance import Instance
from lantai.jobs import JobState
from lantai.store import AccessRequest, Event, Job, User
from lantai.store.certificates import Certificate
from lantai.store.federation import (
    FederationInbox,
    FederationOutbox,
    LivelihoodRequest,
    LivelihoodStep,
)

__all__ = [
    "ACCEPTING",
    "FED_POINTS",
    "HOLDING",
    "CrossArchiveWork",
    "FaultNode",
    "node_violations",
    "pair_violations",
]

ACCEPTING, HOLDING = "310001", "330001"
CITIZEN, CLERK = "13800138000", "clerk"
FULL_TIMELINE = ["submitted", "forwarded", "received", "issued", "notified", "collected"]
# (point, node, highest hit worth trying): what one round passes at each archive
FED_POINTS: list[tuple[str, str, int]] = [
    ("federation.outbox.sending", ACCEPTING, 3),  # forwarded, notified, collected
    ("federation.outbox.acknowledged", ACCEPTING, 3),
    ("federation.outbox.sending", HOLDING, 2),  # received, issued
    ("federation.outbox.acknowledged", HOLDING, 2),
    ("federation.inbox.applied", HOLDING, 3),
    ("federation.inbox.committed", HOLDING, 3),
    ("federation.inbox.applied", ACCEPTING, 2),
    ("federation.inbox.committed", ACCEPTING, 2),
    ("livelihood.step.recorded", ACCEPTING, 6),
    ("livelihood.step.recorded", HOLDING, 5),
    ("livelihood.certificate.received", ACCEPTING, 1),
    ("certificates.signed", HOLDING, 1),
    ("certificates.registered", HOLDING, 1),
    ("certificates.signed", ACCEPTING, 1),  # the 出具证明 request at A
    ("certificates.registered", ACCEPTING, 1),
    ("access.certified", ACCEPTING, 1),
]


@dataclass
class FaultNode(Node):
    """``tests/federation``'s node whose server is forked from the zygote, maybe with a fault."""

    lab: Lab | None = None
    fault: str | None = None

    def spawn(self) -> None:
        assert self.lab is not None
        forked = self.lab.spawn("serve", "--port", str(self.port), fault=self.fault)
        self.proc = forked  # type: ignore[assignment]  # the Popen methods Node uses

    @property
    def forked(self) -> Forked:
        proc: object = self.proc
        assert isinstance(proc, Forked)
        return proc

    def up(self, fault: str | None = None) -> bool:
        """Start the server; False when it died at its fault point while starting."""
        self.fault = fault
        self.spawn()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.forked.poll() is not None:
                if self.forked.died_at_fault():
                    return False
                raise AssertionError(f"{self.code} did not start: {self.log_tail()}")
            try:
                if httpx2.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return True
            except httpx2.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.code} did not answer: {self.log_tail()}")

    def log_tail(self) -> str:
        assert self.lab is not None
        logs = sorted(self.lab.root.glob("serve-forked-*.err"), key=lambda p: p.stat().st_mtime)
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def down(self) -> None:
        """SIGTERM and wait (the server finishes what it is doing)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        self.proc = None


@dataclass
class CrossArchiveWork:
    """Two archives and the rounds of requests between them (see the module docstring)."""

    root: Path
    a: FaultNode = field(init=False)
    b: FaultNode = field(init=False)
    refs: list[str] = field(default_factory=list)
    access_ids: list[int] = field(default_factory=list)
    kills: int = 0
    points: Counter[str] = field(default_factory=Counter)
    checks: int = 0
    violations: list[str] = field(default_factory=list)
    rounds: int = 0
    misses: int = 0  # rounds whose armed point was not reached
    seed: int = 0
    resent: bool = False  # the last request was sent again (its server died under it)
    _insts: dict[str, Instance] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.a = self._node(ACCEPTING, "上海市档案馆")
        self.b = self._node(HOLDING, "杭州市档案馆")
        with self.instance(self.a) as a, self.instance(self.b) as b:
            for inst in (a, b):
                with inst.db.write() as s:
                    init_node(inst, s, OP)
                    inst.users.create(
                        s,
                        OP,
                        username=CLERK,
                        display_name="办事员",
                        password="Lantai-2026-secure!",
                        roles=("archivist",),
                        clearance="机密",
                    )
            link(a, b)
            link(b, a)
            self.holding_record = holdings(b)["own"]
            citizen(a, phone=CITIZEN)
            self.tokens = {
                code: self._sessions(inst) for code, inst in ((ACCEPTING, a), (HOLDING, b))
            }
            fonds = create_fonds(a, OP, "Q001", name="上海市民政局", responsible="上海市民政局")
            series = create_series(a, OP, fonds.id, title="婚姻登记")
            with a.db.write() as s:
                rec = a.catalogue.create_record(
                    s,
                    OP,
                    parent_id=series.id,
                    level=Level.ITEM,
                    values=item_values(title="张建国户籍迁移登记表", open_status="控制"),
                )
                self.access_record, self.access_code = rec.id, str(rec.archival_code)
            self.purpose = load_access_config(a.settings.resolved_config_dir).purposes["个人"][1]
        for node in (self.a, self.b):
            node.tokens.update(self.tokens[node.code])

    # -- set-up -----------------------------------------------------------------------------------

    def _node(self, code: str, name: str) -> FaultNode:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        lab = Lab(self.root / code, archive_code=code, archive_name=name, public_base_url=url)
        lab.root.mkdir(parents=True)
        lab.initialise()
        node = FaultNode(code, name, lab.home, port, lab=lab)
        node.fast_retries()
        # one client (this test) makes many applications a minute
        packaged = resources.files("lantai.access") / "data" / ACCESS_FILE_NAME
        raw = yaml.safe_load(packaged.read_text(encoding="utf-8"))
        raw["rate_limits"]["apply"] = {"per_minute": 6000, "burst": 6000}
        (lab.home / "config" / ACCESS_FILE_NAME).write_text(
            yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8"
        )
        return node

    @contextmanager
    def instance(self, node: FaultNode) -> Iterator[Instance]:
        """``node``'s archive, opened in this process once (reads run beside its server)."""
        inst = self._insts.get(node.code)
        if inst is None:
            assert node.lab is not None
            inst = self._insts[node.code] = Instance.open(node.lab.settings())
        yield inst

    def close(self) -> None:
        """Stop both servers and close what this process opened."""
        self.stop()
        for inst in self._insts.values():
            inst.close()
        self._insts.clear()

    @staticmethod
    def _sessions(inst: Instance) -> dict[str, str]:
        out = {}
        with inst.db.write() as s:
            for name in (CLERK, CITIZEN):
                user = s.scalar(select(User).where(User.username == name))
                if user is not None:
                    out[name] = inst.sessions.create(s, user, client="faults")[0]
        return out

    # -- servers ----------------------------------------------------------------------------------

    def node(self, code: str) -> FaultNode:
        return self.a if code == ACCEPTING else self.b

    def start(self, fault_node: str | None = None, fault: str | None = None) -> None:
        """(Re)start both servers; the one of ``fault_node`` with ``fault``."""
        for node in (self.a, self.b):
            node.down()
        for node in (self.a, self.b):
            if not node.up(fault if node.code == fault_node else None):
                self._died(node)

    def stop(self) -> None:
        for node in (self.a, self.b):
            node.down()

    def arm(self, fault_node: str, fault: str) -> None:
        """Restart ``fault_node``'s server with ``fault`` (hits count from its start); the other
        one keeps running, restarted only if it still carries an earlier fault."""
        for node in (self.a, self.b):
            if node.code == fault_node or node.fault:
                node.down()
                if not node.up(fault if node.code == fault_node else None):
                    self._died(node)

    def walk(self, rng: random.Random, kills: int, *, max_rounds: int) -> None:
        """Rounds, each with one seeded point of :data:`FED_POINTS` armed, until ``kills`` kills."""
        target = self.kills + kills
        start = self.rounds
        while self.kills < target and self.rounds - start < max_rounds:
            point, code, top = rng.choice(FED_POINTS)
            before = self.kills
            self.arm(code, f"{point}:{rng.randint(1, top)}")
            self.round()
            self.misses += self.kills == before
        for node in (self.a, self.b):  # no fault left armed
            if node.fault and node.proc is not None:
                node.down()
                node.up(None)

    @contextmanager
    def running(self, fault_node: str | None = None, fault: str | None = None) -> Iterator[None]:
        self.start(fault_node, fault)
        try:
            yield
        finally:
            self.stop()

    def _died(self, node: FaultNode) -> None:
        """A server died: it must have been killed at its point; check it, restart it."""
        proc = node.forked
        if not proc.died_at_fault():
            raise AssertionError(
                f"{node.code} server ended with {proc.poll()} (fault {node.fault}): "
                f"{node.log_tail()}"
            )
        assert node.lab is not None and node.fault is not None
        self.kills += 1
        self.points[node.fault.split(":")[0]] += 1
        found = node.lab.check(settled=False)
        with node.lab.instance() as inst:
            found += node_violations(inst)
        self.checks += 1
        self.violations += [f"after kill {node.fault} at {node.code}: {v}" for v in found]
        node.proc = None
        if not node.up(None):  # pragma: no cover - no fault any more
            raise AssertionError(f"{node.code} died again")

    def revive(self) -> None:
        for node in (self.a, self.b):
            if node.proc is not None and node.proc.poll() is not None:
                self._died(node)

    # -- acting as people ---------------------------------------------------------------------------

    def _act(
        self, node: FaultNode, user: str, method: str, path: str, **kw: Any
    ) -> httpx2.Response:
        """One HTTP request, sent again (up to three times) when the server died under it
        (``self.resent`` then says so)."""
        self.resent = False
        for attempt in range(3):
            self.resent = attempt > 0
            try:
                r = node.call(method, path, user, **kw)
            except httpx2.HTTPError:
                self._wait_dead(node)
                self.revive()
                continue
            if r.status_code < 500:
                return r
            raise AssertionError(f"{method} {path} at {node.code}: {r.status_code} {r.text}")
        raise AssertionError(f"{method} {path} at {node.code}: no answer")

    def _wait_dead(self, node: FaultNode) -> None:
        if node.proc is None:
            return
        try:
            node.proc.wait(30)
        except Exception as exc:
            raise AssertionError(
                f"{node.code} does not answer but runs: {node.log_tail()}"
            ) from exc

    def _create(self, node: FaultNode, path: str, listing: str, body: dict[str, Any]) -> Any:
        """A citizen's new application, not sent twice when the first one did commit."""
        before = len(self._act(node, CITIZEN, "GET", listing).json())
        for _ in range(3):
            try:
                r = node.call("POST", path, CITIZEN, json=body)
            except httpx2.HTTPError:
                self._wait_dead(node)
                self.revive()
                rows = self._act(node, CITIZEN, "GET", listing).json()
                if len(rows) > before:  # committed before the server died
                    return rows[0]
                continue
            assert r.status_code == 201, r.text
            return r.json()
        raise AssertionError(f"POST {path}: no answer")

    def _step(self, node: FaultNode, path: str, body: dict[str, Any], state: str, ref: str) -> None:
        r = self._act(node, CLERK, "POST", path, json=body)
        assert r.status_code == 200 or (r.status_code == 409 and self.resent), r.text
        self.wait_until(lambda: self.state(node, ref) == state, f"{ref} {state} at {node.code}")

    def wait_until(self, check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
        """Poll ``check`` (a server that died meanwhile is checked and restarted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.revive()
            value = check()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting for {what}: A {self.pending(self.a)} pending, B "
            f"{self.pending(self.b)} pending\n{self.a.log_tail()}\n{self.b.log_tail()}"
        )

    def state(self, node: FaultNode, ref: str) -> str | None:
        with self.instance(node) as inst, inst.db.read() as s:
            return s.scalar(select(LivelihoodRequest.state).where(LivelihoodRequest.ref == ref))

    def pending(self, node: FaultNode) -> int:
        with self.instance(node) as inst, inst.db.read() as s:
            return len(
                s.scalars(
                    select(FederationOutbox.id).where(FederationOutbox.state == "pending")
                ).all()
            )

    def round(self) -> str:
        """One request from application to collection, and one 出具证明 at A (see module doc)."""
        a, b = self.a, self.b
        self.rounds += 1
        req = self._create(
            a,
            "/api/livelihood/mine",
            "/api/livelihood/mine",
            {
                "holding_code": HOLDING,
                "record_type": "婚姻登记",
                "id_number": APPLICANT_ID,
                "purpose": "办理房产继承公证",
            },
        )
        ref = str(req["ref"])
        self.refs.append(ref)
        access = self._create(
            a,
            "/api/access/mine/requests",
            "/api/access/mine/requests",
            {
                "kind": "出具证明",
                "purpose": self.purpose,
                "description": "证明户籍迁移情况",
                "archival_codes": [self.access_code],
            },
        )
        self.access_ids.append(int(access["id"]))
        r = self._act(
            a,
            CLERK,
            "POST",
            f"/api/access/requests/{access['id']}/approve",
            json={"record_ids": [self.access_record], "days": 30},
        )
        assert r.status_code == 200 or (r.status_code == 409 and self.resent), r.text
        self._step(
            a, f"/api/livelihood/requests/{ref}/forward", {"note": "身份核对无误"}, "forwarded", ref
        )
        self.wait_until(lambda: self.state(a, ref) == "received", f"{ref} received at A")
        self._step(
            b,
            f"/api/livelihood/requests/{ref}/issue",
            {"record_ids": [self.holding_record]},
            "issued",
            ref,
        )
        self.wait_until(lambda: self.state(a, ref) == "issued", f"the certificate of {ref} at A")
        self._step(
            a, f"/api/livelihood/requests/{ref}/notify", {"note": "已电话告知"}, "notified", ref
        )
        r = self._act(a, CITIZEN, "GET", f"/api/livelihood/mine/{ref}/certificate")
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text[:500]
        self.settle()
        return ref

    def settle(self) -> None:
        """Wait until every request reached its end at both archives and nothing is pending."""
        self.wait_until(
            lambda: (
                all(
                    self.state(n, ref) == "collected" for n in (self.a, self.b) for ref in self.refs
                )
                and self.pending(self.a) == 0
                and self.pending(self.b) == 0
            ),
            "every request collected at both archives and both outboxes empty",
        )

    def check(self) -> list[str]:
        """Per archive and between the two (servers may run: each read is one snapshot)."""
        with self.instance(self.a) as a, self.instance(self.b) as b:
            found = [f"A: {v}" for v in node_violations(a)] + [
                f"B: {v}" for v in node_violations(b)
            ]
            found += pair_violations(a, b, refs=self.refs, access_ids=self.access_ids)
        self.checks += 1
        self.violations += found
        return found

    def settled_check(self) -> list[str]:
        """With both servers stopped: the instance invariants (settled) and :meth:`check`."""
        self.stop()
        found = []
        for node, side in ((self.a, "A"), (self.b, "B")):
            assert node.lab is not None
            found += [f"{side}: {v}" for v in node.lab.check(settled=True)]
        self.violations += found
        return found + self.check()

    def report(self) -> dict[str, Any]:
        return {  # the keys of Campaign.report (a round is a run)
            "seed": self.seed,
            "runs": self.rounds,
            "kills": self.kills,
            "delay_kills": 0,
            "point_kills": dict(sorted(self.points.items())),
            "misses": self.misses,
            "checks": self.checks,
            "violations": len(self.violations),
        }


# -- invariants ---------------------------------------------------------------------------------------


def node_violations(inst: Instance) -> list[str]:
    """What holds at one archive at any moment, even right after its server was killed.

    * each request's timeline is a path of the state machine (no step twice) ending in its state;
    * each step has exactly one ``livelihood:request:<state>`` event (the 出证馆's copy of the
      受理馆's ``submitted`` step, which arrives inside the forwarded request, has none);
    * each step taken here that the partner must hear of has exactly one outbox message, and
      each message its step;
    * a certificate issued here is registered exactly once with the request that cites it (code,
      SHA-256 of the PDF as stored); a certificate received from the partner is kept whole and
      verifies against the partner's trusted key;
    * a 出具证明 request approved here has its certificate, registered under its number;
    * the daily deadline check (``federation.remind``) is scheduled at most once.
    """
    out: list[str] = []
    with inst.db.read() as s:
        own = inst.settings.archive_code
        daily = s.scalars(
            select(Job.id).where(Job.kind == REMIND_KIND, Job.state == JobState.QUEUED.value)
        ).all()
        if len(daily) > 1:
            out.append(f"the daily deadline check is scheduled {len(daily)} times: jobs {daily}")
        requests = s.scalars(select(LivelihoodRequest).order_by(LivelihoodRequest.id)).all()
        steps: dict[int, list[LivelihoodStep]] = {}
        for st in s.scalars(select(LivelihoodStep).order_by(LivelihoodStep.id)):
            steps.setdefault(st.request_id, []).append(st)
        events = Counter(
            (oid, action)
            for oid, action in s.execute(
                select(Event.object_id, Event.action).where(
                    Event.object_type == "livelihood_request"
                )
            )
        )
        outbox = Counter(
            (m.ref, str(m.body.get("state")))
            for m in s.scalars(
                select(FederationOutbox).where(FederationOutbox.type == "livelihood.step")
            )
        )
        certs = s.scalars(select(Certificate)).all()
        pdfs = {c.code: bytes(c.pdf) for c in certs}
        ring = key_ring(s)
        expected_outbox: Counter[tuple[str, str]] = Counter()
        for req in requests:
            timeline = [st.state for st in steps.get(req.id, [])]
            if not _is_path(timeline):
                out.append(f"request {req.ref}: timeline {timeline} is not a path of the states")
            if timeline and timeline[-1] != req.state:
                out.append(f"request {req.ref}: state {req.state} but last step {timeline[-1]}")
            for state, n in Counter(timeline).items():
                copied = req.side == "holding" and state == State.SUBMITTED.value
                want = 0 if copied else n
                have = events[(req.ref, f"livelihood:request:{state}")]
                if have != want:
                    out.append(f"request {req.ref}: {n} step(s) {state}, {have} event(s)")
            for st in steps.get(req.id, []):
                if st.node == own and st.state not in (State.SUBMITTED.value, State.REFUSED.value):
                    expected_outbox[(req.ref, st.state)] += 1
            out += _certificate_problems(req, certs, pdfs, ring)
        for key in set(outbox) | set(expected_outbox):
            if outbox[key] != expected_outbox[key]:
                out.append(
                    f"request {key[0]}: {expected_outbox[key]} step(s) {key[1]} taken here, "
                    f"{outbox[key]} message(s)"
                )
        by_ref = Counter(c.request_ref for c in certs if c.request_ref)
        out += [f"{n} certificates for request {r}" for r, n in by_ref.items() if n > 1]
        livelihood_refs = {r.ref for r in requests}
        access = {request_ref(r): r for r in s.scalars(select(AccessRequest))}
        for c in certs:
            if c.request_ref in livelihood_refs:
                continue
            req_a = access.get(c.request_ref or "")
            if req_a is None or req_a.certificate_code != c.code or req_a.status != "approved":
                out.append(
                    f"certificate {c.code} ({c.request_ref}) has no approved request citing it"
                )
        for ref_a, req_a in access.items():
            if req_a.status == "approved" and req_a.kind == "出具证明":
                if not req_a.certificate_code or req_a.certificate_code not in pdfs:
                    out.append(f"access request {ref_a} approved without its certificate")
            elif req_a.certificate_code:
                out.append(f"access request {ref_a} ({req_a.status}) has a certificate")
        for code, pdf in pdfs.items():
            row = next(c for c in certs if c.code == code)
            if hashlib.sha256(pdf).hexdigest() != row.file_sha256:
                out.append(f"certificate {code}: stored PDF differs from its registered SHA-256")
    return out


def _is_path(timeline: list[str]) -> bool:
    if not timeline or timeline[0] != State.SUBMITTED.value or len(set(timeline)) != len(timeline):
        return False
    return all(State(b) in TRANSITIONS.get(State(a), frozenset()) for a, b in pairwise(timeline))


def _certificate_problems(
    req: LivelihoodRequest, certs: Any, pdfs: dict[str, bytes], ring: Any
) -> list[str]:
    out: list[str] = []
    done = {State.ISSUED.value, State.NOTIFIED.value, State.COLLECTED.value}
    if (req.state in done) != bool(req.certificate_code):
        out.append(f"request {req.ref} ({req.state}): certificate code {req.certificate_code!r}")
    if not req.certificate_code:
        return out
    pdf = req.certificate_pdf
    if pdf is None or hashlib.sha256(pdf).hexdigest() != req.certificate_sha256:
        out.append(f"request {req.ref}: certificate {req.certificate_code} without its PDF")
        return out
    if req.side == "holding":
        mine = [c for c in certs if c.request_ref == req.ref]
        if [c.code for c in mine] != [req.certificate_code] or pdfs.get(
            req.certificate_code
        ) != pdf:
            out.append(f"request {req.ref}: certificate {req.certificate_code} not registered once")
    else:
        check = verify_pdf(pdf, ring)
        if check.verdict is not Verdict.VALID:
            out.append(f"request {req.ref}: received certificate does not verify ({check.message})")
    return out


def pair_violations(
    a: Instance, b: Instance, *, refs: list[str], access_ids: list[int]
) -> list[str]:
    """Once both outboxes are empty: nothing lost, nothing applied twice, both ends agree.

    * every message either archive sent was delivered (none pending or refused) and is in the
      other's inbox, applied; the inbox holds nothing the partner did not send;
    * each request made has the whole timeline at both archives, the same steps in the same order,
      and the certificate the 受理馆 keeps is byte for byte the one the 出证馆 registered;
    * each 出具证明 request made at A is approved with exactly one certificate.
    """
    out: list[str] = []
    with a.db.read() as sa, b.db.read() as sb:
        for sx, cx, sy, cy in ((sa, ACCEPTING, sb, HOLDING), (sb, HOLDING, sa, ACCEPTING)):
            sent = {m.message_id: m for m in sx.scalars(select(FederationOutbox))}
            got = {
                m.message_id: m
                for m in sy.scalars(select(FederationInbox).where(FederationInbox.sender == cx))
            }
            for mid, m in sent.items():
                if m.state != "delivered":
                    out.append(f"{cx}→{cy} message {mid} ({m.ref}) {m.state}: {m.last_error[:200]}")
                elif mid not in got or got[mid].status != "applied":
                    out.append(f"{cx}→{cy} message {mid} ({m.ref}) delivered but not applied there")
            out += [f"{cy} applied {mid} that {cx} never sent" for mid in set(got) - set(sent)]
        for ref in refs:
            ra = sa.scalar(select(LivelihoodRequest).where(LivelihoodRequest.ref == ref))
            rb = sb.scalar(select(LivelihoodRequest).where(LivelihoodRequest.ref == ref))
            if ra is None or rb is None:
                out.append(f"request {ref} missing at {'A' if ra is None else 'B'}")
                continue
            ta = [
                st.state
                for st in sa.scalars(
                    select(LivelihoodStep)
                    .where(LivelihoodStep.request_id == ra.id)
                    .order_by(LivelihoodStep.id)
                )
            ]
            tb = [
                st.state
                for st in sb.scalars(
                    select(LivelihoodStep)
                    .where(LivelihoodStep.request_id == rb.id)
                    .order_by(LivelihoodStep.id)
                )
            ]
            if ta != FULL_TIMELINE or tb != FULL_TIMELINE:
                out.append(f"request {ref}: timeline at A {ta}, at B {tb}")
            if (
                ra.certificate_pdf != rb.certificate_pdf
                or ra.certificate_code != rb.certificate_code
            ):
                out.append(f"request {ref}: the certificates at A and B differ")
        for rid in access_ids:
            req = sa.get(AccessRequest, rid)
            n = len(
                sa.scalars(
                    select(Certificate.id).where(
                        Certificate.request_ref == (request_ref(req) if req else "")
                    )
                ).all()
            )
            if req is None or req.status != "approved" or n != 1:
                out.append(
                    f"access request {rid}: {req.status if req else 'missing'}, {n} certificate(s)"
                )
    return out
