"""The demo instance's sample data (``lantai demo load``): users, two fonds, real texts.

The generated 文书档案 of Z109 reach back to 1990: the items older than 25 years that are 公开
carry the 开放标识 of an earlier review (the generator's ``open_status_old``), and ``load_demo``
publishes every 开放 record through the 上网审查 service (``publish_all_open``), so the public
portal of the demo has records to find; 控制 and 未审核 records are never published.

``load_demo`` is idempotent: it creates only what is missing (users by name, fonds by 全宗号,
series by title, items by title within their parent, generated items when the fonds has none),
so running it twice changes nothing the second time. Every record goes through the catalogue
service (validated, 档号 assigned by the configured rule, logged); only the ~200 generated
文书档案 items use the bulk generator, which logs them per batch.

The content is described in ``seeds.yaml``; the five texts are ``seeds/*.txt``, read with
:func:`seed_text` exactly as stored (web spam, traditional characters and pinyin glosses kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai.archival import Level
from lantai.demo.generator import generate_records
from lantai.errors import ConfigError, NotFound, Problem
from lantai.instance import Instance
from lantai.search.texts import TextSource, add_text
from lantai.security import Actor
from lantai.store import Record, User

__all__ = [
    "DemoLogin",
    "DemoSummary",
    "SampleData",
    "estimate_pages",
    "load_demo",
    "load_sample_data",
    "seed_names",
    "seed_text",
]


# libyaml's loader when present: the pure-Python one takes ~0.1 s for vocabulary.yaml.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoUser(_Strict):
    username: str
    display_name: str
    role: str
    clearance: str = "公开"


class SeedDocument(_Strict):
    seed: str = Field(pattern=r"^[0-9A-Za-z_.-]+\.txt$")
    values: dict[str, Any]


class ReferenceFonds(_Strict):
    code: str
    name: str
    responsible: str
    date: str
    custody_history: str
    abstract: str
    series_title: str
    category: str
    chars_per_page: int = Field(gt=0)
    documents: tuple[SeedDocument, ...]


class Generated(_Strict):
    records: int = Field(ge=0)
    first_year: int
    last_year: int
    seed: int = 0


class SeriesSpec(_Strict):
    title: str
    category: str


class FileSpec(_Strict):
    values: dict[str, Any]
    items: tuple[dict[str, Any], ...]


class OfficeFonds(_Strict):
    code: str
    name: str
    responsible: str
    date: str
    custody_history: str
    generated: Generated
    files_series: SeriesSpec
    files: tuple[FileSpec, ...]


class SampleData(_Strict):
    """The validated content of ``seeds.yaml``."""

    version: Literal[1]
    archive_code: str
    url: str
    password: str
    users: tuple[DemoUser, ...]
    reference_fonds: ReferenceFonds
    office_fonds: OfficeFonds


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    role: str
    role_label: str
    clearance: str
    password: str
    created: bool


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` found or created; ``created_*`` count only this run's additions."""

    url: str
    logins: tuple[DemoLogin, ...]
    fonds_ids: dict[str, int]
    created_records: int
    generated_records: int
    published_records: int = 0  # 开放 records this run published to the public portal

    @property
    def created_users(self) -> int:
        return sum(1 for login in self.logins if login.created)


def _package_file(name: str) -> Path:
    return Path(str(resources.files("lantai.demo") / name))


def load_sample_data(path: Path | None = None) -> SampleData:
    """Read and validate ``seeds.yaml`` (the shipped one by default)."""
    path = path or _package_file("seeds.yaml")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        return SampleData.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            "示例数据文件无法读取", [Problem(file=str(path), message=str(exc))]
        ) from exc
    except ValidationError as exc:
        raise ConfigError(
            "示例数据文件校验失败",
            [
                Problem(
                    file=str(path),
                    field=".".join(str(p) for p in err["loc"]),
                    rule="schema",
                    message=str(err.get("msg", "")),
                )
                for err in exc.errors()
            ],
        ) from exc


def seed_names() -> list[str]:
    """File names of the seed texts, as listed in ``seeds.yaml``."""
    return [d.seed for d in load_sample_data().reference_fonds.documents]


def seed_text(name: str) -> str:
    """The full text of one seed document, exactly as stored (UTF-8, line endings kept)."""
    if name not in seed_names():
        raise NotFound(f"示例文本「{name}」不存在")
    return _package_file(f"seeds/{name}").read_bytes().decode("utf-8")


