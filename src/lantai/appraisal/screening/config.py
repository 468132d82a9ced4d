"""Schema of the screening rules file (``rules.yaml``) and its loader.

The shipped file lives beside this module; an instance replaces it as a whole with
``<config dir>/screening_rules.yaml``. Every problem names the file, the path inside it and the
rule broken (via :mod:`lantai.datafiles`), and a file with any problem is never used.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lantai.datafiles import load_model

__all__ = [
    "RULES_FILE_NAME",
    "BankCardRule",
    "CategoryRule",
    "IdCardRule",
    "LandlineRule",
    "Lexicon",
    "MobileRule",
    "NameContextRule",
    "Rule",
    "RulesFile",
    "SecurityLevelRule",
    "Severity",
    "TermsRule",
    "load_rules",
    "shipped_rules_path",
]

RULES_FILE_NAME = "screening_rules.yaml"
Severity = Literal["高", "中", "低"]
SEVERITY_RANK: dict[str, int] = {"低": 1, "中": 2, "高": 3}
_CJK = re.compile(r"^[\u3400-\u9fff]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RuleBase(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    basis: str = Field(min_length=1, description="依据, e.g. 档案法第二十七条")
    basis_verified: bool = False
    result: str
    note: str = ""
    severity: Severity = "中"
    mask: bool = False
    enabled: bool = True


class SecurityLevelRule(_RuleBase):
    """The record's 密级 (security_level) is one of ``levels`` and it is not marked 解密."""

    kind: Literal["security_level"]
    levels: tuple[str, ...] = Field(min_length=1)


class CategoryRule(_RuleBase):
    """The record belongs to one of the 门类 ``categories`` (e.g. RS 人事)."""

    kind: Literal["category"]
    categories: tuple[str, ...] = Field(min_length=1)


class TermsRule(_RuleBase):
    """Any of ``terms`` occurs (after folding 繁→简 and full-width → half-width)."""

    kind: Literal["terms"]
    terms: tuple[str, ...] = Field(min_length=1)
    not_within: tuple[str, ...] = Field(
        (), description="longer words in which a term is not a hit (政审 in 行政审批)"
    )

    @field_validator("terms")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for t in v:
            if not t.strip():
                raise ValueError("敏感词不能为空白")
        return v

    @model_validator(mode="after")
    def _within_contains_a_term(self) -> TermsRule:
        for word in self.not_within:
            if not any(t in word and t != word for t in self.terms):
                raise ValueError(f"not_within 中的「{word}」不包含本规则的任何敏感词")
        return self


class IdCardRule(_RuleBase):
    """18-digit 居民身份证号 with a valid region, birth date and GB 11643 check digit."""

    kind: Literal["id_card"]
    legacy_15: bool = True
    legacy_context: tuple[str, ...] = ("身份证", "身份号码", "证件号")
    legacy_window: int = Field(20, ge=1, le=200)


class MobileRule(_RuleBase):
    kind: Literal["mobile"]


class LandlineRule(_RuleBase):
    kind: Literal["landline"]


class BankCardRule(_RuleBase):
    """16–19 digits passing Luhn, starting with one of ``iin_prefixes``, not an ID number."""

    kind: Literal["bank_card"]
    iin_prefixes: tuple[str, ...] = ("62", "60", "4", "5", "3", "9")

    @field_validator("iin_prefixes")
    @classmethod
    def _digits(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if not p.isdigit():
                raise ValueError(f"卡号前缀「{p}」须为数字")
        return v


class NameContextRule(_RuleBase):
    """A personal name (lexicon surname + 1–2 given characters) near one of ``context_words``."""

    kind: Literal["name_context"]
    context_words: tuple[str, ...] = Field(min_length=1)
    window: int = Field(15, ge=1, le=200)


Rule = Annotated[
    SecurityLevelRule
    | CategoryRule
    | TermsRule
    | IdCardRule
    | MobileRule
    | LandlineRule
    | BankCardRule
    | NameContextRule,
    Field(discriminator="kind"),
]


class Lexicon(_Strict):
    """The word lists of the name rule set (see docs/appraisal.md, 人名规则)."""

    surnames: str = Field(min_length=1, description="single-character surnames, one string")
    compound_surnames: tuple[str, ...] = ()
    stop_chars: str = Field("", description="characters that end a given name")
    non_name_words: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    word_endings: tuple[str, ...] = Field(
        (), description="words ending in a surname character (责任, 主任): no name starts there"
    )
    anonymised: str = "某"

    @field_validator("surnames", "stop_chars", "anonymised")
    @classmethod
    def _cjk_chars(cls, v: str) -> str:
        v = "".join(v.split())
        if v and not _CJK.match(v):
            raise ValueError("只能包含汉字")
        dup = sorted({c for c in v if v.count(c) > 1})
        if dup:
            raise ValueError(f"字符重复：{''.join(dup)}")
        return v

    @field_validator("compound_surnames")
    @classmethod
    def _compound(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for s in v:
            if len(s) != 2 or not _CJK.match(s):
                raise ValueError(f"复姓「{s}」须为两个汉字")
        return v


class RulesFile(_Strict):
    version: int
    results: tuple[str, ...] = Field(
        min_length=1, description="suggested results, least restrictive first"
    )
    categories: tuple[str, ...] = Field(min_length=1)
    lexicon: Lexicon
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> RulesFile:
        if "开放" not in self.results:
            raise ValueError("results 须包含「开放」（无命中时的建议）")
        seen: set[str] = set()
        for i, r in enumerate(self.rules):
            where = f"rules[{i}]（{r.id}）"
            if r.id in seen:
                raise ValueError(f"{where}：规则编号重复")
            seen.add(r.id)
            if r.result not in self.results:
                raise ValueError(
                    f"{where}：建议结果「{r.result}」不在 results（{'、'.join(self.results)}）中"
                )
            if r.category not in self.categories:
                raise ValueError(
                    f"{where}：类别「{r.category}」不在 categories（{'、'.join(self.categories)}）中"
                )
        return self

    def rank(self, result: str) -> int:
        """How restrictive ``result`` is (0 = 开放-like, the least)."""
        return self.results.index(result)


def shipped_rules_path() -> Path:
    return Path(str(resources.files("lantai.appraisal.screening") / "rules.yaml"))


def load_rules(path: Path | None = None, *, config_dir: Path | None = None) -> RulesFile:
    """The rules in ``path``; else the instance's ``screening_rules.yaml``; else the shipped file.

    Raises ConfigError("开放审核筛查规则校验失败", problems) naming every problem found.
    """
    if path is None and config_dir is not None and (config_dir / RULES_FILE_NAME).is_file():
        path = config_dir / RULES_FILE_NAME
    return load_model(path or shipped_rules_path(), RulesFile, title="开放审核筛查规则")
