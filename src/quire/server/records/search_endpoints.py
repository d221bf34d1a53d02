"""/api/v1 record search: Argilla's JSON body, plus a Lucene-style `query.query_string` extension.

`POST /datasets/{id}/records/search` (owners, admins of the workspace) sees everyone's responses;
`POST /me/datasets/{id}/records/search` (any member) filters and returns only the caller's own.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from quire.server.datasets.endpoints import managed_dataset, readable_dataset
from quire.server.deps import ActorDep, SessionDep, read_only
from quire.server.models import Dataset
from quire.server.records.schemas import SearchResults
from quire.server.records.serialize import Include, embed_relations, fetch_records
from quire.server.search import SearchRecordsBody, search_records
from quire.server.wire import JSON

router = APIRouter(tags=["records"])

IncludeParam = Annotated[
    list[str] | None, Query(description="responses, suggestions, vectors or vectors:<name>,…")
]
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=1000)]


async def _search(
    session: SessionDep,
    dataset: Dataset,
    body: SearchRecordsBody | None,
    *,
    include: list[str] | None,
    offset: int,
    limit: int,
    only_user: uuid.UUID | None,
) -> JSON:
    wanted = Include.parse(include)
    query = (body or SearchRecordsBody()).to_search_query()
    result = await search_records(
        session, dataset=dataset, query=query, offset=offset, limit=limit, user_id=only_user
    )
    records = await fetch_records(session, [record_id for record_id, _ in result.hits])
    page = [records[record_id] for record_id, _ in result.hits if record_id in records]
    await embed_relations(session, page, wanted, only_user=only_user)
    scores = dict(result.hits)
    items = [{"record": record, "query_score": scores[record["id"]]} for record in page]
    return JSON({"items": items, "total": result.total})


@router.post("/datasets/{dataset_id}/records/search", response_model=SearchResults)
@read_only
async def search_dataset_records(
    dataset_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    body: SearchRecordsBody | None = None,
    include: IncludeParam = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> JSON:
    """Filters (`terms`, `range` on record, metadata, suggestion and response scopes), full text
    (`query.text`), vector similarity (`query.vector`), `sort`, paging. quire also takes
    `query.query_string`, e.g. `metadata.batch_id:3 AND status:pending` (see docs/search.md)."""
    dataset = await managed_dataset(session, actor, dataset_id, with_settings=True)
    return await _search(session, dataset, body, include=include, offset=offset, limit=limit, only_user=None)


@router.post("/me/datasets/{dataset_id}/records/search", response_model=SearchResults)
@read_only
async def search_my_dataset_records(
    dataset_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    body: SearchRecordsBody | None = None,
    include: IncludeParam = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> JSON:
    """The same search, for any member of the workspace; response filters and embedded responses
    are the caller's own."""
    dataset = await readable_dataset(session, actor, dataset_id, with_settings=True)
    return await _search(
        session, dataset, body, include=include, offset=offset, limit=limit, only_user=actor.id
    )
