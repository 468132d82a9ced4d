"""OCR engines behind one interface (:class:`OcrEngine`): rapidocr (default) and tesseract."""

from __future__ import annotations

from lantai.digitisation.config import OcrSettings
from lantai.digitisation.ocr.base import OcrEngine, OcrLine, OcrPage, OcrUnavailable

__all__ = ["ENGINES", "OcrEngine", "OcrLine", "OcrPage", "OcrUnavailable", "make_engine"]

ENGINES = ("rapidocr", "tesseract")


def make_engine(name: str, settings: OcrSettings) -> OcrEngine:
    """The engine ``name`` configured from ``settings`` (raises OcrUnavailable / ValueError)."""
    if name == "rapidocr":
        from lantai.digitisation.ocr.rapid import RapidOcrEngine

        return RapidOcrEngine(
            threads=settings.threads,
            max_side=settings.max_side,
            det_max_side=settings.det_max_side,
            rec_batch=settings.rec_batch,
        )
    if name == "tesseract":
        from lantai.digitisation.ocr.tesseract import TesseractEngine

        return TesseractEngine(
            languages={str(k): v for k, v in settings.tesseract_languages.items()}
        )
    raise ValueError(f"未知的文字识别引擎「{name}」，可选：{'、'.join(ENGINES)}")
