"""Small pieces every check module shares: the stage-specific code, reader notes, file lookups.

- :func:`code` — ``code(ctx, "2-1")`` is ``"GD-2-1"`` or ``"YJ-2-1"`` for the stage being run.
- :func:`reader_findings` — what a reader noticed (``Transfer.notes``) about one item, as findings.
- :func:`files_by_path` — the transfer's files by payload path, built once per run.
- :func:`clip` — evidence text kept short enough for a report cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lantai.ingest.checks._core import CheckContext, Finding, Status

if TYPE_CHECKING:
    from lantai.ingest.transfer import TransferFile, TransferNote

__all__ = ["clip", "code", "files_by_path", "note_matches", "reader_findings"]


def code(ctx: CheckContext, suffix: str) -> str:
    """The catalogue code of item ``suffix`` ("1-1") at the stage of this run."""
    return f"{ctx.stage.value}-{suffix}"


def note_matches(note: TransferNote, suffix: str) -> bool:
    """A reader note belongs to item ``suffix`` when its code names it at any stage ("GD-1-13",
    "YJ-1-13") or without a stage ("1-13")."""
    return note.code == suffix or (len(note.code) > 3 and note.code[2:] == f"-{suffix}")


def reader_findings(ctx: CheckContext, suffix: str) -> list[Finding]:
    """The reader's notes for this item: errors are 不通过, warnings 人工复核."""
    out: list[Finding] = []
    for note in ctx.transfer.notes:
        if not note_matches(note, suffix):
            continue
        out.append(
            Finding(
                code=code(ctx, suffix),
                status=Status.FAILED if note.severity == "error" else Status.MANUAL,
                message=note.message,
                file=note.file,
                rule="读取信息包时发现",
            )
        )
    return out


def files_by_path(ctx: CheckContext) -> dict[str, TransferFile]:
    cached = ctx.cache.get("files_by_path")
    if cached is None:
        cached = {f.path: f for f in ctx.transfer.files}
        ctx.cache["files_by_path"] = cached
    return cached


def clip(text: object, limit: int = 200) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"