def estimate_pages(text: str, chars_per_page: int) -> int:
    """Pages the text fills at ``chars_per_page`` non-blank characters a page (at least 1)."""
    chars = sum(1 for ch in text if not ch.isspace())
    return max(1, -(-chars // chars_per_page))


# -- loading ----------------------------------------------------------------------------------------


def load_demo(inst: Instance, *, actor: Actor | None = None) -> DemoSummary:
    """Create the demo users and catalogue where they are missing. Safe to run again."""
    data = load_sample_data()
    actor = actor or Actor.operator()
    logins = _users(inst, actor, data)
    created = 0
    ref_id, n = _reference_fonds(inst, actor, data)
    created += n
    office_id, n, generated = _office_fonds(inst, actor, data)
    created += n + generated
    published = _publish_open(inst, actor)
    return DemoSummary(
        url=data.url,
        logins=logins,
        fonds_ids={data.reference_fonds.code: ref_id, data.office_fonds.code: office_id},
        created_records=created,
        generated_records=generated,
        published_records=published,
    )


def _publish_open(inst: Instance, actor: Actor) -> int:
    """Publish the demo's 开放 records not yet published (上网审查 batch per 全宗, approved through
    the publication service) so the public portal shows them; returns how many."""
    from lantai.appraisal.publication import publish_all_open

    return len(publish_all_open(inst, actor, reason="示例数据：开放档案经上网审查后公布"))


def _users(inst: Instance, actor: Actor, data: SampleData) -> tuple[DemoLogin, ...]:
    logins: list[DemoLogin] = []
    with inst.db.write() as s:
        for u in data.users:
            exists = s.scalar(select(User.id).where(User.username == u.username)) is not None
            if not exists:
                inst.users.create(
                    s,
                    actor,
                    username=u.username,
                    display_name=u.display_name,
                    password=data.password,
                    roles=(u.role,),
                    clearance=u.clearance,
                )
            # Report the account as it is now (an administrator may have changed it since).
            user = inst.users.get(s, u.username)
            roles = inst.users.roles_of(s, user.id)
            logins.append(
                DemoLogin(
                    username=user.username,
                    display_name=user.display_name,
                    role="、".join(roles),
                    role_label="、".join(inst.roles.label(r) for r in roles),
                    clearance=user.clearance,
                    password=data.password,
                    created=not exists,
                )
            )
    return tuple(logins)


def _find_fonds(session: Session, code: str) -> Record | None:
    return session.scalar(
        select(Record).where(Record.archival_code == code, Record.level == Level.FONDS.value)
    )


def _ensure_fonds(
    inst: Instance,
    session: Session,
    actor: Actor,
    data: SampleData,
    spec: ReferenceFonds | OfficeFonds,
    extra: dict[str, Any],
) -> tuple[Record, int]:
    fonds = _find_fonds(session, spec.code)
    if fonds is not None:
        return fonds, 0
    fonds = inst.catalogue.create_fonds(
        session,
        actor,
        code=spec.code,
        name=spec.name,
        responsible=spec.responsible,
        values={
            "archive_code": inst.settings.archive_code or data.archive_code,
            "date": spec.date,
            "custody_history": spec.custody_history,
            **extra,
        },
    )
    return fonds, 1


def _child(session: Session, parent_id: int, level: Level, title: str) -> Record | None:
    return session.scalar(
        select(Record).where(
            Record.parent_id == parent_id, Record.level == level.value, Record.title == title
        )
    )


def _ensure_series(
    inst: Instance, session: Session, actor: Actor, parent_id: int, title: str, **kw: Any
) -> tuple[Record, int]:
    found = _child(session, parent_id, Level.SERIES, title)
    if found is not None:
        return found, 0
    return inst.catalogue.ensure_series(session, actor, parent_id, title, **kw), 1


def _ensure_record(
    inst: Instance,
    session: Session,
    actor: Actor,
    parent_id: int,
    level: Level,
    values: dict[str, Any],
) -> tuple[Record, int]:
    found = _child(session, parent_id, level, str(values["title"]))
    if found is not None:
        return found, 0
    rec = inst.catalogue.create_record(
        session, actor, parent_id=parent_id, level=level, values=values
    )
    return rec, 1


def _reference_fonds(inst: Instance, actor: Actor, data: SampleData) -> tuple[int, int]:
    spec = data.reference_fonds
    with inst.db.write() as s:
        fonds, created = _ensure_fonds(inst, s, actor, data, spec, {"abstract": spec.abstract})
        # Series and items in date order, so the tree lists years and items chronologically.
        for doc in sorted(spec.documents, key=lambda d: str(d.values["date"]).strip("[]")):
            values = dict(doc.values)
            year = int(str(values["date"]).strip("[]")[:4])
            series, n = _ensure_series(
                inst,
                s,
                actor,
                fonds.id,
                spec.series_title.format(year=year),
                category=spec.category,
                year=year,
            )
            created += n
            text = seed_text(doc.seed)
            values["pages"] = estimate_pages(text, spec.chars_per_page)
            values["notes"] = (
                f"{values.get('notes', '')}页数按全文每页 {spec.chars_per_page} 字估算。"
            )
            rec, n = _ensure_record(inst, s, actor, series.id, Level.ITEM, values)
            created += n
            # The speech itself is the record's full text (searchable; unchanged text adds nothing).
            add_text(inst, actor, rec.id, doc.seed, TextSource.SEED.value, text, session=s)
    return fonds.id, created


def _office_fonds(inst: Instance, actor: Actor, data: SampleData) -> tuple[int, int, int]:
    spec = data.office_fonds
    with inst.db.write() as s:
        fonds, created = _ensure_fonds(inst, s, actor, data, spec, {})
        series, n = _ensure_series(
            inst,
            s,
            actor,
            fonds.id,
            spec.files_series.title,
            category=spec.files_series.category,
        )
        created += n
        for f in spec.files:
            file, n = _ensure_record(inst, s, actor, series.id, Level.FILE, dict(f.values))
            created += n
            for item in f.items:
                values = {"retention": f.values.get("retention"), **item}
                _, n = _ensure_record(inst, s, actor, file.id, Level.ITEM, values)
                created += n
        has_generated = s.scalar(
            select(func.count())
            .select_from(Record)
            .where(
                Record.fonds_id == fonds.id,
                Record.level == Level.ITEM.value,
                Record.category == "WS",
            )
        )
        fonds_id = fonds.id
    generated = 0
    g = spec.generated
    if not has_generated and g.records:
        generated = generate_records(
            inst,
            records=g.records,
            fonds_code=spec.code,
            seed=g.seed,
            years=(g.first_year, g.last_year),
            actor=actor,
        ).count
    return fonds_id, created, generated
