"""Ingest benchmark: the full 一键归档 pipeline against the dual-hash bound and bagit-python.

Run ``.venv/bin/python bench/ingest.py [--quick] [--form dir|tar] [--workdir DIR]``. Prints ONE
JSON object on stdout (progress goes to stderr)::

    {"bench": "ingest", "machine": {...}, "results": {...}, "goals": [...]}

Two generated transfers, in one process, each on a fresh embedded (SQLite) instance whose home
is on the same filesystem as the data:

* ``small``: 10,000 files of 4–64 KiB (``--quick``: 1,000), two files per 件, so 5,000 records;
* ``large``: 20 files totalling 2 GiB (``--quick``: 4 files, 128 MiB), two files per 件.

Each is a BagIt 1.0 bag (``--form dir``, the default: a folder read in place; ``tar``: an
uncompressed tar of it, unpacked by the pipeline) with a catalogue (``metadata/目录.csv``),
process metadata and a 登记表, and a ``manifest-sha256.txt``. Content files are UTF-8 text
(base64 of random bytes: incompressible, a long-term format, so every check runs and accepts).
For each we measure, on warm page cache (the data was just written):

* ``pipeline``: ``lantai ingest`` end to end — read and verify the bag, SHA-256 + SM3 of every
  byte, format identification, the DA/T 70 checks, the report, the AIP (BagIt + METS/PREMIS)
  committed to the object store, the catalogue transaction (records, file links, full texts,
  events), clean-up; ``ingest_workers`` = all cores;
* ``dual_hash_bound``: SHA-256 + SM3 of the same files in one read each, files spread over all
  cores (the least any ingest that hashes every byte with both must cost);
* ``bagit_python``: ``bagit.make_bag`` (sha256 + sha512, ``processes=2``) on a copy of the
  same payload (the copy is not timed).

Goals: large ≥ 80 % of the dual-hash bound's MB/s; small ≥ 2 × bagit-python's files/s and
≥ 500 files/s. Exit status 1 when a measurement failed; goals not met do not fail.
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

from benchlib import log, machine
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
            while left:
                block = _text_bytes(rng, min(left, 8 * CHUNK))
                f.write(block)
                sha.update(block)
                left -= len(block)
        out.append((name, size, sha.hexdigest()))
    return out


def make_bag(root: Path, files: list[tuple[str, int, str]]) -> None:
    """Tag files around an existing data/: catalogue, process metadata, 登记表, manifests."""
    items = [files[i : i + 2] for i in range(0, len(files), 2)]
    meta = root / "metadata"
    meta.mkdir()
    headers = [
        "电子文件号", "档号", "题名", "责任者", "日期", "年度", "保管期限", "机构或问题",
        "文件编号", "页数", "密级", "件号", "文件名", "计算机文件大小", "SHA256",
    ]  # fmt: skip
    process = ["电子文件号", "业务行为", "行为时间", "机构人员名称", "行为依据", "行为描述"]
    with (
        (meta / "目录.csv").open("w", encoding="utf-8-sig", newline="") as f,
        (meta / "过程信息.csv").open("w", encoding="utf-8-sig", newline="") as g,
    ):
        w, p = csv.writer(f), csv.writer(g)
        w.writerow(headers)
        p.writerow(process)
        for n, item in enumerate(items, 1):
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
                    str(n),
                    ";".join(name for name, _, _ in item),
                    ";".join(str(size) for _, size, _ in item),
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
            while n := f.readinto(view):  # type: ignore[attr-defined]
                sha.update(view[:n])
                sm3.update(view[:n])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, sorted(paths, key=lambda p: p.stat().st_size, reverse=True)))
    return time.perf_counter() - t0


def bagit_python(payload: Path, copy: Path) -> float:
    import bagit

    shutil.copytree(payload, copy)
    logging.getLogger("bagit").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    bagit.make_bag(str(copy), checksums=["sha256", "sha512"], processes=2)
    return time.perf_counter() - t0


def run_pipeline(home: Path, package: Path, workers: int) -> dict[str, Any]:
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
    t0 = time.perf_counter()
    with inst.db.write() as s:
        row, _ = submit(inst, s, op, Submission(source=package, fonds_code="Z109", category="WS"))
    InProcessRunner(inst, default_registry()).run_until_idle()
    seconds = time.perf_counter() - t0
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
    out: dict[str, Any] = {"files": len(sizes), "bytes": total, "form": form}

    log(f"{name}: dual-hash bound ({workers} workers)")
    paths = [bag / "data" / n for n, _, _ in files]
    dual_hash_bound(paths[: min(len(paths), 50)], workers)  # warm-up (code, not data)
    secs = dual_hash_bound(paths, workers)
    out["dual_hash_bound"] = {
        "seconds": round(secs, 3),
        "files_per_s": round(len(sizes) / secs, 1),
        "mb_per_s": round(mb / secs, 1),
    }

    log(f"{name}: full pipeline")
    pipe = run_pipeline(case / "home", package, workers)
    pipe["files_per_s"] = round(len(sizes) / pipe["seconds"], 1)
    pipe["mb_per_s"] = round(mb / pipe["seconds"], 1)
    out["pipeline"] = pipe
    if package != bag:
        package.unlink()

    log(f"{name}: bagit-python make_bag (sha256+sha512, processes=2) on a copy")
    try:
        secs = bagit_python(bag / "data", case / "bagit-copy")
        out["bagit_python"] = {
            "seconds": round(secs, 3),
            "files_per_s": round(len(sizes) / secs, 1),
            "mb_per_s": round(mb / secs, 1),
        }
    except ImportError as exc:
        out["bagit_python"] = {"error": f"bagit not installed: {exc}"}
    shutil.rmtree(case, ignore_errors=True)
    return out


def _goal(name: str, value: float, unit: str, goal: str, met: bool) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "goal": goal, "met": met}


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    large, small = results.get("large", {}), results.get("small", {})
    if "pipeline" in large:
        share = large["pipeline"]["mb_per_s"] / large["dual_hash_bound"]["mb_per_s"]
        out.append(
            _goal(
                "large transfer: pipeline MB/s as a share of the dual-hash bound",
                round(share, 3),
                "ratio",
                ">= 0.8",
                share >= 0.8,
            )
        )
    if "pipeline" in small:
        fps = small["pipeline"]["files_per_s"]
        bagit_fps = small.get("bagit_python", {}).get("files_per_s")
        if bagit_fps:
            out.append(
                _goal(
                    "small transfer: pipeline files/s over bagit-python make_bag files/s",
                    round(fps / bagit_fps, 3),
                    "ratio",
                    ">= 2",
                    fps >= 2 * bagit_fps,
                )
            )
        out.append(_goal("small transfer: pipeline files/s", fps, "files/s", ">= 500", fps >= 500))
    return out


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
        "machine": machine(),
        "results": {"quick": args.quick, "workers": workers, **results},
        "goals": goals(results),
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
