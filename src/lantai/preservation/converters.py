"""Converters to long-term formats. LibreOffice headless (Debian ``libreoffice-*-nogui``) exports
office documents as PDF/A-2b; the result is inspected (:func:`lantai.formats.pdf.inspect_pdf`)
and must claim PDF/A-2b. A missing converter is reported, never an error of the caller."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lantai.errors import LantaiError
from lantai.formats.pdf import inspect_pdf

__all__ = ["ConversionFailed", "Converted", "LibreOffice"]

PDFA2_OPTIONS = json.dumps({"SelectPdfVersion": {"type": "long", "value": "2"}})


class ConversionFailed(LantaiError):
    code = "conversion_failed"


@dataclass(frozen=True)
class Converted:
    path: Path
    tool: str
    pdfa: str  # the conformance claimed, e.g. "2B"
    verdict: str  # the PDF/A validation verdict (passed / not_checked …)


class LibreOffice:
    name = "libreoffice"
    timeout = 300.0

    @staticmethod
    def binary() -> str | None:
        return shutil.which("soffice") or shutil.which("libreoffice")

    @functools.cached_property
    def version(self) -> str:
        exe = self.binary()
        if exe is None:
            return ""
        try:
            out = subprocess.run(
                [exe, "--version"], capture_output=True, text=True, timeout=60, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "LibreOffice"
        return out.strip().splitlines()[0] if out.strip() else "LibreOffice"

    def missing_reason(self) -> str | None:
        if self.binary() is None:
            return "未安装转换工具 LibreOffice（soffice）：原件保留，未生成 PDF/A 派生件"
        return None

    def convert(self, source: Path, out_dir: Path, export_filter: str) -> Converted:
        exe = self.binary()
        if exe is None:
            raise ConversionFailed(self.missing_reason() or "")
        with tempfile.TemporaryDirectory(prefix="lantai-lo-") as profile:
            cmd = [
                exe,
                "--headless",
                "--norestore",
                "--nolockcheck",
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--convert-to",
                f"pdf:{export_filter}:{PDFA2_OPTIONS}",
                "--outdir",
                str(out_dir),
                str(source),
            ]
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=self.timeout, check=False
                )
            except subprocess.TimeoutExpired:
                raise ConversionFailed(f"转换超时（{self.timeout:.0f} 秒）") from None
        target = out_dir / f"{source.stem}.pdf"
        if done.returncode != 0 or not target.is_file():
            detail = (done.stderr or done.stdout).strip()[-500:]
            raise ConversionFailed(f"LibreOffice 转换失败（退出码 {done.returncode}）：{detail}")
        info = inspect_pdf(target)
        if not info.opens or info.pdfa.claim != "2B":
            raise ConversionFailed(
                f"转换结果不是 PDF/A-2b（声明：{info.pdfa.claim or '无'}；{info.error or ''}）"
            )
        if info.pdfa.verdict == "failed":
            first = info.pdfa.findings[0].message if info.pdfa.findings else ""
            raise ConversionFailed(f"转换结果未通过 PDF/A-2b 校验：{first}")
        return Converted(target, self.version, info.pdfa.claim, info.pdfa.verdict)
