"""Permission filtering happens inside the query: hits, totals and facet counts never leak.

A 机密 record is invisible to a user cleared for 秘密 and to the public — in hits, in the total,
in every facet's counts, by its 档号 and by words of its full text. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from factories import create_fonds, create_series
from lantai.appraisal.publication import publish_all_open
from lantai.search import SearchResults, Visibility, add_text
from lantai.security import Actor, Perm
from lantai.store import Record
from search_support import SearchKit
from web_support import PASSWORD

OP = Actor.operator()


def _actor(kit: SearchKit, username: str, roles: tuple[str, ...], clearance: str) -> Actor:
    with kit.inst.db.write() as s:
        user = kit.inst.users.create(
            s,
            OP,
            username=username,
            display_name=username,
            password=PASSWORD,
            roles=roles,
            clearance=clearance,
        )
        return kit.inst.users.actor_for(s, user)


@pytest.fixture
def records(any_kit: SearchKit) -> dict[str, int]:
    kit = any_kit
    fonds = create_fonds(kit.inst, OP)
    series = create_series(kit.inst, OP, fonds.id, "文书档案")
    made = {
        "open": kit.item(series.id, title="关于查档服务的通知（开放）", open_status="开放"),
        "controlled": kit.item(series.id, title="关于查档服务的通知（控制）", open_status="控制"),
        "secret": kit.item(
            series.id,
            title="关于查档服务的通知（秘密）",
            security_level="秘密★10年",
            open_status="控制",
        ),
        "top": kit.item(
            series.id,
            title="关于查档服务的通知（机密）",
            security_level="机密★20年",
            open_status="控制",
            retention="D30",
        ),
    }
    add_text(kit.inst, OP, made["top"].id, "正文", "ocr", "此件述及绝无仅有的青铜密钥字样。")
    publish_all_open(kit.inst, OP, reason="测试：开放条目经上网审查后公布")
    kit.sync()
    return {k: v.id for k, v in made.items()}


def _facet_counts(res: SearchResults, name: str) -> dict[str, int]:
    return {v.value: v.count for v in res.facets.get(name, [])}


def _assert_consistent(res: SearchResults, *, items_only: bool = True) -> None:
    """A single-valued facet sums to the total (items have every facet; the fonds and 类别 records
    have no 门类/年度/保管期限/开放标识 of their own): nothing hidden is counted."""
    assert sum(_facet_counts(res, "security").values()) == res.total
    for name in ("fonds", "category", "year", "retention", "open_status"):
        counted = sum(_facet_counts(res, name).values())
        assert counted == res.total if items_only else counted <= res.total, name


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("archivist", {"open", "controlled", "secret", "top"}),  # 机密 clearance
        ("secret_reader", {"open", "controlled", "secret"}),  # 秘密 clearance
        ("reader", {"open", "controlled"}),  # 公开 clearance
        ("nobody", {"open"}),  # logged in but not a searcher: the public view
        ("anonymous", {"open"}),
    ],
)
def test_hits_totals_and_facets_never_leak(
    any_kit: SearchKit, records: dict[str, int], who: str, visible: set[str]
) -> None:
    actors = {
        "archivist": lambda: _actor(any_kit, "archivist", ("archivist",), "机密"),
        "secret_reader": lambda: _actor(any_kit, "secret_reader", ("reader",), "秘密"),
        "reader": lambda: _actor(any_kit, "reader", ("reader",), "公开"),
        "nobody": lambda: _actor(any_kit, "nobody", (), "机密"),
        "anonymous": Actor.anonymous,
    }
    actor = actors[who]()
    names = {v: k for k, v in records.items()}
    res = any_kit.search(actor, q="查档服务", size=100)
    assert {names[h.id] for h in res.hits} == visible
    assert res.total == len(visible)
    _assert_consistent(res)
    security = _facet_counts(res, "security")
    assert ("机密" in security) == ("top" in visible)
    assert ("秘密" in security) == ("secret" in visible)
    assert set(_facet_counts(res, "open_status")) == (
        {"开放"} if visible == {"open"} else {"开放", "控制"}
    )
    assert _facet_counts(res, "retention").get("D30", 0) == (1 if "top" in visible else 0)
    # the 机密 record cannot be reached by its words, its full text, its 档号 or its facet value
    top_visible = "top" in visible
    assert (any_kit.search(actor, q="青铜密钥").total == 1) == top_visible
    assert (any_kit.search(actor, fulltext="绝无仅有").total == 1) == top_visible
    with any_kit.inst.db.read() as s:
        top = s.get(Record, records["top"])
    assert top is not None and top.archival_code
    code = top.archival_code
    assert (any_kit.search(actor, q=code).total >= 1) == top_visible
    hidden = any_kit.search(actor, q="查档服务", security=("机密",))
    assert hidden.total == (1 if top_visible else 0)
    assert (hidden.facets == {}) == (not top_visible)
    # an empty search (browse by facets) counts only what the actor may see
    everything = any_kit.search(actor, size=1)
    assert _facet_counts(everything, "security").get("机密", 0) == (1 if top_visible else 0)
    _assert_consistent(everything, items_only=False)


def test_visibility_of_actors() -> None:
    assert Visibility.of(Actor.anonymous()) == Visibility(public=True, max_rank=0)
    assert Visibility.of(Actor.operator()) == Visibility(public=False, max_rank=99)
    staff = Actor(
        username="u",
        display_name="u",
        user_id=1,
        permissions=frozenset({Perm.SEARCH_CATALOGUE}),
        clearance="秘密",
        clearance_rank=2,
    )
    assert Visibility.of(staff) == Visibility(public=False, max_rank=2)
    assert Visibility.of(staff).key == "staff:2"
