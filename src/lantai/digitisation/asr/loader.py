"""Loading an operator-installed model directory: which layout it has, and its engine.

Layouts understood (checked file by file, so a wrong directory is named precisely):

* **vosk** (Kaldi; ``pip install vosk``; Chinese models such as ``vosk-model-cn-0.22`` or
  ``vosk-model-small-cn-0.22`` from the Vosk model list): ``am/final.mdl``, ``conf/mfcc.conf``,
  ``conf/model.conf`` and a graph: ``graph/HCLG.fst``, or ``graph/HCLr.fst`` + ``graph/Gr.fst``.
* **faster-whisper** (CTranslate2 conversion of a Whisper model; ``pip install faster-whisper``):
  ``model.bin``, ``config.json`` and ``tokenizer.json`` or ``vocabulary.json``/``.txt``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lantai.digitisation.asr.base import AsrModelError, Transcriber

__all__ = ["detect_layout", "load_transcriber"]

_VOSK_FILES = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
_VOSK_GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
_WHISPER_VOCAB = ("tokenizer.json", "vocabulary.json", "vocabulary.txt")


def _missing(root: Path, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if not (root / n).is_file()]


def detect_layout(model_dir: Path) -> str:
    """``"vosk"`` or ``"faster-whisper"``; AsrModelError names what is missing otherwise."""
    root = Path(model_dir)
    if not root.is_dir():
        raise AsrModelError(f"语音识别模型目录不存在：{root}（设置 LANTAI_ASR_MODEL_DIR）")
    if (root / "am").is_dir() or (root / "conf").is_dir() or (root / "graph").is_dir():
        missing = _missing(root, _VOSK_FILES)
        if not any(not _missing(root, g) for g in _VOSK_GRAPHS):
            missing.append("graph/HCLG.fst（或 graph/HCLr.fst 与 graph/Gr.fst）")
        if missing:
            raise AsrModelError(
                f"语音识别模型目录 {root} 像是 Vosk 模型，但缺少：{'、'.join(missing)}"
            )
        return "vosk"
    if (root / "model.bin").is_file() or list(root.glob("model.bin.part*")):
        if not (root / "model.bin").is_file():
            raise AsrModelError(
                f"语音识别模型目录 {root} 中只有分卷 model.bin.part*：请先按顺序合并为 model.bin"
            )
        missing = _missing(root, ("config.json",))
        if all((root / v).is_file() is False for v in _WHISPER_VOCAB):
            missing.append("tokenizer.json（或 vocabulary.json）")
        if missing:
            raise AsrModelError(
                f"语音识别模型目录 {root} 像是 faster-whisper 模型，但缺少：{'、'.join(missing)}"
            )
        return "faster-whisper"
    raise AsrModelError(
        f"无法识别语音识别模型目录 {root}：应为 Vosk 模型（am/、conf/、graph/）"
        "或 faster-whisper 模型（model.bin、config.json、tokenizer.json）"
    )


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise AsrModelError(
            f"该模型需要 Python 包 {package}：请运行 .venv/bin/pip install {package}"
        )


def load_transcriber(model_dir: Path, *, language: str = "zh", threads: int = 1) -> Transcriber:
    layout = detect_layout(model_dir)
    if layout == "vosk":
        _require("vosk", "vosk")
        from lantai.digitisation.asr.engines import VoskTranscriber

        return VoskTranscriber(Path(model_dir))
    _require("faster_whisper", "faster-whisper")
    from lantai.digitisation.asr.engines import WhisperTranscriber

    return WhisperTranscriber(Path(model_dir), language=language, threads=threads)
