"""Who may see which index documents: filter clauses built from the actor, applied inside the query.

Because the clauses are part of the query that is counted and aggregated, hidden records are absent
from hits, totals and facet counts alike.

* Staff (an actor with ``search:catalogue:query``, or the command-line operator) see active records
  whose 密级 rank is at most their clearance (密级授权).
* Everyone else — the public portal, anonymous visitors — sees active records that are 开放,
  公开 (rank 0) **and published** (an approved 上网审查 decision: the document's ``published``
  flag, ``published_records.state`` for rows). A published record whose 开放标识 changed is
  re-indexed with its new status and drops out even before it is unpublished.
* Only active records are indexed at all (withdrawn and destroyed ones are deleted from the index
  by the indexer); the clauses exclude them again so that a stale document can never show.

The clauses are negative where possible (``NOT rank > clearance``): excluding the few classified
documents costs little, whereas a positive filter over millions of open records would double the
cost of every broad query.
"""

from __future__ import annotations

from dataclasses import dataclass

import tantivy
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import aliased

from lantai.catalogue import Lifecycle
from lantai.search.schema import PUBLISHED
from lantai.security import Actor, Perm
from lantai.store import PublicationState, PublishedRecord, Record
from lantai.store.shared import built_once

__all__ = ["OPEN", "Visibility"]

OPEN = "开放"
_INACTIVE = (Lifecycle.WITHDRAWN, Lifecycle.DESTROYED)


_RANK_LOOKUPS = 32  # 密级 ranks are small integers (code table: 0–4); above, a range query


def _any_above(searcher: tantivy.Searcher, schema: tantivy.Schema, rank: int) -> bool:
    """Whether any document has a 密级 rank above ``rank`` (term statistics: microseconds)."""
    if any(searcher.doc_freq("rank", r) for r in range(max(0, rank + 1), _RANK_LOOKUPS)):
        return True
    beyond = tantivy.Query.range_query(
        schema,
        "rank",
        tantivy.FieldType.Integer,
        max(rank + 1, _RANK_LOOKUPS),
        None,
        use_inverted_index=True,
    )
    return bool(searcher.search(beyond, 1, count=False).hits)


@dataclass(frozen=True)
class Visibility:
    """What one actor may find: records up to ``max_rank``, and only 开放 ones when ``public``."""

    public: bool
    max_rank: int

    @classmethod
    def of(cls, actor: Actor) -> Visibility:
        staff = actor.is_operator or (
            actor.user_id is not None and actor.can(Perm.SEARCH_CATALOGUE)
        )
        if staff:
            return cls(public=False, max_rank=actor.clearance_rank)
        return cls(public=True, max_rank=0)

    @property
    def key(self) -> str:
        """A short name of this visibility class (for caches and logs)."""
        return f"{'public' if self.public else 'staff'}:{self.max_rank}"

    def clauses(
        self, schema: tantivy.Schema, searcher: tantivy.Searcher | None = None
    ) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """The filter clauses. With ``searcher``, an exclusion that excludes nothing in this index
        (no record above the clearance, none withdrawn) is left out: it would cost a third of the
        time of a broad query and change nothing. Term statistics count deleted documents too, so
        a clause is only ever left out when no document at all could match it."""
        out: list[tuple[tantivy.Occur, tantivy.Query]] = []
        above = tantivy.Query.range_query(
            schema,
            "rank",
            tantivy.FieldType.Integer,
            self.max_rank,
            None,
            include_lower=False,
            use_inverted_index=True,
        )
        if searcher is None or _any_above(searcher, schema, self.max_rank):
            out.append((tantivy.Occur.MustNot, above))
        for state in _INACTIVE:
            if searcher is None or searcher.doc_freq("lifecycle", str(state)):
                out.append(
                    (tantivy.Occur.MustNot, tantivy.Query.term_query(schema, "lifecycle", state))
                )
        if self.public:
            out.append((tantivy.Occur.Must, tantivy.Query.term_query(schema, "open_status", OPEN)))
            out.append(
                (tantivy.Occur.Must, tantivy.Query.term_query(schema, "published", PUBLISHED))
            )
        return out

    def sql(self) -> ColumnElement[bool]:
        """The same rule for database rows (hits are re-checked when they are displayed).

        The published test is a correlated ``EXISTS`` (one primary-key probe of
        ``published_records`` per row), not ``id IN (SELECT … WHERE state = 'published')``:
        SQLite materialises such a list of every published record on each statement — ~60 ms at
        200,000 published records for a page of ten hits or one record page. Built once per
        visibility class (record pages and hits use it on every request)."""
        return _row_rule(self.public, self.max_rank)


_PUBLISHED = aliased(PublishedRecord, name="visible_published")


@built_once
def _row_rule(public: bool, max_rank: int) -> ColumnElement[bool]:
    cond = and_(Record.security_rank <= max_rank, Record.lifecycle == Lifecycle.ACTIVE)
    if public:
        published = (
            select(_PUBLISHED.record_id)
            .where(
                _PUBLISHED.record_id == Record.id,
                _PUBLISHED.state == PublicationState.PUBLISHED.value,
            )
            .correlate(Record)
            .exists()
        )
        cond = and_(cond, Record.open_status == OPEN, published)
    return cond
