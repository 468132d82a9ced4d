"""Speech recognition (语音转写) of audio and video records behind one engine interface.

The operator installs a model directory and points ``LANTAI_ASR_MODEL_DIR`` at it; without one,
audio and video files are registered as 待转写 and wait (never failed). See docs/digitisation.md.
"""

from lantai.digitisation.asr.base import AsrModelError, Segment, Transcriber, Transcript
from lantai.digitisation.asr.loader import detect_layout, load_transcriber

__all__ = [
    "AsrModelError",
    "Segment",
    "Transcriber",
    "Transcript",
    "detect_layout",
    "load_transcriber",
]
