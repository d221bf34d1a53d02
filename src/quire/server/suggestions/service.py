"""A record's suggestions: upsert one per question, delete. A change to a record's suggestions is a
change to the record: its `updated_at` moves and a `record.updated` event is written. Never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.question_values import InvalidValue
from quire.server.db import Dialect
from quire.server.errors import Invalid
from quire.server.events.emit import emit_record_events
from quire.server.models import Dataset, Record, Suggestion, table_of, utcnow
from quire.server.records.schemas import SuggestionIn
from quire.server.records.serialize import fetch_records, suggestion_dict
from quire.server.records.validation import RecordRules
from quire.server.sql import upsert


async def _record_changed(session: AsyncSession, dataset: Dataset, record_id: uuid.UUID) -> None:
    await session.execute(update(Record).where(Record.id == record_id).values(updated_at=utcnow()))
    records = await fetch_records(session, [record_id])
    await emit_record_events(session, dataset, [("record.updated", records[record_id])])


async def list_suggestions(session: AsyncSession, record_id: uuid.UUID) -> list[dict[str, Any]]:
    query = (
        select(table_of(Suggestion)).where(Suggestion.record_id == record_id).order_by(Suggestion.inserted_at)
    )
    return [suggestion_dict(row) for row in (await session.execute(query)).mappings()]


async def upsert_suggestion(
    session: AsyncSession, *, dataset: Dataset, record: Record, body: SuggestionIn, dialect: Dialect
) -> tuple[dict[str, Any], bool]:
    """Create or replace the record's suggestion for one question; returns it and whether it is new.
    `dataset` must have its settings loaded."""
    try:
        [(question, suggestion, value)] = RecordRules(dataset).suggestions([body], record.fields)
    except InvalidValue as exc:
        raise Invalid(f"Suggestion is not valid because {exc}") from None
    now = utcnow()
    row = {
        "id": uuid.uuid4(), "record_id": record.id, "question_id": question.id, "value": value,
        "score": suggestion.score, "agent": suggestion.agent,
        "type": suggestion.type.value if suggestion.type else None, "inserted_at": now, "updated_at": now,
    }  # fmt: skip
    stmt = upsert(
        dialect, table_of(Suggestion), conflict=["record_id", "question_id"],
        update=["value", "score", "agent", "type", "updated_at"],
    )  # fmt: skip
    await session.execute(stmt, [row])
    query = select(table_of(Suggestion)).where(
        Suggestion.record_id == record.id, Suggestion.question_id == question.id
    )
    stored = (await session.execute(query)).mappings().one()
    await _record_changed(session, dataset, record.id)
    return suggestion_dict(stored), stored["inserted_at"] == stored["updated_at"]


async def delete_suggestions(
    session: AsyncSession, *, dataset: Dataset, record: Record, suggestion_ids: list[uuid.UUID]
) -> int:
    result = await session.execute(
        delete(Suggestion).where(Suggestion.record_id == record.id, Suggestion.id.in_(suggestion_ids))
    )
    deleted = int(getattr(result, "rowcount", 0) or 0)
    if deleted:
        await _record_changed(session, dataset, record.id)
    return deleted


async def delete_suggestion(
    session: AsyncSession, *, dataset: Dataset, record: Record, suggestion: Suggestion
) -> dict[str, Any]:
    before = suggestion_dict(
        {column.key: getattr(suggestion, column.key) for column in table_of(Suggestion).c}
    )
    await session.delete(suggestion)
    await session.flush()
    await _record_changed(session, dataset, record.id)
    return before
