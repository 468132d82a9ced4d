"""Generate the OCR test set: A4 pages at 300 dpi rendered from the demo seed texts, degraded.

    .venv/bin/python tests/digitisation/ocr_set/make_set.py      # rewrites the pages here

Text: the five real speeches in ``src/lantai/demo/seeds`` (000/001 traditional, 002–004
simplified), cleaned of web debris (spam line, pinyin glosses in brackets, bullets, ``??``).
Layout: the 公文 page of GB/T 9704 (A4, 28 characters × 22 lines, 3号 ≈ 16 pt), set in the
Debian Noto Serif / Noto Sans CJK SC/TC fonts. Degradation per page (seeded, reproducible):
rotation 0.5–2° either way, a grey gradient, Gaussian noise σ 6–10, dust specks, then Gaussian
blur σ 0.6–1.0 (scanner optics), JPEG quality 62–75, greyscale. Ground truth ``page_NN_<s|t>.txt`` holds the
rendered lines; ``manifest.json`` the parameters of each page.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parents[2] / "src" / "lantai" / "demo" / "seeds"
SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_INDEX = {"s": 2, "t": 3}  # Noto CJK SC / TC inside the collections
DPI = 300
WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi
CHARS, LINES = 28, 22
FONT_PX = 66  # 16 pt at 300 dpi
LEFT, TOP, PITCH = 330, 440, 128  # 28 mm left margin, 37 mm top, line pitch
SOURCES = {
    "t": ["000_fedd905e1e341066.txt", "001_c9d84257f07b9ea0.txt"],
    "s": ["002_7c899f40747d4e6f.txt", "003_17242a030d047e50.txt", "004_f37af430c5dd162e.txt"],
}
PAGES_PER_SCRIPT = 5
INDENT = "\u3000\u3000"


def clean_paragraphs(text: str) -> list[str]:
    out = []
    for raw in text.splitlines():
        line = re.sub(r"\([a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü ]+\)", "", raw)
        line = line.replace("??", "").replace("•", "").strip()
        if len(line) < 20 or "http" in line or "视频" in line or "信息時間" in line:
            continue
        if re.search(r"[a-zA-Z]{3,}", line):
            continue
        out.append(line)
    return out


def page_lines(paragraphs: list[str]) -> list[list[str]]:
    """Paragraphs wrapped at 28 characters (first line indented two spaces), 22 lines a page."""
    lines: list[str] = []
    for para in paragraphs:
        rest = INDENT + para
        while rest:
            lines.append(rest[:CHARS])
            rest = rest[CHARS:]
    return [lines[i : i + LINES] for i in range(0, len(lines) - LINES + 1, LINES)]


def render(
    lines: list[str], script: str, serif: bool, rng: random.Random
) -> tuple[Image.Image, dict[str, float]]:
    font = ImageFont.truetype(SERIF if serif else SANS, FONT_PX, index=FONT_INDEX[script])
    img = Image.new("L", (WIDTH, HEIGHT), 255)
    draw = ImageDraw.Draw(img)
    for n, line in enumerate(lines):
        x = LEFT
        for ch in line:  # fixed pitch, as a 公文 grid
            draw.text((x, TOP + n * PITCH), ch, font=font, fill=rng.randint(10, 40))
            x += FONT_PX + 1
    angle = rng.uniform(0.5, 2.0) * rng.choice((-1, 1))
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    arr = np.asarray(img, dtype=np.float32)
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    gradient = np.linspace(0, rng.uniform(10, 30), WIDTH, dtype=np.float32)[None, :]
    noise = rng.uniform(6, 10)
    arr = arr - gradient + nrng.normal(0, noise, arr.shape).astype(np.float32)
    for _ in range(300):  # dust
        y, x = int(nrng.integers(0, HEIGHT - 4)), int(nrng.integers(0, WIDTH - 4))
        arr[y : y + nrng.integers(1, 4), x : x + nrng.integers(1, 4)] = nrng.integers(40, 140)
    blur = rng.uniform(0.6, 1.0)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    out = out.filter(ImageFilter.GaussianBlur(blur))
    return out, {"angle": round(angle, 2), "blur": round(blur, 2), "noise": round(noise, 1)}


def main() -> None:
    rng = random.Random(20261121)
    manifest = []
    number = 0
    for script, files in SOURCES.items():
        pages: list[list[str]] = []
        for name in files:
            pages += page_lines(clean_paragraphs((SEEDS / name).read_text(encoding="utf-8")))
        picked = [pages[i] for i in sorted(rng.sample(range(len(pages)), PAGES_PER_SCRIPT))]
        for k, lines in enumerate(picked):
            number += 1
            serif = k % 3 != 2
            img, params = render(lines, script, serif, rng)
            quality = rng.randint(62, 75)
            stem = f"page_{number:02d}_{script}"
            img.save(HERE / f"{stem}.jpg", quality=quality, dpi=(DPI, DPI), optimize=True)
            (HERE / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            manifest.append(
                {
                    "file": f"{stem}.jpg",
                    "script": "simplified" if script == "s" else "traditional",
                    "font": ("Noto Serif CJK " if serif else "Noto Sans CJK ")
                    + ("SC" if script == "s" else "TC"),
                    "chars": sum(len(line.strip()) for line in lines),
                    "jpeg_quality": quality,
                    **params,
                }
            )
    (HERE / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
