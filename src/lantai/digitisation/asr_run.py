"""The 语音转写 job: register audio/video record files, transcribe them when a model is installed.

``register_media`` adds an ``asr_items`` row (state ``pending`` = 待转写) for every audio or video
record file that has none. ``transcribe_pending`` (job ``digitisation.asr``) then:

* without ``LANTAI_ASR_MODEL_DIR``: leaves them 待转写 and succeeds (nothing failed: a model is
  simply not installed yet; the job's message says how many wait);
* with a malformed model directory: fails permanently with the loader's message (items stay
  待转写, so they are transcribed once the directory is fixed);
* with a model: extracts 16 kHz mono audio with ffmpeg, transcribes, stores the timed segments,
  and adds the text (one ``[hh:mm:ss] …`` line per segment) to the record's full text (part
  ``语音转写：<file>``, source ``asr``) so search finds it. An undecodable file is ``failed``
  with the reason; the others go on. Event ``digitisation:asr:completed`` per run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from lantai.audit import EventType
from lantai.digitisation.asr import AsrModelError, Transcriber, load_transcriber
from lantai.digitisation.asr.media import is_media, to_wav
from lantai.errors import LantaiError
from lantai.security import Actor
from lantai.storage import open_store
from lantai.store import AsrItem, RecordFile, utcnow

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["ASR_ACTOR", "asr_part", "register_media", "transcribe_pending"]

ASR_ACTOR = Actor(
    username="system:asr",
    display_name="语音转写（后台作业）",
    is_operator=True,
    clearance="绝密",
    clearance_rank=99,
)

Progress = Callable[..., None]


def asr_part(path: str) -> str:
    return f"语音转写：{Path(path).name}"[:200]


def register_media(inst: Instance, record_ids: list[int] | None = None) -> int:
    """Add 待转写 rows for audio/video record files that have none; returns how many."""
    with inst.db.write() as s:
        q = select(RecordFile).outerjoin(AsrItem, AsrItem.record_file_id == RecordFile.id)
        q = q.where(AsrItem.id.is_(None))
        if record_ids:
            q = q.where(RecordFile.record_id.in_(record_ids))
        added = 0
        for f in s.scalars(q):
            if is_media(f.path, f.mime):
                s.add(AsrItem(record_file_id=f.id, record_id=f.record_id, state="pending"))
                added += 1
    return added


def transcribe_pending(
    inst: Instance,
    *,
    record_ids: list[int] | None = None,
    progress: Progress | None = None,
    transcriber: Transcriber | None = None,
) -> dict[str, Any]:
    """Register media, then transcribe what is 待转写 (see the module doc); returns a summary."""
    report = progress or (lambda *a, **k: None)
    register_media(inst, record_ids)
    with inst.db.read() as s:
        q = select(AsrItem.id).where(AsrItem.state == "pending").order_by(AsrItem.id)
        if record_ids:
            q = q.where(AsrItem.record_id.in_(record_ids))
        pending = list(s.scalars(q))
    model_dir = inst.settings.asr_model_dir
    if transcriber is None and model_dir is None:
        message = f"未安装语音识别模型（LANTAI_ASR_MODEL_DIR）：{len(pending)} 个文件待转写"
        report("asr", 0, len(pending), message=message, force=True)
        return {"pending": len(pending), "done": 0, "failed": 0, "message": message}
    if transcriber is None:
        assert model_dir is not None
        transcriber = load_transcriber(model_dir)  # AsrModelError: permanent, items stay pending
    store = open_store(inst.settings)
    done = failed = 0
    for n, item_id in enumerate(pending):
        report("asr", n, len(pending), force=True)
        ok = _transcribe_one(inst, store, transcriber, item_id)
        done, failed = done + ok, failed + (not ok)
    report("asr", len(pending), len(pending), force=True)
    summary = {"pending": 0, "done": done, "failed": failed, "engine": transcriber.name,
               "model": transcriber.model}  # fmt: skip
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=ASR_ACTOR.username,
            action=EventType.DIGITISATION_ASR_COMPLETED,
            object_type="asr",
            object_id=",".join(map(str, record_ids or [])) or "all",
            detail=summary,
        )
    return summary


def _transcribe_one(inst: Instance, store: Any, transcriber: Transcriber, item_id: int) -> bool:
    from lantai.search.texts import TextSource, add_texts

    with inst.db.read() as s:
        item = s.get(AsrItem, item_id)
        f = s.get(RecordFile, item.record_file_id) if item else None
        if item is None or f is None or item.state != "pending":
            return True
        key, name, record_id = f"{f.aip_id}/{f.path}", f.path, f.record_id
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="lantai-asr-") as tmp:
            src = Path(tmp) / f"media{Path(name).suffix.lower()}"
            with store.open(key) as stream, open(src, "wb") as out:
                while chunk := stream.read(1 << 20):
                    out.write(chunk)
            transcript = transcriber.transcribe(to_wav(src, Path(tmp) / "audio.wav"))
    except AsrModelError:
        raise
    except (LantaiError, OSError) as exc:
        with inst.db.write() as s:
            row = s.get(AsrItem, item_id)
            assert row is not None
            row.state, row.error, row.updated_at = "failed", str(exc)[:2000], utcnow()
        return False
    with inst.db.write() as s:
        row = s.get(AsrItem, item_id)
        assert row is not None
        row.state = "done"
        row.engine, row.model, row.language = (
            transcriber.name,
            transcriber.model,
            transcript.language,
        )
        row.text = transcript.text
        row.segments = [
            {"start": g.start, "end": g.end, "text": g.text, "confidence": g.confidence}
            for g in transcript.segments
        ]
        row.duration = transcript.duration
        row.seconds = round(time.monotonic() - started, 3)
        row.error, row.updated_at = None, utcnow()
        if transcript.text.strip():
            add_texts(
                inst,
                ASR_ACTOR,
                [(record_id, asr_part(name), TextSource.ASR.value, transcript.text)],
                session=s,
            )
    return True
