"""Record search compiled to SQL: filters, full text, sorting and exact vector similarity.

Three front ends build the same filter tree (`filters.Node`): Argilla's JSON search body
(`argilla.SearchRecordsBody`), a Lucene-style query string (`lucene.parse_query_string`) and, later,
rule filters. `engine.search_records` compiles and runs it.
"""

from quire.server.search.argilla import SearchRecordsBody, parse_search_body
from quire.server.search.context import CompileContext
from quire.server.search.engine import SearchQuery, SearchResult, compile_where, search_records
from quire.server.search.errors import QueryError
from quire.server.search.filters import (
    And,
    MetadataScope,
    Node,
    Not,
    Or,
    Range,
    RecordScope,
    ResponseScope,
    Scope,
    SuggestionScope,
    Terms,
    Text,
)
from quire.server.search.lucene import parse_query_string
from quire.server.search.sorting import SortBy
from quire.server.search.vectors import VectorQuery

__all__ = [
    "And",
    "CompileContext",
    "MetadataScope",
    "Node",
    "Not",
    "Or",
    "QueryError",
    "Range",
    "RecordScope",
    "ResponseScope",
    "Scope",
    "SearchQuery",
    "SearchRecordsBody",
    "SearchResult",
    "SortBy",
    "SuggestionScope",
    "Terms",
    "Text",
    "VectorQuery",
    "compile_where",
    "parse_query_string",
    "parse_search_body",
    "search_records",
]
