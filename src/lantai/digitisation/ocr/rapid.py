"""rapidocr (PP-OCR models shipped inside the wheel; nothing is downloaded) behind OcrEngine.

The default models (PP-OCRv6 small detection and recognition) read simplified and traditional
Chinese alike, so ``script`` is not needed. Threads: onnxruntime intra-op threads per engine
(``threads``); on 2 cores one engine with 2 threads per page was fastest (see bench/ocr.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from PIL import Image

from lantai.digitisation.ocr.base import OcrLine, OcrPage, OcrUnavailable

__all__ = ["RapidOcrEngine"]


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(
        self,
        *,
        threads: int = 2,
        max_side: int = 2500,
        det_max_side: int = 1024,
        rec_batch: int = 1,
    ) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise OcrUnavailable("未安装 rapidocr（pip install rapidocr onnxruntime）") from exc
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.max_side_len": max_side,
            "Global.use_cls": False,  # scans are upright; the angle classifier costs time
            # detection input scaled so its longest side is det_max_side (text of 300 dpi pages
            # stays ≥ 20 px high at 1280); recognition crops keep the max_side scale
            "Det.limit_type": "max",
            "Det.limit_side_len": det_max_side,
            "Rec.rec_batch_num": rec_batch,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # the arena reuses buffers between the differently shaped line crops (-7 % CPU)
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
        }
        self._engine = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        self._lock = threading.Lock()  # one page at a time per engine (onnx sessions)

    def recognise(self, image: Image.Image, *, script: str = "simplified") -> OcrPage:
        rgb = np.asarray(image.convert("RGB"))
        with self._lock:
            result = self._engine(rgb)
        boxes = getattr(result, "boxes", None)
        texts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        lines = []
        for i, text in enumerate(texts):
            text = str(text).strip()
            if not text:
                continue
            box = boxes[i] if boxes is not None else None
            if box is not None:
                xs = [float(p[0]) for p in box]
                ys = [float(p[1]) for p in box]
                rect = (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys)))
            else:
                rect = (0, 0, 0, 0)
            lines.append(OcrLine(text=text, confidence=round(float(scores[i]), 4), box=rect))
        return OcrPage(lines=lines)
