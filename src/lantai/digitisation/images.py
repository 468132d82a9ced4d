"""Page images: reading a page of a master file, its DA/T 46 数字化属性, and the QC measures.

* :func:`page_count` / :func:`open_page`: a master is a single image, a multi-page TIFF (one
  frame per page) or a PDF (pages rendered with poppler's ``pdftoppm``).
* :func:`page_meta`: resolution, colour mode, bit depth, compression, dimensions and format, read
  from the file header (for PDF pages: from the embedded scan image, ``pdfimages -list``).
* :func:`measure`: the measures QC judges — skew angle (projection profile), ink share (blank
  pages) and a 256-bit perceptual hash (DCT of a 64×64 thumbnail; duplicate pages).

Masters are only read, never written.
"""

from __future__ import annotations

import io
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from lantai.formats.media import _COLOUR

__all__ = [
    "IMAGE_SUFFIXES",
    "PAGE_SUFFIXES",
    "Measures",
    "hamming",
    "measure",
    "open_page",
    "page_count",
    "page_meta",
]

IMAGE_SUFFIXES = frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2", ".j2k", ".jpx"})
PAGE_SUFFIXES = IMAGE_SUFFIXES | {".pdf"}
_TIMEOUT = 120


def _is_pdf(path: Path) -> bool:
    return path.suffix.lower() == ".pdf"


def _run(args: list[str]) -> bytes:
    done = subprocess.run(args, capture_output=True, timeout=_TIMEOUT, check=False)
    if done.returncode != 0:
        raise OSError(done.stderr.decode("utf-8", "replace").strip() or f"{args[0]} 失败")
    return done.stdout


def page_count(path: Path) -> int:
    """Pages in ``path``: frames of a TIFF, pages of a PDF, else 1. Raises OSError if unreadable."""
    if _is_pdf(path):
        for line in _run(["pdfinfo", str(path)]).decode("utf-8", "replace").splitlines():
            if line.startswith("Pages:"):
                return int(line.split()[1])
        raise OSError("PDF 无页数信息")
    with Image.open(path) as img:
        return int(getattr(img, "n_frames", 1) or 1)


def open_page(path: Path, frame: int = 0, *, pdf_dpi: int = 300) -> Image.Image:
    """Page ``frame`` of ``path``, fully decoded (the caller owns the image)."""
    if _is_pdf(path):
        page = str(frame + 1)
        png = _run(["pdftoppm", "-f", page, "-l", page, "-r", str(pdf_dpi), "-png", str(path)])
        img = Image.open(io.BytesIO(png))
        img.load()
        img.info["dpi"] = (pdf_dpi, pdf_dpi)
        return img
    with Image.open(path) as src:
        if frame:
            src.seek(frame)
        src.load()
        page_img: Image.Image = src.copy()
        page_img.info.update({k: v for k, v in src.info.items() if k in ("dpi", "compression")})
        return page_img


def _pdf_images(path: Path) -> dict[int, dict[str, Any]]:
    """First embedded image per page (1-based) from ``pdfimages -list``."""
    out: dict[int, dict[str, Any]] = {}
    text = _run(["pdfimages", "-list", str(path)]).decode("utf-8", "replace")
    for line in text.splitlines()[2:]:
        cols = line.split()
        if len(cols) < 14 or not cols[0].isdigit() or int(cols[0]) in out:
            continue
        out[int(cols[0])] = {
            "width": int(cols[3]),
            "height": int(cols[4]),
            "color": cols[5],
            "bpc": int(cols[7]) if cols[7].isdigit() else None,
            "enc": cols[8],
            "x_ppi": _num(cols[12]),
            "y_ppi": _num(cols[13]),
        }
    return out


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_PDF_COLOUR = {"gray": "灰度", "rgb": "彩色", "cmyk": "彩色（CMYK）", "index": "彩色（调色板）"}
_PDF_COMPRESSION = {
    "jpeg": "JPEG",
    "jpx": "JPEG2000",
    "ccitt": "CCITT G4",
    "jbig2": "JBIG2",
    "image": "Flate",
}


