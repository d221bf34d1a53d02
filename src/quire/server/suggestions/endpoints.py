"""/api/v1 suggestions of a record: list, upsert (one per question), delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi import Response as HTTPResponse

from quire.server.datasets.service import get_dataset
from quire.server.deps import ActorDep, DatabaseDep, SessionDep
from quire.server.errors import Invalid
from quire.server.lookup import get_or_404
from quire.server.models import Record, Suggestion
from quire.server.policies import require_admin_member, require_member
from quire.server.records.schemas import SuggestionIn, SuggestionOut
from quire.server.suggestions import service
from quire.server.wire import JSON, Items

router = APIRouter(tags=["suggestions"])


@router.get("/records/{record_id}/suggestions", response_model=Items[SuggestionOut])
async def list_suggestions(record_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> JSON:
    record = await get_or_404(session, Record, record_id)
    dataset = await get_dataset(session, record.dataset_id)
    await require_member(session, actor, dataset.workspace_id)
    return JSON({"items": await service.list_suggestions(session, record.id)})


@router.put(
    "/records/{record_id}/suggestions", status_code=status.HTTP_201_CREATED, response_model=SuggestionOut
)
async def upsert_suggestion(
    record_id: uuid.UUID, body: SuggestionIn, session: SessionDep, actor: ActorDep, database: DatabaseDep
) -> JSON:
    """Create (201) or replace (200) the record's suggestion for one question."""
    record = await get_or_404(session, Record, record_id)
    dataset = await get_dataset(session, record.dataset_id, with_settings=True)
    await require_admin_member(session, actor, dataset.workspace_id)
    stored, created = await service.upsert_suggestion(
        session, dataset=dataset, record=record, body=body, dialect=database.dialect
    )
    return JSON(stored, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.delete("/records/{record_id}/suggestions", status_code=status.HTTP_204_NO_CONTENT)
async def delete_record_suggestions(
    record_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    ids: Annotated[str, Query(description="comma-separated suggestion ids")],
) -> HTTPResponse:
    record = await get_or_404(session, Record, record_id)
    dataset = await get_dataset(session, record.dataset_id)
    await require_admin_member(session, actor, dataset.workspace_id)
    try:
        suggestion_ids = [uuid.UUID(part.strip()) for part in ids.split(",") if part.strip()]
    except ValueError:
        raise Invalid(f"`ids` must be comma-separated suggestion UUIDs, got {ids!r}") from None
    if not suggestion_ids or len(suggestion_ids) > 100:
        raise Invalid("`ids` takes 1 to 100 suggestion ids")
    await service.delete_suggestions(session, dataset=dataset, record=record, suggestion_ids=suggestion_ids)
    return HTTPResponse(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/suggestions/{suggestion_id}", response_model=SuggestionOut)
async def delete_suggestion(suggestion_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> JSON:
    suggestion = await get_or_404(session, Suggestion, suggestion_id)
    record = await get_or_404(session, Record, suggestion.record_id)
    dataset = await get_dataset(session, record.dataset_id)
    await require_admin_member(session, actor, dataset.workspace_id)
    return JSON(
        await service.delete_suggestion(session, dataset=dataset, record=record, suggestion=suggestion)
    )
