"""Search (一网通查): Chinese analysis, the tantivy index, the query language, permission filter.

Other capabilities use :class:`SearchRuntime` (or :class:`SearchService` and :class:`Indexer`
directly) and :func:`add_text` to store the full text of a record.
"""

from lantai.search.errors import IndexUnavailable
from lantai.search.index import SearchHome, SearchReader
from lantai.search.indexer import Indexer, IndexStatus, RebuildReport
from lantai.search.permissions import Visibility
from lantai.search.query import parse
from lantai.search.runtime import SearchRuntime, search_home
from lantai.search.service import FacetValue, Hit, SearchParams, SearchResults, SearchService
from lantai.search.texts import TextSource, add_text

__all__ = [
    "FacetValue",
    "Hit",
    "IndexStatus",
    "IndexUnavailable",
    "Indexer",
    "RebuildReport",
    "SearchHome",
    "SearchParams",
    "SearchReader",
    "SearchResults",
    "SearchRuntime",
    "SearchService",
    "TextSource",
    "Visibility",
    "add_text",
    "parse",
    "search_home",
]