def page_meta(path: Path, frame: int = 0) -> dict[str, Any]:
    """DA/T 46 数字化属性 of one page, read from the header (raises OSError when unreadable)."""
    if _is_pdf(path):
        info = _pdf_images(path).get(frame + 1)
        if info is None:
            return {"格式": "PDF", "数字化对象形态": "纸质", "说明": "该页无嵌入图像"}
        colour = "黑白" if info["bpc"] == 1 else _PDF_COLOUR.get(info["color"], info["color"])
        dpi = (info["x_ppi"], info["y_ppi"]) if info["x_ppi"] and info["y_ppi"] else None
        return _meta(
            "PDF",
            info["width"],
            info["height"],
            colour,
            info["bpc"],
            dpi,
            _PDF_COMPRESSION.get(info["enc"], info["enc"]),
        )
    with Image.open(path) as img:
        if frame:
            img.seek(frame)
        colour, bits = _COLOUR.get(img.mode, (img.mode, None))
        raw = img.info.get("dpi")
        dpi = None
        if isinstance(raw, tuple) and len(raw) == 2 and float(raw[0]) > 0 and float(raw[1]) > 0:
            dpi = (float(raw[0]), float(raw[1]))
        compression = img.info.get("compression")
        if compression is None:
            compression = {"JPEG": "JPEG", "JPEG2000": "JPEG2000", "PNG": "Deflate"}.get(
                img.format or ""
            )
        return _meta(
            img.format or "",
            img.width,
            img.height,
            colour,
            1 if img.mode == "1" else bits,
            dpi,
            str(compression) if compression else "无压缩",
        )


def _meta(
    fmt: str,
    width: int,
    height: int,
    colour: str,
    bits: int | None,
    dpi: tuple[float, float] | None,
    compression: str,
) -> dict[str, Any]:
    return {
        "格式": fmt,
        "数字化对象形态": "纸质",
        "扫描分辨率": round(min(dpi)) if dpi else None,
        "分辨率": [round(dpi[0], 2), round(dpi[1], 2)] if dpi else None,
        "扫描色彩模式": colour,
        "位深度": bits,
        "图像压缩方案": compression,
        "宽度": width,
        "高度": height,
    }


@dataclass(frozen=True)
class Measures:
    skew: float | None  # degrees, positive = rotated counter-clockwise; None: too little ink
    ink: float  # share of dark pixels inside the margins
    phash: str  # 256-bit perceptual hash, hex


def _grey(img: Image.Image, width: int) -> np.ndarray:
    g = ImageOps.grayscale(img.convert("RGB") if img.mode in ("P", "PA", "CMYK", "LAB") else img)
    if g.width > width:
        g = g.resize((width, max(1, round(g.height * width / g.width))), Image.Resampling.BOX)
    return np.asarray(g, dtype=np.uint8)


def _skew(dark: np.ndarray) -> float | None:
    ys, xs = np.nonzero(dark)
    if ys.size < 300:
        return None
    if ys.size > 200_000:
        pick = np.random.default_rng(0).choice(ys.size, 200_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64) - xs.mean()

    def score(deg: float) -> float:
        shifted = np.round(ys - xs * math.tan(math.radians(deg))).astype(np.int64)
        shifted -= shifted.min()
        hist = np.bincount(shifted).astype(np.float64)
        return float(np.dot(hist, hist))

    coarse = max(np.arange(-15.0, 15.01, 0.5), key=score)
    fine = max(np.arange(coarse - 0.5, coarse + 0.501, 0.05), key=score)
    return round(-float(fine), 2)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m


_DCT64 = _dct_matrix(64)


def _phash(img: Image.Image) -> str:
    g = ImageOps.grayscale(img if img.mode not in ("P", "PA", "CMYK") else img.convert("RGB"))
    small = np.asarray(g.resize((64, 64), Image.Resampling.LANCZOS), dtype=np.float64)
    coeffs = (_DCT64 @ small @ _DCT64.T)[:16, :16].flatten()
    bits = coeffs > np.median(coeffs[1:])
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:064x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def measure(img: Image.Image) -> Measures:
    """Skew, ink share and perceptual hash of a page (on a ≤ 1000 px wide grey copy)."""
    grey = _grey(img, 1000)
    h, w = grey.shape
    my, mx = h // 20, w // 20  # ignore 5 % margins: scanner edges and shadows
    inner = grey[my : h - my, mx : w - mx]
    dark = inner < 128
    ink = float(dark.mean()) if dark.size else 0.0
    return Measures(skew=_skew(dark), ink=round(ink, 6), phash=_phash(img))
