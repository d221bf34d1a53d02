"""The search entry point: a `SearchQuery` in, a page of `(record id, score)` and the total out.

Order: the explicit sort keys, ties broken by record id; else text relevance (descending) when the
query has text, ties in insertion order; else insertion order (`records.seq`). Every order ends in
a unique key, so paging is stable. Vector queries rank by
similarity instead and ignore `sort`, like Argilla; their results are capped at
`min(offset + limit, 1000)` and `total` counts those.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from quire.server.models import Dataset, MetadataKey, Record, RecordMetadataValue
from quire.server.search.conjunction import estimate_sizes, matching_ids, probes
from quire.server.search.context import CompileContext, Dialect
from quire.server.search.errors import QueryError
from quire.server.search.filters import (
    And,
    MetadataScope,
    Node,
    Range,
    Terms,
    Text,
    drives,
    positive_texts,
    row_sources,
)
from quire.server.search.fulltext import matching_scores, text_scores
from quire.server.search.sorting import SortBy, sort_key
from quire.server.search.values import as_number
from quire.server.search.vectors import MAX_RESULTS, VectorQuery, similarity_search


@dataclass
class SearchQuery:
    """Everything is ANDed: `filter`, `text` and, for vector queries, the candidate set."""

    filter: Node | None = None
    text: Text | None = None
    vector: VectorQuery | None = None
    sort: list[SortBy] = field(default_factory=list)


@dataclass
class SearchResult:
    hits: list[tuple[uuid.UUID, float | None]]
    total: int


def session_dialect(session: AsyncSession) -> Dialect:
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"


def compile_where(ctx: CompileContext, query: SearchQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses over `records` that select the query's matches. The dataset test comes
    last, so SQLite reads the (wide) record row only once the subqueries have passed."""
    where: list[ColumnElement[bool]] = []
    if query.filter is not None:
        where.append(query.filter.compile(ctx))
    if query.text is not None:
        where.append(query.text.compile(ctx))
    if ctx.dialect == "sqlite" and (drives(ctx, query.filter) or drives(ctx, query.text)):
        # `+records.dataset_id`: keep SQLite, which has no statistics unless someone ran ANALYZE,
        # from scanning the dataset's records by index when a subquery can drive instead.
        dataset_id = Record.__table__.c.dataset_id
        where.append(
            UnaryExpression(dataset_id, operator=custom_op("+"), type_=dataset_id.type) == ctx.dataset_id
        )
    else:
        where.append(Record.dataset_id == ctx.dataset_id)
    return where


def _page_statement(
    ctx: CompileContext, query: SearchQuery, texts: list[Text], where: list[ColumnElement[bool]]
) -> Select[Any]:
    """`SELECT records.id, score` over the matches (unordered, unpaged)."""
    text = query.text
    if text is not None and texts == [text]:
        matching = matching_scores(ctx, text.query, field=text.field, phrase=text.phrase, prefix=text.prefix)
        if matching is not None:  # the join filters and scores: skip the text's own predicate
            rest = compile_where(ctx, SearchQuery(filter=query.filter))
            return (
                select(Record.id, matching.c.score.label("score"))
                .join(matching, matching.c.record_id == Record.id)
                .where(*rest)
            )
    scores = text_scores(ctx, [(t.query, t.field, t.phrase, t.prefix) for t in texts])
    if scores is None:
        no_score: ColumnElement[Any] = literal(None).label("score")
        return select(Record.id, no_score).where(*where)
    return (
        select(Record.id, scores.c.score.label("score"))
        .outerjoin(scores, scores.c.record_id == Record.id)
        .where(*where)
    )


async def search_records(
    session: AsyncSession,
    *,
    dataset: Dataset,
    query: SearchQuery,
    offset: int,
    limit: int,
    user_id: uuid.UUID | None = None,
) -> SearchResult:
    """Run `query` over `dataset` (loaded with its settings). With `user_id`, response filters and
    sorts only see that user's responses (`/me/...` searches)."""
    if offset < 0 or limit < 0:
        raise QueryError("offset and limit must not be negative")
    ctx = CompileContext.for_dataset(dataset, dialect=session_dialect(session), user_id=user_id)
    if ctx.dialect == "sqlite":  # PostgreSQL's planner has statistics of its own
        ctx = replace(ctx, estimates=await estimate_sizes(session, ctx, row_sources(query.filter)))
    where = compile_where(ctx, query)
    if query.vector is not None:
        k = min(offset + limit, MAX_RESULTS)
        ctx.vector(query.vector.name)
        if offset >= k:
            return SearchResult(hits=[], total=0)
        top = await similarity_search(session, ctx, query.vector, where=where, k=k)
        hits: list[tuple[uuid.UUID, float | None]] = list(top[offset:k])
        return SearchResult(hits=hits, total=len(top))

    if limit == 0:
        return SearchResult(hits=[], total=await _count(session, where))
    walked = await _walk_sort_index(session, ctx, query, offset=offset, limit=limit)
    if walked is not None:
        return walked
    metadata_only = _metadata_only_page(ctx, query) if ctx.dialect == "sqlite" else None
    if metadata_only is not None:
        rows = (await session.execute(metadata_only.offset(offset).limit(limit))).all()
        if not rows:
            return SearchResult(hits=[], total=await _count(session, where) if offset else 0)
        return SearchResult(hits=[(row[0], None) for row in rows], total=int(rows[0][1]))

    texts = ([query.text] if query.text is not None else []) + positive_texts(query.filter)
    order: list[ColumnElement[Any]] = [sort_key(ctx, sort) for sort in query.sort]
    statement = _page_statement(ctx, query, texts, where)
    score = statement.selected_columns.score
    if query.sort:
        order.append(Record.id.asc())
    else:
        if texts:
            order.append(score.desc().nulls_last())
        order.append(Record.seq.asc())
    if ctx.dialect == "sqlite" and (drives(ctx, query.filter) or drives(ctx, query.text)):
        # The total rides along with the page (one evaluation of the match set); only an empty
        # page past the first needs its own count. Not without a driving subquery: counting the
        # dataset's records by index is cheaper than materializing them all. Not on PostgreSQL:
        # a window total stops its planner from walking an index in order and stopping early.
        paged = statement.add_columns(func.count().over().label("total")).order_by(*order)
        rows = (await session.execute(paged.offset(offset).limit(limit))).all()
        if not rows:
            return SearchResult(hits=[], total=await _count(session, where) if offset else 0)
        return SearchResult(hits=[(row[0], _score(row[1])) for row in rows], total=int(rows[0][2]))
    total = await _count(session, where)
    if offset >= total:
        return SearchResult(hits=[], total=total)
    rows = (await session.execute(statement.order_by(*order).offset(offset).limit(limit))).all()
    return SearchResult(hits=[(row[0], _score(row[1])) for row in rows], total=total)


