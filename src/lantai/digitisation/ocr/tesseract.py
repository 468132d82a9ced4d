"""Tesseract (Debian ``tesseract-ocr`` with ``chi_sim`` / ``chi_tra``) behind OcrEngine.

Runs the ``tesseract`` command with ``OMP_THREAD_LIMIT=1`` (OpenMP on a 2-core machine made it
2–6× slower and erratic; parallelise across pages instead) and reads its TSV output: words are
grouped into lines, a line's confidence is the mean of its words'. The language comes from the
page's script: ``chi_sim`` for simplified, ``chi_tra`` for traditional (mixing them in one run
made simplified pages much worse).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Mapping

from PIL import Image

from lantai.digitisation.ocr.base import OcrLine, OcrPage, OcrUnavailable

__all__ = ["TesseractEngine"]

_TIMEOUT = 300


class TesseractEngine:
    name = "tesseract"

    def __init__(self, *, languages: Mapping[str, str] | None = None, psm: int = 6) -> None:
        exe = shutil.which("tesseract")
        if exe is None:
            raise OcrUnavailable(
                "未安装 tesseract（Debian：tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-chi-tra）"
            )
        self.exe = exe
        self.languages = dict(languages or {"simplified": "chi_sim", "traditional": "chi_tra"})
        self.psm = psm
        self.omp_limit: str | None = "1"  # None: leave OpenMP at its default (benchmark baseline)
        installed = self._installed()
        missing = [lang for lang in self.languages.values() if lang not in installed]
        if missing:
            raise OcrUnavailable(f"tesseract 缺少语言数据：{'、'.join(missing)}")

    def _installed(self) -> set[str]:
        done = subprocess.run(
            [self.exe, "--list-langs"], capture_output=True, text=True, timeout=60, check=False
        )
        return {line.strip() for line in done.stdout.splitlines()[1:] if line.strip()}

    def recognise(self, image: Image.Image, *, script: str = "simplified") -> OcrPage:
        lang = self.languages.get(script) or self.languages["simplified"]
        buf = io.BytesIO()
        image.convert("L").save(buf, format="PNG", dpi=image.info.get("dpi", (300, 300)))
        env = dict(os.environ)
        if self.omp_limit is not None:
            env["OMP_THREAD_LIMIT"] = self.omp_limit
        else:
            env.pop("OMP_THREAD_LIMIT", None)
        done = subprocess.run(
            [
                self.exe,
                "stdin",
                "stdout",
                "-l",
                lang,
                "--psm",
                str(self.psm),
                "-c",
                "preserve_interword_spaces=1",
                "tsv",
            ],
            input=buf.getvalue(),
            capture_output=True,
            timeout=_TIMEOUT,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tesseract 失败：{done.stderr.decode('utf-8', 'replace')[-500:]}")
        return _parse_tsv(done.stdout.decode("utf-8", "replace"))


def _parse_tsv(tsv: str) -> OcrPage:
    lines: dict[tuple[int, int, int], list[tuple[str, float, int, int, int, int]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5":
            continue
        text = (row.get("text") or "").strip()
        if not text:
            continue
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        left, top = int(row["left"]), int(row["top"])
        lines.setdefault(key, []).append(
            (
                text,
                max(0.0, float(row["conf"])) / 100,
                left,
                top,
                left + int(row["width"]),
                top + int(row["height"]),
            )
        )
    out = []
    for key in sorted(lines):
        words = lines[key]
        text = "".join(w[0] for w in words)  # Chinese: no spaces between words
        chars = sum(len(w[0]) for w in words)
        conf = sum(w[1] * len(w[0]) for w in words) / chars
        box = (
            min(w[2] for w in words),
            min(w[3] for w in words),
            max(w[4] for w in words),
            max(w[5] for w in words),
        )
        out.append(OcrLine(text=text, confidence=round(conf, 4), box=box))
    return OcrPage(lines=out)
