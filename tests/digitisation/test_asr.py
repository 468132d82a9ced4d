"""语音转写: media registered as 待转写 without a model; model directories checked; ffmpeg audio.

No Chinese speech model installs offline (docs/digitisation.md §7), so there is no recognition
test here; the loader contract, the 待转写 state and the audio extraction are tested for real.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from digitisation_support import make_items
from lantai.digitisation.asr import AsrModelError, detect_layout, load_transcriber
from lantai.digitisation.asr.media import duration, is_media, to_wav
from lantai.digitisation.tasks import enqueue_asr
from lantai.instance import Instance
from lantai.jobs import InProcessRunner, JobState, default_registry
from lantai.security import Actor
from lantai.settings import Settings
from lantai.storage import open_store
from lantai.store import AsrItem, IngestTransfer, Job, RecordFile

FFMPEG = shutil.which("ffmpeg")


def _tone(path: Path, seconds: float = 1.5) -> Path:
    assert FFMPEG
    subprocess.run(
        [FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={seconds}", "-ac", "2", "-ar", "44100", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _attach(inst: Instance, record_id: int, name: str, data: bytes, mime: str | None) -> int:
    aip = f"aip-asr-{hashlib.sha256(name.encode()).hexdigest()[:12]}"  # one package per file
    open_store(inst.settings).put(
        f"{aip}/data/{name}",
        io.BytesIO(data),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    with inst.db.write() as s:
        t = IngestTransfer(
            uid=f"asr-{name}", source_name=name, source_path="/nowhere", state="done",
            created_by="tester",
        )  # fmt: skip
        s.add(t)
        s.flush()
        f = RecordFile(
            record_id=record_id, transfer_id=t.id, aip_id=aip, path=f"data/{name}",
            size=len(data), sha256="0" * 64, sm3="0" * 64, mime=mime,
        )  # fmt: skip
        s.add(f)
        s.flush()
        return f.id


def _run(inst: Instance, record_ids: list[int]) -> Job:
    with inst.db.write() as s:
        job_id = enqueue_asr(s, "tester", record_ids=record_ids).id
    InProcessRunner(inst, default_registry()).run_job(job_id)
    with inst.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed (scripts/bootstrap.sh)")
def test_without_a_model_media_wait_as_pending(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    (rec, _), (other, _) = make_items(instance, operator, [1, 1])
    wav = _tone(tmp_path / "talk.mp3").read_bytes()
    audio = _attach(instance, rec, "talk.mp3", wav, "audio/mpeg")
    _attach(instance, other, "letter.pdf", b"%PDF-1.4\n", "application/pdf")
    job = _run(instance, [rec, other])
    assert job.state == JobState.SUCCEEDED  # not failed: a model is simply not installed
    assert "待转写" in job.progress["message"]
    with instance.db.read() as s:
        items = list(s.scalars(select(AsrItem)))
    assert [(i.record_file_id, i.state) for i in items] == [(audio, "pending")]  # PDF not media


def test_malformed_model_dir_fails_with_a_clear_message(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    half = tmp_path / "vosk-model-cn"
    (half / "am").mkdir(parents=True)
    (half / "am" / "final.mdl").write_bytes(b"x")
    with pytest.raises(AsrModelError) as err:
        detect_layout(half)
    assert "Vosk" in str(err.value)
    assert "conf/mfcc.conf" in str(err.value) and "graph/HCLG.fst" in str(err.value)

    split = tmp_path / "whisper-base"
    split.mkdir()
    (split / "model.bin.part1").write_bytes(b"x")
    with pytest.raises(AsrModelError, match=r"合并为 model\.bin"):
        load_transcriber(split)
    (split / "model.bin").write_bytes(b"x")
    with pytest.raises(AsrModelError, match=r"config\.json"):
        detect_layout(split)
    with pytest.raises(AsrModelError, match="无法识别"):
        detect_layout(tmp_path)
    with pytest.raises(AsrModelError, match="不存在"):
        detect_layout(tmp_path / "nowhere")

    # a complete Vosk layout is recognised (loading it needs the vosk package and real files)
    for name in ("conf/mfcc.conf", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
        (half / name).parent.mkdir(parents=True, exist_ok=True)
        (half / name).write_bytes(b"x")
    assert detect_layout(half) == "vosk"

    # the job with a broken model directory: failed at once (permanent), media stay 待转写
    (rec, _) = make_items(instance, operator, [1])[0]
    _attach(instance, rec, "talk.wav", b"RIFF0000WAVE", "audio/wav")
    broken = Settings(**{**instance.settings.model_dump(), "asr_model_dir": split / "missing"})
    inst = Instance.open(broken)
    try:
        job = _run(inst, [rec])
        assert job.state == JobState.FAILED and job.attempts == 1
        assert "语音识别模型目录不存在" in (job.error or "")
        with inst.db.read() as s:
            assert [i.state for i in s.scalars(select(AsrItem))] == ["pending"]
    finally:
        inst.close()


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed (scripts/bootstrap.sh)")
def test_audio_extraction_to_16k_mono(tmp_path: Path) -> None:
    video_like = _tone(tmp_path / "tone.m4a", seconds=2.0)
    wav = to_wav(video_like, tmp_path / "out.wav")
    import wave

    with wave.open(str(wav)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16000, 2)
    assert duration(wav) == pytest.approx(2.0, abs=0.1)
    (tmp_path / "junk.mp3").write_bytes(b"not audio at all")
    with pytest.raises(Exception, match=r"无法从「junk\.mp3」提取音频"):
        to_wav(tmp_path / "junk.mp3", tmp_path / "junk.wav")
    assert is_media("a/b/录音.MP3", None) and is_media("x.bin", "video/mp4")
    assert not is_media("x.pdf", "application/pdf")