def _metadata_conjuncts(query: SearchQuery) -> list[Terms | Range] | None:
    """The filter's conjuncts when the query filters and sorts on metadata only, else None."""
    if query.text is not None or query.vector is not None or not query.sort:
        return None
    if not all(isinstance(sort.scope, MetadataScope) for sort in query.sort):
        return None
    node = query.filter
    conjuncts = node.conjuncts() if isinstance(node, And) else [node] if node is not None else []
    sources = [c for c in conjuncts if isinstance(c, Terms | Range) and isinstance(c.scope, MetadataScope)]
    if not sources or len(sources) != len(conjuncts):
        return None
    return sources


def _carries_sort_value(ctx: CompileContext, source: Terms | Range, name: str) -> bool:
    """Every row of `source` holds the value a record sorted by metadata `name` sorts by: the
    source tests `name`, on the column the sort reads (numbers, or texts that are no numbers)."""
    if not isinstance(source.scope, MetadataScope) or source.scope.name != name:
        return False
    if ctx.metadata_type(name) in ("integer", "float"):
        return True
    return isinstance(source, Terms) and all(as_number(value) is None for value in source.values)


async def _walk_sort_index(
    session: AsyncSession, ctx: CompileContext, query: SearchQuery, *, offset: int, limit: int
) -> SearchResult | None:
    """A metadata-only query sorted by one property that it also filters on, when no record holds
    several values under that property: the page is a walk of the property's value index in sort
    order, each row checked against the other conditions, stopping at `offset + limit`; the total
    is counted apart. On 100k records and 10k matches the page costs ~0.1 ms instead of sorting the
    10k. Several values per record would break it (a record sorts by its largest or smallest value,
    which may lie outside the filter's range), hence the `multi` probe. None when it does not apply.
    """
    if ctx.dialect != "sqlite" or len(query.sort) != 1:
        return None
    sources = _metadata_conjuncts(query)
    if sources is None:
        return None
    sort = query.sort[0]
    assert isinstance(sort.scope, MetadataScope)
    name = sort.scope.name
    walked = next((s for s in sources if _carries_sort_value(ctx, s, name)), None)
    if walked is None:
        return None
    names = {source.scope.name for source in sources if isinstance(source.scope, MetadataScope)}
    several = set(
        await session.scalars(
            select(MetadataKey.name).where(
                MetadataKey.dataset_id == ctx.dataset_id,
                MetadataKey.name.in_(sorted(names)),
                exists().where(
                    RecordMetadataValue.key_id == MetadataKey.id, RecordMetadataValue.multi == true()
                ),
            )
        )
    )
    if name in several:
        return None
    numeric = ctx.metadata_type(name) in ("integer", "float")
    column = RecordMetadataValue.value_num if numeric else RecordMetadataValue.value_text
    rows = walked.rows(ctx)
    assert rows is not None
    walk = rows.add_columns(column.label("value")).subquery("walk")
    others = [source for source in sources if source is not walked]
    page = select(walk.c.record_id).where(*probes(ctx, others, walk.c.record_id))
    value = walk.c.value.asc() if sort.order == "asc" else walk.c.value.desc()
    ids = list(
        await session.scalars(page.order_by(value, walk.c.record_id.asc()).offset(offset).limit(limit))
    )
    if offset == 0 and len(ids) < limit:
        total = len(ids)
    else:
        matches = matching_ids(ctx, sources)
        assert matches is not None
        if several:  # a record matches once per member of a list
            matches = select(matches.subquery().c[0]).distinct()
        total = int(await session.scalar(select(func.count()).select_from(matches.subquery())) or 0)
    return SearchResult(hits=[(record_id, None) for record_id in ids], total=total)


def _metadata_only_page(ctx: CompileContext, query: SearchQuery) -> Select[Any] | None:
    """For a query that filters and sorts on metadata only: the ordered matches with the total,
    from the metadata index rows alone. `records` is keyed by a UUID and wide; reading it once per
    match is most of the cost of such a query (on 100k records, 10k matches: ~2.5x the time).
    None for any other query."""
    sources = _metadata_conjuncts(query)
    if sources is None:
        return None
    ids = matching_ids(ctx, sources)
    if ids is None:
        return None
    matches = ids.distinct().subquery("matches")
    record_id = matches.c[0]
    order = [sort_key(ctx, sort, record_id=record_id) for sort in query.sort]
    return select(record_id, func.count().over().label("total")).order_by(*order, record_id.asc())


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


async def _count(session: AsyncSession, where: list[ColumnElement[bool]]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Record).where(*where)) or 0)
