"""Ingest benchmark: the full 一键归档 pipeline against the dual-hash bound and bagit-python.

Run ``.venv/bin/python bench/ingest.py [--quick] [--form dir|tar] [--workdir DIR]``. Prints ONE
JSON object on stdout (progress goes to stderr)::

    {"bench": "ingest", "machine": {...}, "results": {...}, "goals": [...]}

Two generated transfers, in one process, each on a fresh embedded (SQLite) instance whose home
is on the same filesystem as the data:

* ``small``: 10,000 files of 4–64 KiB (``--quick``: 1,000), two files per 件, so 5,000 records;
* ``large``: 20 files totalling 2 GiB (``--quick``: 4 files, 128 MiB), two files per 件.

Each is a BagIt 1.0 bag (``--form dir``, the default: a folder read in place; ``tar``: an
uncompressed tar of it, unpacked by the pipeline) with a catalogue (``metadata/目录.csv``, with
the per-file 格式信息 and 文档创建程序 and the 开放标识 the checks require), process metadata and a
登记表, and a ``manifest-sha256.txt``. Content files are UTF-8 text (base64 of random bytes:
incompressible, a long-term format), so every check runs and the transfer is accepted, flagged
only for what needs this machine's set-up (no clamd, no declared package digest).
For each we measure, on warm page cache (the data was just written):

* ``pipeline``: the ingest job end to end, to ``done`` — read and verify the bag, SHA-256 + SM3
  of every byte, format identification, the DA/T 70 checks, the report, the AIP (BagIt +
  METS/PREMIS) committed to the object store, the catalogue transaction (records, file links,
  full texts, events), clean-up; ``ingest_workers`` = all cores. The replication job the
  transfer queues (further copies by the storage policy, asynchronous) is timed apart
  (``replication_seconds``). ``cpu_seconds``: the CPU time the ingest job used, in this process
  (all threads) and in the siegfried child processes; the small goal's ``cpu_limit`` is the
  files/s that work would give with every core busy from start to end (no overlap of the steps
  can beat it, only less work);
* ``dual_hash_bound``: SHA-256 + SM3 of the same files in one read each, files spread over all
  cores (the least any ingest that hashes every byte with both must cost); measured before and
  after the pipeline (``runs_seconds``), the mean is used;
* ``identify_bound``: siegfried over the same files, one child process per core;
* ``write_bound``: a durable copy of the same files (as the AIP needs), one ``syncfs``;
* ``ceiling``: hashing and identifying both keep every core busy (each bound is measured
  alone on all cores), so a pipeline that does both needs at least the sum of their times; the
  durable copy is disk work that can overlap them. The ceiling is the larger of that sum and the
  write bound — no pipeline that hashes, identifies and durably copies every byte can be faster
  on this machine;
* ``bagit_python``: ``bagit.make_bag`` (sha256 + sha512, ``processes=2``) on a copy of the
  same payload (the copy is not timed) — the issue's baseline; ``bagit_python_sm3``: the same
  with sha256 + sm3 (our algorithms); ``bagit_python_validate``: ``Bag.validate(processes=2)``
  of the transfer bag itself (what a bagit-python receiver does).

Goals (the issue's, unchanged): large ≥ 80 % of the dual-hash bound's MB/s; small ≥ 2 ×
bagit-python's files/s and ≥ 500 files/s. Each goal also carries ``ceiling`` (the value the
goal's measure would have at the physical ceiling) and ``reachable`` (whether the goal is below
it at all on this machine). The machine is shared: compare ratios from the same run, and see
``load_average_at_start``. Exit status 1 when a measurement failed; unmet goals do not fail.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import logging
import os
import random
import resource
import shutil
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchlib import load_average, log, machine
from lantai.crypto.digest import new_sm3
from lantai.ingest.service import Submission, submit
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, default_registry
from lantai.security import Actor
from lantai.settings import Settings
from lantai.store import Event, IngestTransfer

UNIT = "示范市人民政府办公室"
CHUNK = 1 << 20


# -- machine ----------------------------------------------------------------------------------------


# -- data -------------------------------------------------------------------------------------------


def _text_bytes(rng: random.Random, size: int) -> bytes:
    """``size`` bytes of base64 text in 76-character lines (incompressible, valid UTF-8)."""
    raw = base64.encodebytes(rng.randbytes(size * 3 // 4 + 3))
    return raw[:size]


# Every content file starts with this line: random base64 can begin like an executable
# (one file in 10,000 was identified as x-fmt/410 "Windows New Executable", rightly flagged).
HEADER = "兰台 Lantai 基准测试数据\n".encode()


def make_payload(root: Path, sizes: list[int], seed: int) -> list[tuple[str, int, str]]:
    """Write the content files; returns (name, size, sha256) — hashed as they are generated."""
    rng = random.Random(seed)
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    out = []
    for i, size in enumerate(sizes):
        name = f"{2011 + i // 10000}-{i // 2 + 1:05d}-{'正文' if i % 2 == 0 else '附件'}.txt"
        sha = hashlib.sha256()
        with (data_dir / name).open("wb") as f:
            left = size
            first = True
            while left:
                block = _text_bytes(rng, min(left, 8 * CHUNK))
                if first:
                    block, first = (HEADER + block)[: len(block)], False
                f.write(block)
                sha.update(block)
                left -= len(block)
        out.append((name, size, sha.hexdigest()))
    return out


def make_bag(root: Path, files: list[tuple[str, int, str]], first: int = 1) -> None:
    """Tag files around an existing data/: catalogue, process metadata, 登记表, manifests.
    The 件 are numbered from ``first`` (件号, 档号 and 电子文件号)."""
    items = [files[i : i + 2] for i in range(0, len(files), 2)]
    meta = root / "metadata"
    meta.mkdir()
    headers = [
        "电子文件号", "档号", "题名", "责任者", "日期", "年度", "保管期限", "机构或问题",
        "文件编号", "页数", "密级", "开放标识", "件号", "文件名", "计算机文件大小", "格式信息",
        "文档创建程序", "SHA256",
    ]  # fmt: skip
    process = ["电子文件号", "业务行为", "行为时间", "机构人员名称", "行为依据", "行为描述"]
    with (
        (meta / "目录.csv").open("w", encoding="utf-8-sig", newline="") as f,
        (meta / "过程信息.csv").open("w", encoding="utf-8-sig", newline="") as g,
    ):
        w, p = csv.writer(f), csv.writer(g)
        w.writerow(headers)
        p.writerow(process)
        for n, item in enumerate(items, first):
            key = f"BENCH-2011-{n:05d}"
            w.writerow(
                [
                    key,
                    f"Z109-WS·2011-Y-BGS-{n:04d}",
                    f"关于2011年第{n}号事项的通知",
                    UNIT,
                    f"201103{n % 28 + 1:02d}",
                    "2011",
                    "Y",
                    "BGS",
                    f"示府办发〔2011〕{n}号",
                    "1",
                    "公开",
                    "未审核",
                    str(n),
                    ";".join(name for name, _, _ in item),
                    ";".join(str(size) for _, size, _ in item),
                    ";".join("TXT" for _ in item),
                    ";".join("基准数据生成器 1.0" for _ in item),
                    ";".join(sha for _, _, sha in item),
                ]
            )
            for action, when, agent in (
                ("起草", "2011-03-01T09:00:00", "张三"),
                ("审核", "2011-03-01T15:00:00", "李四"),
                ("签发", "2011-03-02T10:00:00", "王五"),
            ):
                p.writerow([key, action, when, agent, "", ""])
    total = sum(size for _, size, _ in files)
    (meta / "登记表.yaml").write_text(
        f"单位名称: {UNIT}\n移交时间: '2012-06-30'\n门类: 文书\n件数: {len(items)}\n"
        f"字节数: {total}\n方式: 在线\n",
        encoding="utf-8",
    )
    (root / "manifest-sha256.txt").write_text(
        "".join(f"{sha}  data/{name}\n" for name, _, sha in files), encoding="utf-8"
    )
    (root / "bagit.txt").write_text(
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    (root / "bag-info.txt").write_text(
        f"Source-Organization: {UNIT}\nBagging-Date: 2012-06-30\n"
        f"Payload-Oxum: {total}.{len(files)}\n门类: 文书\n件数: {len(items)}\n字节数: {total}\n",
        encoding="utf-8",
    )
    tags = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith("data/")
    )
    (root / "tagmanifest-sha256.txt").write_text(
        "".join(f"{hashlib.sha256((root / t).read_bytes()).hexdigest()}  {t}\n" for t in tags),
        encoding="utf-8",
    )


def to_tar(bag: Path, out: Path) -> Path:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(bag, arcname=bag.name)
    return out


# -- measurements -----------------------------------------------------------------------------------


def dual_hash_bound(paths: list[Path], workers: int) -> float:
    """Seconds for one-pass SHA-256 + SM3 of every file, ``workers`` files at a time."""

    def one(path: Path) -> None:
        sha, sm3 = hashlib.sha256(), new_sm3()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        with path.open("rb", buffering=0) as f:
            while n := f.readinto(view):
                sha.update(view[:n])
                sm3.update(view[:n])  # type: ignore[arg-type]  # memoryview is fine at run time

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, sorted(paths, key=lambda p: p.stat().st_size, reverse=True)))
    return time.perf_counter() - t0


def identify_bound(paths: list[Path], workers: int) -> float:
    """Seconds for siegfried to identify every file: ``workers`` child processes, one share
    each (how the pipeline spreads it; child start-up included). siegfried reads each small
    file whole, so this is a per-byte cost the pipeline cannot avoid."""
    from lantai.formats.identify import identify_many

    shares = [paths[i::workers] for i in range(workers)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda part: identify_many(part, workers=1, in_process=False), shares))
    return time.perf_counter() - t0


def write_bound(paths: list[Path], out: Path, workers: int) -> float:
    """Seconds to make a durable copy of every file, as the pipeline must for the AIP: files
    of ``DIRECT_COPY_MIN`` bytes or more with ``DirectCopy`` (O_DIRECT on a writer thread),
    smaller ones with an ordinary copy, ``workers`` files at a time; then one ``syncfs`` (what
    the object store's commit does). The disk's share of the work, without any hashing."""
    from lantai.ingest.digests import DIRECT_COPY_MIN
    from lantai.ingest.directcopy import DirectCopy

    out.mkdir(parents=True)

    def one(item: tuple[int, Path]) -> None:
        i, path = item
        target = out / f"{i}"
        if path.stat().st_size < DIRECT_COPY_MIN:
            shutil.copyfile(path, target)
            return
        with path.open("rb", buffering=0) as f, DirectCopy(target) as copy:
            while n := f.readinto(copy.buffer()):
                copy.write(n)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, enumerate(paths)))
    _syncfs(out)
    seconds = time.perf_counter() - t0
    shutil.rmtree(out)
    return seconds


def _syncfs(path: Path) -> None:
    import ctypes

    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            os.sync()
    except AttributeError:
        os.sync()
    finally:
        os.close(fd)


def bagit_make(payload: Path, copy: Path, checksums: list[str]) -> float:
    """``bagit.make_bag`` (processes=2) on a fresh copy of the payload (the copy is not timed)."""
    import bagit  # type: ignore[import-untyped]

    shutil.copytree(payload, copy)
    logging.getLogger("bagit").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    bagit.make_bag(str(copy), checksums=checksums, processes=2)
    seconds = time.perf_counter() - t0
    shutil.rmtree(copy)
    return seconds


def bagit_validate(bag: Path) -> float:
    """``bagit.Bag(bag).validate(processes=2)``: what a bagit-python receiver does with the same
    transfer (its SHA-256 manifest: the one algorithm the sender declared)."""
    import bagit

    logging.getLogger("bagit").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    bagit.Bag(str(bag)).validate(processes=2)
    return time.perf_counter() - t0


def run_pipeline(home: Path, package: Path, workers: int) -> dict[str, Any]:
    """The ingest job of one transfer, timed to ``done``; then, timed apart, the replication
    job it queues (the storage policy's further copies: asynchronous, not part of 归档)."""
    settings = Settings(
        home=home,
        archive_code="136101",
        ingest_workers=workers,
        password_time_cost=1,
        password_memory_kib=8192,
        ingest_max_package_mb=1 << 16,
    )
    inst = Instance.initialise(settings)
    inst.catalogue.today = lambda: date(2026, 11, 21)
    op = Actor.operator()
    with inst.db.write() as s:
        inst.catalogue.create_fonds(
            s,
            op,
            code="Z109",
            name=UNIT,
            responsible=UNIT,
            values={"date": "1949-2024", "custody_history": "基准测试"},
        )
    runner = InProcessRunner(inst, default_registry())
    cpu0 = _cpu_now()
    t0 = time.perf_counter()
    with inst.db.write() as s:
        row, _ = submit(inst, s, op, Submission(source=package, fonds_code="Z109", category="WS"))
        s.flush()
        job_id = row.job_id
    assert job_id is not None
    runner.run_job(job_id)
    seconds = time.perf_counter() - t0
    cpu = {**_cpu_since(cpu0), "cores": workers}
    t1 = time.perf_counter()
    runner.run_until_idle()  # replication of the AIP to the policy's other locations
    replication = time.perf_counter() - t1
    with inst.db.read() as s:
        final = s.get(IngestTransfer, row.id)
        assert final is not None
        steps: dict[str, float] = {}
        for e in s.scalars(select(Event).where(Event.object_id == final.uid)):
            detail = json.loads(e.detail)
            for key in ("seconds", "report_seconds"):
                if detail.get(key) is not None:
                    name = e.action.split(":", 1)[1]
                    steps[name if key == "seconds" else "report"] = detail[key]
    inst.close()
    steps["other"] = round(max(0.0, seconds - sum(steps.values())), 3)
    return {
        "seconds": round(seconds, 3),
        "state": final.state,
        "decision": final.decision,
        "records": final.record_count,
        "counts": final.counts,
        "error": final.error,
        "step_seconds": steps,
        "cpu_seconds": cpu,
        "replication_seconds": round(replication, 3),
    }


def _cpu_now() -> tuple[float, float, float]:
    """CPU seconds used so far: this process's user and system time (all its threads), and
    user + system of its children that have ended (the siegfried processes, reaped when the
    identification closes)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime, me.ru_stime, kids.ru_utime + kids.ru_stime


def _cpu_since(start: tuple[float, float, float]) -> dict[str, float]:
    user, system, children = (now - then for now, then in zip(_cpu_now(), start, strict=True))
    return {
        "process": round(user + system, 2),
        "process_system": round(system, 2),
        "children": round(children, 2),
        "total": round(user + system + children, 2),
    }


def _rate(seconds: float, files: int, mb: float) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "files_per_s": round(files / seconds, 1),
        "mb_per_s": round(mb / seconds, 1),
    }


def measure(
    name: str, sizes: list[int], workdir: Path, form: str, workers: int, seed: int
) -> dict[str, Any]:
    case = workdir / name
    bag = case / "bag"
    log(f"{name}: generating {len(sizes)} files, {sum(sizes) / 2**20:.0f} MiB")
    files = make_payload(bag, sizes, seed)
    make_bag(bag, files)
    package = to_tar(bag, case / "bag.tar") if form == "tar" else bag
    total = sum(sizes)
    mb = total / 1e6
    n = len(sizes)
    out: dict[str, Any] = {"files": n, "bytes": total, "form": form}

    log(f"{name}: dual-hash bound ({workers} workers)")
    paths = [bag / "data" / fname for fname, _, _ in files]
    dual_hash_bound(paths[: min(len(paths), 50)], workers)  # warm-up (code, not data)
    hash_runs = [dual_hash_bound(paths, workers)]  # and once more after the pipeline
    log(f"{name}: identification bound (siegfried, {workers} processes)")
    out["identify_bound"] = _rate(identify_bound(paths, workers), n, mb)
    log(f"{name}: durable-write bound (O_DIRECT copy + fsync, {workers} workers)")
    out["write_bound"] = _rate(write_bound(paths, case / "write-bound", workers), n, mb)

    log(f"{name}: full pipeline")
    pipe = run_pipeline(case / "home", package, workers)
    pipe.update(_rate(pipe["seconds"], n, mb))
    out["pipeline"] = pipe
    log(f"{name}: dual-hash bound again")
    hash_runs.append(dual_hash_bound(paths, workers))
    # The machine is shared: the bound is the mean of the runs before and after the pipeline.
    out["dual_hash_bound"] = _rate(sum(hash_runs) / len(hash_runs), n, mb)
    out["dual_hash_bound"]["runs_seconds"] = [round(x, 3) for x in hash_runs]
    # Hashing and identifying are CPU work on all cores: done together they take at least the
    # sum of their times alone. The durable copy is disk work and overlaps them.
    cpu = out["dual_hash_bound"]["seconds"] + out["identify_bound"]["seconds"]
    floor = max(cpu, out["write_bound"]["seconds"])
    out["ceiling"] = _rate(floor, n, mb)
    if package != bag:
        package.unlink()

    try:
        log(f"{name}: bagit-python validate of the same bag (processes=2)")
        out["bagit_python_validate"] = _rate(bagit_validate(bag), n, mb)
        log(f"{name}: bagit-python make_bag (sha256+sha512, processes=2) on a copy")
        out["bagit_python"] = _rate(bagit_make(bag / "data", case / "copy", DEFAULT_BAGIT), n, mb)
        log(f"{name}: bagit-python make_bag (sha256+sm3, processes=2) on a copy")
        out["bagit_python_sm3"] = _rate(bagit_make(bag / "data", case / "copy", OUR_BAGIT), n, mb)
    except ImportError as exc:
        out["bagit_python"] = {"error": f"bagit not installed: {exc}"}
    shutil.rmtree(case, ignore_errors=True)
    return out


DEFAULT_BAGIT = ["sha256", "sha512"]  # the baseline: bagit-python's defaults
OUR_BAGIT = ["sha256", "sm3"]  # the same algorithms as the pipeline (hashlib has SM3 here)


def _goal(
    name: str, value: float, unit: str, goal: str, met: bool, **context: Any
) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "goal": goal, "met": met, **context}


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's three goals, unchanged. Each also states the physical ceiling measured in
    the same run (hashing plus identifying every byte on all cores, or durably writing it if
    that is slower) and whether the goal is reachable below it at all."""
    out = []
    large, small = results.get("large", {}), results.get("small", {})
    if "pipeline" in large:
        bound = large["dual_hash_bound"]["mb_per_s"]
        share = large["pipeline"]["mb_per_s"] / bound
        ceiling = large["ceiling"]["mb_per_s"] / bound
        out.append(
            _goal(
                "large transfer: pipeline MB/s as a share of the dual-hash bound",
                round(share, 3),
                "ratio",
                ">= 0.8",
                share >= 0.8,
                ceiling=round(ceiling, 3),
                reachable=ceiling >= 0.8,
                share_of_ceiling=round(
                    large["pipeline"]["mb_per_s"] / large["ceiling"]["mb_per_s"], 3
                ),
                note="ceiling: the durable-write bound when the disk is slower than hashing",
            )
        )
    if "pipeline" in small:
        fps = small["pipeline"]["files_per_s"]
        ceiling_fps = small["ceiling"]["files_per_s"]
        bagit_fps = small.get("bagit_python", {}).get("files_per_s")
        if bagit_fps:
            out.append(
                _goal(
                    "small transfer: pipeline files/s over bagit-python make_bag files/s",
                    round(fps / bagit_fps, 3),
                    "ratio",
                    ">= 2",
                    fps >= 2 * bagit_fps,
                    ceiling=round(ceiling_fps / bagit_fps, 3),
                    reachable=ceiling_fps >= 2 * bagit_fps,
                    note=(
                        "bagit-python only hashes (sha256+sha512); the pipeline must also "
                        "identify every file with siegfried and write the AIP, whose bounds "
                        "alone are below 2 × bagit-python here"
                    ),
                )
            )
        out.append(
            _goal(
                "small transfer: pipeline files/s",
                fps,
                "files/s",
                ">= 500",
                fps >= 500,
                ceiling=ceiling_fps,
                reachable=ceiling_fps >= 500,
                share_of_ceiling=round(fps / ceiling_fps, 3),
                **_cpu_limit(small),
            )
        )
    return out


def _cpu_limit(case: dict[str, Any]) -> dict[str, Any]:
    """What the pipeline's own CPU work allows: its CPU seconds (process + siegfried children)
    spread over every core with none idle. A design that keeps the same work but overlaps its
    steps perfectly cannot beat this; beating it needs less work."""
    used = case["pipeline"].get("cpu_seconds", {})
    cpu, cores = used.get("total"), used.get("cores")
    if not cpu or not cores:
        return {}
    limit = round(case["files"] / (cpu / cores), 1)
    return {
        "cpu_seconds": cpu,
        "cpu_limit": limit,
        "reachable_with_this_work": limit >= 500,
        "cpu_note": (
            "cpu_limit: files/s if the pipeline's measured CPU seconds (its process and the "
            "siegfried children) kept every core busy from start to end"
        ),
    }


def _siegfried_version() -> str:
    import pygfried

    return str(pygfried.version())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 1 minute, for CI)")
    parser.add_argument("--form", choices=["dir", "tar"], default="dir")
    parser.add_argument("--workdir", type=Path, default=None, help="where to generate the data")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--only", choices=["small", "large"], default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    workers = os.cpu_count() or 1
    load_at_start = load_average()
    rng = random.Random(args.seed)
    n_small = 1_000 if args.quick else 10_000
    small = [rng.randint(4 << 10, 64 << 10) for _ in range(n_small)]
    n_large, total_large = (4, 128 << 20) if args.quick else (20, 2 << 30)
    large = [total_large // n_large] * n_large
    base = Path(tempfile.mkdtemp(prefix="lantai-bench-", dir=args.workdir))
    results: dict[str, Any] = {}
    failed = False
    try:
        for name, sizes in (("small", small), ("large", large)):
            if args.only and args.only != name:
                continue
            try:
                results[name] = measure(name, sizes, base, args.form, workers, args.seed)
            except Exception as exc:  # report it; the other case still runs
                logging.exception("bench case %s failed", name)
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                failed = True
    finally:
        shutil.rmtree(base, ignore_errors=True)
    doc = {
        "bench": "ingest",
        "machine": machine(load_at_start, siegfried=_siegfried_version()),
        "results": {"quick": args.quick, "workers": workers, **results},
        "goals": goals(results),
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
