"""OCR benchmark: pages/s and character error rate (CER) per engine on the checked-in test set.

Run ``.venv/bin/python bench/ocr.py [--quick]``. Prints ONE JSON object::

    {"bench": "ocr", "machine": {...}, "results": {...}, "goals": [...]}

Pages: ``tests/digitisation/ocr_set`` (A4 at 300 dpi rendered from the seed texts with the
Debian Noto CJK fonts, degraded; 5 simplified + 5 traditional; ground truth beside each page).
Each engine runs in every thread setting listed below, over all pages (``--quick``: 2 pages,
fewer settings), in worker processes that load their engine before the clock starts:

* rapidocr: 1 worker × 2 onnxruntime threads, and 2 workers × 1 thread (one page each);
* tesseract: 1 worker with OpenMP left at its default (the baseline measured in the same run),
  and 2 workers with ``OMP_THREAD_LIMIT=1``.

CER = Levenshtein distance / reference length after NFKC and whitespace removal, summed over the
pages. Goals (issue 6): the default engine (rapidocr) ≥ 0.5 pages/s on 2 cores at CER ≤ 1 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import load_average, log, machine

REPO = Path(__file__).resolve().parents[1]
OCR_SET = REPO / "tests" / "digitisation" / "ocr_set"

_engine: Any = None


def _init(engine: str, threads: int, omp_limit: str | None) -> None:
    global _engine
    if omp_limit is None:
        os.environ.pop("OMP_THREAD_LIMIT", None)
    else:
        os.environ["OMP_THREAD_LIMIT"] = omp_limit
    from PIL import Image

    from lantai.digitisation.config import load_config
    from lantai.digitisation.ocr import make_engine
    from lantai.digitisation.ocr.tesseract import TesseractEngine

    settings = load_config().ocr.model_copy(update={"threads": threads})
    _engine = make_engine(engine, settings)
    if isinstance(_engine, TesseractEngine) and omp_limit is None:
        _engine.omp_limit = None  # the baseline: OpenMP as the package ships it
    warm = Image.new("L", (600, 200), 255)
    _engine.recognise(warm)


def _recognise(item: dict[str, str]) -> tuple[str, str, float]:
    from PIL import Image

    with Image.open(OCR_SET / item["file"]) as img:
        img.load()
        t0 = time.perf_counter()
        text = _engine.recognise(img, script=item["script"]).text
        return item["file"], text, time.perf_counter() - t0


def run(
    engine: str, workers: int, threads: int, omp_limit: str | None, pages: list[dict[str, str]]
) -> dict[str, Any]:
    from lantai.digitisation.cer import edit_distance, normalise

    with ProcessPoolExecutor(
        workers, initializer=_init, initargs=(engine, threads, omp_limit)
    ) as pool:
        list(pool.map(_noop, range(workers)))  # every worker has loaded its engine
        t0 = time.perf_counter()
        out = list(pool.map(_recognise, pages))
        wall = time.perf_counter() - t0
    errors = chars = 0
    per_script: dict[str, list[int]] = {}
    for item, (_, text, _) in zip(pages, out, strict=True):
        ref = normalise(
            (OCR_SET / item["file"].replace(".jpg", ".txt")).read_text(encoding="utf-8")
        )
        e = edit_distance(ref, normalise(text))
        errors, chars = errors + e, chars + len(ref)
        acc = per_script.setdefault(item["script"], [0, 0])
        acc[0] += e
        acc[1] += len(ref)
    return {
        "engine": engine,
        "workers": workers,
        "threads_per_worker": threads,
        "omp_thread_limit": omp_limit,
        "pages": len(pages),
        "seconds": round(wall, 2),
        "pages_per_s": round(len(pages) / wall, 3),
        "s_per_page_each": round(sum(o[2] for o in out) / len(out), 2),
        "cer": round(errors / chars, 4),
        "cer_by_script": {k: round(v[0] / v[1], 4) for k, v in per_script.items()},
        "chars": chars,
    }


def _noop(_: int) -> None:
    time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2 pages, fewer thread settings (< 60 s)")
    args = ap.parse_args(argv)
    load = load_average()
    import rapidocr

    manifest = json.loads((OCR_SET / "manifest.json").read_text(encoding="utf-8"))
    pages = [{"file": m["file"], "script": m["script"]} for m in manifest]
    if args.quick:
        pages = [next(p for p in pages if p["script"] == s) for s in ("simplified", "traditional")]
        settings = [("tesseract", 1, 1, None), ("tesseract", 2, 1, "1"), ("rapidocr", 2, 1, "1")]
    else:
        settings = [
            ("tesseract", 1, 1, None),
            ("tesseract", 2, 1, "1"),
            ("rapidocr", 1, 2, "1"),
            ("rapidocr", 2, 1, "1"),
        ]
    runs = []
    for engine, workers, threads, omp in settings:
        log(
            f"{engine}: {workers} worker(s) × {threads} thread(s), OMP_THREAD_LIMIT={omp}, {len(pages)} pages"
        )
        runs.append(run(engine, workers, threads, omp, pages))
        log(f"  {runs[-1]['pages_per_s']} pages/s, CER {runs[-1]['cer']}")
    best = {
        e: max((r for r in runs if r["engine"] == e), key=lambda r: r["pages_per_s"])
        for e in ("rapidocr", "tesseract")
    }
    baseline = runs[0]
    results = {
        "pages": len(pages),
        "set": str(OCR_SET.relative_to(REPO)),
        "runs": runs,
        "best": {
            e: {k: r[k] for k in ("workers", "threads_per_worker", "pages_per_s", "cer")}
            for e, r in best.items()
        },
        "baseline": {
            "what": "tesseract, 1 worker, OpenMP threads at their default",
            **{k: baseline[k] for k in ("pages_per_s", "cer")},
        },
        "tesseract_tuned_speedup": round(
            best["tesseract"]["pages_per_s"] / baseline["pages_per_s"], 2
        ),
        "load_average_at_end": load_average(),
    }
    r = best["rapidocr"]
    goals = [
        {
            "name": "rapidocr pages/s on 2 cores",
            "value": r["pages_per_s"],
            "unit": "pages/s",
            "goal": 0.5,
            "met": r["pages_per_s"] >= 0.5,
        },
        {
            "name": "rapidocr CER",
            "value": r["cer"],
            "unit": "ratio",
            "goal": 0.01,
            "met": r["cer"] <= 0.01,
        },
    ]
    info = machine(
        load, rapidocr=getattr(rapidocr, "__version__", "?"), tesseract=_tesseract_version()
    )
    print(
        json.dumps(
            {"bench": "ocr", "machine": info, "results": results, "goals": goals},
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


def _tesseract_version() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["tesseract", "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        return (out.stdout or out.stderr).splitlines()[0]
    except (OSError, IndexError):
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
