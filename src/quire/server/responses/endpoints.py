"""/api/v1 responses: a user's answers to a record's questions (draft, submitted, discarded)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from sqlalchemy import select

from quire.server.datasets.service import get_dataset
from quire.server.deps import Actor, ActorDep, SessionDep
from quire.server.errors import Forbidden, QuireError
from quire.server.lookup import get_or_404
from quire.server.models import Dataset, Record, Response
from quire.server.policies import require_member
from quire.server.records.schemas import (
    ResponseCreate,
    ResponseOut,
    ResponsesBulk,
    ResponsesBulkCreate,
    ResponseUpdate,
)
from quire.server.records.serialize import response_dict
from quire.server.records.validation import RecordRules
from quire.server.responses import service
from quire.server.wire import JSON

router = APIRouter(tags=["responses"])


async def _record_and_dataset(session: SessionDep, record_id: uuid.UUID) -> tuple[Record, Dataset]:
    record = await get_or_404(session, Record, record_id)
    return record, await get_dataset(session, record.dataset_id, with_settings=True)


async def _may_change(session: SessionDep, actor: Actor, response: Response, dataset: Dataset) -> None:
    """The response's author, or an owner, or an admin of the dataset's workspace."""
    await require_member(session, actor, dataset.workspace_id)
    if response.user_id != actor.id and actor.role == "annotator":
        raise Forbidden(f"User {actor.user.username!r} cannot change another user's response")


def _wire(response: Response) -> dict[str, object]:
    return response_dict({c: getattr(response, c) for c in ResponseOut.model_fields})


@router.post(
    "/records/{record_id}/responses", status_code=status.HTTP_201_CREATED, response_model=ResponseOut
)
async def create_response(
    record_id: uuid.UUID, body: ResponseCreate, session: SessionDep, actor: ActorDep
) -> JSON:
    """Create the current user's response to a record."""
    record, dataset = await _record_and_dataset(session, record_id)
    await require_member(session, actor, dataset.workspace_id)
    change = await service.create_response(
        session, dataset=dataset, record=record, user_id=actor.id, status=body.status, values=body.values
    )
    return JSON(_wire(change.response), status_code=status.HTTP_201_CREATED)


@router.put("/responses/{response_id}", response_model=ResponseOut)
async def update_response(
    response_id: uuid.UUID, body: ResponseUpdate, session: SessionDep, actor: ActorDep
) -> JSON:
    """Replace a response's values and status (submit, save as draft, discard)."""
    response = await get_or_404(session, Response, response_id)
    record, dataset = await _record_and_dataset(session, response.record_id)
    await _may_change(session, actor, response, dataset)
    change = await service.update_response(
        session, dataset=dataset, record=record, response=response, status=body.status, values=body.values
    )
    return JSON(_wire(change.response))


@router.delete("/responses/{response_id}", response_model=ResponseOut)
async def delete_response(response_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> JSON:
    response = await get_or_404(session, Response, response_id)
    record, dataset = await _record_and_dataset(session, response.record_id)
    await _may_change(session, actor, response, dataset)
    wire = _wire(response)
    await service.delete_response(session, dataset=dataset, record=record, response=response)
    return JSON(wire)


@router.post("/me/responses/bulk", response_model=ResponsesBulk)
async def upsert_my_responses(body: ResponsesBulkCreate, session: SessionDep, actor: ActorDep) -> JSON:
    """Create or update the current user's responses to several records. Each item succeeds or fails
    on its own: the result has `{"item": response}` or `{"error": {"detail": ...}}` per item."""
    results: list[dict[str, object]] = []
    rules_by_dataset: dict[uuid.UUID, RecordRules] = {}
    for item in body.items:
        try:
            async with session.begin_nested():
                record, dataset = await _record_and_dataset(session, item.record_id)
                await require_member(session, actor, dataset.workspace_id)
                rules = rules_by_dataset.setdefault(dataset.id, RecordRules(dataset))
                existing = await session.scalar(
                    select(Response).where(Response.record_id == record.id, Response.user_id == actor.id)
                )
                if existing is None:
                    change = await service.create_response(
                        session, dataset=dataset, record=record, user_id=actor.id,
                        status=item.status, values=item.values, rules=rules,
                    )  # fmt: skip
                else:
                    change = await service.update_response(
                        session, dataset=dataset, record=record, response=existing,
                        status=item.status, values=item.values, rules=rules,
                    )  # fmt: skip
            results.append({"item": _wire(change.response), "error": None})
        except QuireError as exc:
            results.append({"item": None, "error": {"detail": exc.message, "status": exc.status_code}})
    return JSON({"items": results})
