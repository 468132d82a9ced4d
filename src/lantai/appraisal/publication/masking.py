"""Masking what is published: personal data found by the screening, masked as configured.

:class:`PublicMasker` scans a text with the screening engine (:class:`Screener.scan`: 身份证号,
手机号, 固定电话, 银行卡号, 敏感语境中的人名) and masks the hits of the kinds listed in
``publication.yaml`` the way the file says. The result has the same length as the input (offsets
stay valid) and is a new string: the archival master is never altered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lantai.appraisal.publication.config import Mask, PublicationConfig
from lantai.appraisal.screening import Screener, TextSpan
from lantai.appraisal.screening.engine import SKIP_FIELDS
from lantai.appraisal.screening.masking import MASK, area_code_digits, mask_digits

__all__ = ["MaskedRecord", "PublicMasker"]


@dataclass(frozen=True)
class MaskedRecord:
    """The public form of one record: masked catalogue values and full texts."""

    title: str
    responsible: str | None
    fields: dict[str, Any]
    texts: list[tuple[str, str]]  # (part, masked text)
    spans: int  # how many hits were masked


class PublicMasker:
    def __init__(self, screener: Screener, config: PublicationConfig) -> None:
        self.screener = screener
        self.config = config
        self.char = config.mask_char

    def _masked_form(self, span: TextSpan, how: Mask) -> str:
        kind, text = span.rule.kind, span.text
        if kind == "name_context":
            # the screening's masked form keeps the surname (one or two characters)
            surname = next((i for i, c in enumerate(span.masked) if c == MASK), len(text))
            keep = surname if how.keep_surname else 0
            return text[:keep] + self.char * (len(text) - keep)
        head = how.keep_head
        if kind == "landline" and how.keep_area_code:
            head = max(head, area_code_digits(text))
        return mask_digits(text, head, how.keep_tail, self.char)

    def mask(self, text: str) -> tuple[str, int]:
        """(masked text, number of hits masked); the text itself when nothing is to be masked."""
        if not text:
            return text, 0
        spans = [t for t in self.screener.scan(text) if t.rule.kind in self.config.masks]
        if not spans:
            return text, 0
        chars = list(text)
        count = 0
        for t in spans:
            masked = self._masked_form(t, self.config.masks[t.rule.kind])  # type: ignore[index]
            if masked == t.text:
                continue
            count += 1
            for i, (a, b) in enumerate(zip(t.text, masked, strict=True)):
                if a != b:
                    chars[t.start + i] = b
        return "".join(chars), count

    def mask_value(self, value: Any) -> tuple[Any, int]:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, list):
            out, n = [], 0
            for v in value:
                m, k = self.mask_value(v)
                out.append(m)
                n += k
            return out, n
        return value, 0

    def mask_record(
        self,
        title: str,
        responsible: str | None,
        fields: Mapping[str, Any],
        texts: Sequence[tuple[str, str]],
    ) -> MaskedRecord:
        spans = 0
        m_title, n = self.mask(title)
        spans += n
        m_resp, n = self.mask(responsible or "")
        spans += n
        m_fields: dict[str, Any] = {}
        for key, value in fields.items():
            if key in SKIP_FIELDS:
                m_fields[key] = value
                continue
            m_fields[key], n = self.mask_value(value)
            spans += n
        m_texts = []
        for part, text in texts:
            m, n = self.mask(text)
            spans += n
            m_texts.append((part, m))
        return MaskedRecord(
            m_title, m_resp if responsible is not None else None, m_fields, m_texts, spans
        )
