"""The long-term format policy (长期保存格式目录) as data, and the classification of one format.

Public API::

    classify(info, *, facts=None) -> PolicyDecision     # with the shipped policy
    load_policy(path=None) -> FormatPolicy               # the shipped file, or another one
    FormatPolicy.classify(info, *, facts=None)
    Decision: long_term | accepted | convert | reject

The data file is ``lantai/formats/data/long_term_formats.yaml`` (see its header for the sources
and the meaning of each field). A format is looked up by its PUID (``FormatInfo.puid``; OFD is
``lantai/ofd``). ``facts`` carries what probes found out, for entries that need it:
``{"video_codec": "h264"}`` from :mod:`lantai.formats.media`, ``{"pdfa_claim": "2b"}`` from
:mod:`lantai.formats.pdf`. An unidentified format and an identified one that the file does not
list get the file's ``unidentified`` / ``unlisted`` decisions.

The shipped policy is loaded and validated once per process (``functools.cache``, like the XSDs);
errors in the file are :class:`~lantai.errors.ConfigError` naming the entry and field.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lantai.datafiles import load_model
from lantai.ingest.transfer import FormatInfo

__all__ = [
    "POLICY_PATH",
    "Decision",
    "FormatEntry",
    "FormatPolicy",
    "PolicyDecision",
    "classify",
    "load_policy",
]

POLICY_PATH: Final = Path(__file__).resolve().parent / "data" / "long_term_formats.yaml"


class Decision(StrEnum):
    LONG_TERM = "long_term"  # 长期保存格式: kept as it is
    ACCEPTED = "accepted"  # 可接收: kept, flagged for later migration
    CONVERT = "convert"  # 须转换: convert to a long-term format
    REJECT = "reject"  # 拒收

    @property
    def label(self) -> str:
        return {
            "long_term": "长期保存格式",
            "accepted": "可接收格式（标记待转换）",
            "convert": "须转换为长期保存格式",
            "reject": "不予接收的格式",
        }[self.value]


class _Fallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    rule: str = Field(min_length=1)


class FormatEntry(BaseModel):
    """One row of the format list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    decision: Decision
    puids: list[str] = Field(min_length=1)
    puids_unverified: list[str] = Field(default_factory=list)
    basis: str = Field(min_length=1)
    confidence: Literal["V", "I", "M"]
    note: str = ""
    requires: dict[str, list[str]] = Field(default_factory=dict)
    otherwise: Decision | None = None
    promote: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _otherwise_with_requires(self) -> FormatEntry:
        if self.requires and self.otherwise is None:
            raise ValueError("有 requires 的条目必须给出 otherwise（条件不满足时的处理）")
        return self


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    unidentified: _Fallback
    unlisted: _Fallback
    formats: list[FormatEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> _PolicyFile:
        ids: set[str] = set()
        owner: dict[str, str] = {}
        for entry in self.formats:
            if entry.id in ids:
                raise ValueError(f"条目 id「{entry.id}」重复")
            ids.add(entry.id)
            for puid in (*entry.puids, *entry.puids_unverified):
                if puid in owner:
                    raise ValueError(f"PUID {puid} 同时出现在「{owner[puid]}」和「{entry.id}」中")
                owner[puid] = entry.id
        for entry in self.formats:
            for fact, target in entry.promote.items():
                if target not in ids:
                    raise ValueError(
                        f"条目「{entry.id}」的 promote.{fact} 指向不存在的条目「{target}」"
                    )
        return self


@dataclass(frozen=True, kw_only=True)
class PolicyDecision:
    """The policy's verdict on one format, with the rule that gave it."""

    decision: Decision
    rule: str  # zh-CN: which entry and why, for reports
    entry: str | None  # entry id, None for the unidentified/unlisted fallbacks
    label: str  # zh-CN name of the format class
    puid: str | None
    confidence: str | None  # V / I / M of the entry
    notes: tuple[str, ...] = ()

    @property
    def acceptable(self) -> bool:
        """Kept as received (long_term or accepted)."""
        return self.decision in (Decision.LONG_TERM, Decision.ACCEPTED)


class FormatPolicy:
    """A loaded policy file; immutable."""

    def __init__(self, data: _PolicyFile, source: Path) -> None:
        self.source = source
        self.entries: tuple[FormatEntry, ...] = tuple(data.formats)
        self._unidentified = data.unidentified
        self._unlisted = data.unlisted
        self._by_id = {e.id: e for e in self.entries}
        self._by_puid = {p: e for e in self.entries for p in (*e.puids, *e.puids_unverified)}

    def entry(self, entry_id: str) -> FormatEntry:
        return self._by_id[entry_id]

    def entry_for(self, puid: str | None) -> FormatEntry | None:
        return self._by_puid.get(puid) if puid else None

    def classify(
        self, info: FormatInfo | None, *, facts: Mapping[str, str] | None = None
    ) -> PolicyDecision:
        """The decision for a file of format ``info`` (see the module docstring for ``facts``)."""
        facts = facts or {}
        puid = info.puid if info is not None else None
        if puid is None:
            return PolicyDecision(
                decision=self._unidentified.decision,
                rule=self._unidentified.rule,
                entry=None,
                label="未识别的格式",
                puid=None,
                confidence=None,
            )
        entry = self._by_puid.get(puid)
        if entry is None:
            name = info.name if info is not None else puid
            return PolicyDecision(
                decision=self._unlisted.decision,
                rule=f"{name}（{puid}）：{self._unlisted.rule}",
                entry=None,
                label=name,
                puid=puid,
                confidence=None,
            )
        notes: list[str] = []
        for fact, target in entry.promote.items():
            if facts.get(fact):
                notes.append(
                    f"按文件自身声明（{fact}={facts[fact]}）归入「{self._by_id[target].label}」"
                )
                entry = self._by_id[target]
                break
        decision = entry.decision
        for fact, allowed in entry.requires.items():
            value = facts.get(fact)
            if value is None:
                notes.append(f"须核实 {fact} ∈ {'/'.join(allowed)}（未探测）")
            elif value.lower() not in {a.lower() for a in allowed}:
                decision = entry.otherwise or decision
                notes.append(f"{fact}={value}，不在 {'/'.join(allowed)} 之内")
        if entry.note:
            notes.append(entry.note)
        if puid in entry.puids_unverified:
            notes.append(f"{puid} 归入本条目尚未经本机样本核实 [M]")
        rule = f"{entry.label}：{decision.label}（依据：{entry.basis}；可信度 {entry.confidence}）"
        return PolicyDecision(
            decision=decision,
            rule=rule,
            entry=entry.id,
            label=entry.label,
            puid=puid,
            confidence=entry.confidence,
            notes=tuple(notes),
        )


@functools.cache
def _shipped() -> FormatPolicy:
    return load_policy(POLICY_PATH)


def load_policy(path: Path | None = None) -> FormatPolicy:
    """The policy in ``path`` (default: the shipped file, loaded once per process)."""
    if path is None:
        return _shipped()
    return FormatPolicy(load_model(path, _PolicyFile, title="长期保存格式目录"), path)


def classify(info: FormatInfo | None, *, facts: Mapping[str, str] | None = None) -> PolicyDecision:
    """Classify ``info`` with the shipped policy."""
    return load_policy().classify(info, facts=facts)
