"""Responses: one per user and record. Every change recomputes the record's status. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.question_values import InvalidValue
from quire.server.errors import Conflict, Invalid
from quire.server.events.emit import emit_response_events
from quire.server.events.outbox import consumers
from quire.server.models import Dataset, Record, Response, ResponseStatus, utcnow
from quire.server.records.events import emit_status_events
from quire.server.records.serialize import fetch_records
from quire.server.records.status import StatusChange, refresh_record_statuses
from quire.server.records.validation import RecordRules


@dataclass
class ResponseChange:
    response: Response
    created: bool
    status_changes: list[StatusChange]


def _values(rules: RecordRules, record: Record, values: dict[str, Any] | None, status: ResponseStatus) -> Any:
    try:
        return rules.response_values(values, status, record.fields)
    except InvalidValue as exc:
        raise Invalid(f"Response is not valid because {exc}") from None


async def _touch(session: AsyncSession, dataset: Dataset, record: Record) -> list[StatusChange]:
    await session.execute(update(Dataset).where(Dataset.id == dataset.id).values(last_activity_at=utcnow()))
    return await refresh_record_statuses(session, dataset=dataset, record_ids=[record.id])


async def _emit(
    session: AsyncSession,
    dataset: Dataset,
    record: Record,
    event_type: str,
    response: dict[str, Any],
    changes: list[StatusChange],
) -> None:
    """record.updated / record.completed when the status changed, then the response event."""
    records = await emit_status_events(session, dataset, changes)
    found = await consumers(session)
    if not found.wants(event_type, dataset.workspace_id, dataset.id):
        return
    wire = records.get(record.id) or (await fetch_records(session, [record.id]))[record.id]
    await emit_response_events(session, dataset, [(event_type, response, wire)])


def response_snapshot(response: Response) -> dict[str, Any]:
    """The response as events carry it (taken before a delete)."""
    return {
        "id": response.id,
        "values": response.values,
        "status": str(response.status),
        "user_id": response.user_id,
        "inserted_at": response.inserted_at,
        "updated_at": response.updated_at,
    }


async def existing_response(
    session: AsyncSession, record_id: uuid.UUID, user_id: uuid.UUID
) -> Response | None:
    response: Response | None = await session.scalar(
        select(Response).where(Response.record_id == record_id, Response.user_id == user_id)
    )
    return response


async def create_response(
    session: AsyncSession,
    *,
    dataset: Dataset,
    record: Record,
    user_id: uuid.UUID,
    status: ResponseStatus,
    values: dict[str, Any] | None,
    rules: RecordRules | None = None,
) -> ResponseChange:
    if await existing_response(session, record.id, user_id) is not None:
        raise Conflict(
            f"Response already exists for record with id `{record.id}` and by user with id `{user_id}`"
        )
    clean = _values(rules or RecordRules(dataset), record, values, status)
    response = Response(record_id=record.id, user_id=user_id, status=status, values=clean)
    session.add(response)
    await session.flush()
    changes = await _touch(session, dataset, record)
    await _emit(session, dataset, record, "response.created", response_snapshot(response), changes)
    return ResponseChange(response, True, changes)


async def update_response(
    session: AsyncSession,
    *,
    dataset: Dataset,
    record: Record,
    response: Response,
    status: ResponseStatus,
    values: dict[str, Any] | None,
    rules: RecordRules | None = None,
) -> ResponseChange:
    response.values = _values(rules or RecordRules(dataset), record, values, status)
    response.status = status
    response.updated_at = utcnow()
    await session.flush()
    changes = await _touch(session, dataset, record)
    await _emit(session, dataset, record, "response.updated", response_snapshot(response), changes)
    return ResponseChange(response, False, changes)


async def delete_response(
    session: AsyncSession, *, dataset: Dataset, record: Record, response: Response
) -> ResponseChange:
    before = response_snapshot(response)
    await session.delete(response)
    await session.flush()
    changes = await _touch(session, dataset, record)
    await _emit(session, dataset, record, "response.deleted", before, changes)
    return ResponseChange(response, False, changes)
