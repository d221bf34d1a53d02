"""Reading, updating and deleting records. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Dialect
from quire.server.errors import NotFound
from quire.server.events.emit import emit_record_events
from quire.server.models import Dataset, Record, Suggestion
from quire.server.records.bulk import BulkOutcome, write_records
from quire.server.records.events import emit_write_events
from quire.server.records.schemas import RecordUpdate, RecordUpsertIn
from quire.server.records.serialize import (
    RECORD_COLUMNS,
    Include,
    embed_relations,
    fetch_records,
    record_dict,
)
from quire.server.sql import chunks


async def get_record_row(session: AsyncSession, record_id: uuid.UUID) -> Record:
    record = await session.get(Record, record_id)
    if record is None:
        raise NotFound(f"Record with id `{record_id}` not found")
    return record


async def record_wire(
    session: AsyncSession, record_id: uuid.UUID, include: Include, *, only_user: uuid.UUID | None = None
) -> dict[str, Any]:
    records = await fetch_records(session, [record_id])
    if record_id not in records:
        raise NotFound(f"Record with id `{record_id}` not found")
    items = [records[record_id]]
    await embed_relations(session, items, include, only_user=only_user)
    return items[0]


async def list_records(
    session: AsyncSession, dataset: Dataset, *, offset: int, limit: int, include: Include
) -> tuple[list[dict[str, Any]], int]:
    """A page of the dataset's records in insertion order, and the total count."""
    total = await session.scalar(
        select(func.count()).select_from(Record).where(Record.dataset_id == dataset.id)
    )
    query = (
        select(*RECORD_COLUMNS)
        .where(Record.dataset_id == dataset.id)
        .order_by(Record.seq)
        .offset(offset)
        .limit(limit)
    )
    items = [
        record_dict({**row, "metadata": row["metadata_"]})
        for row in (await session.execute(query)).mappings()
    ]
    await embed_relations(session, items, include)
    return items, int(total or 0)


async def write_records_with_events(
    session: AsyncSession,
    *,
    dataset: Dataset,
    items: Sequence[RecordUpsertIn],
    dialect: Dialect,
    create_only: bool = False,
) -> BulkOutcome:
    """A bulk create/upsert and its events, in the caller's transaction."""
    outcome = await write_records(
        session, dataset=dataset, items=items, dialect=dialect, create_only=create_only
    )
    await emit_write_events(session, dataset, outcome)
    return outcome


async def update_record(
    session: AsyncSession, *, dataset: Dataset, record: Record, body: RecordUpdate, dialect: Dialect
) -> BulkOutcome:
    """PATCH semantics: given keys replace the stored ones; `suggestions` replaces all of them."""
    item = RecordUpsertIn(
        id=record.id,
        fields=body.fields,
        metadata=body.metadata,
        suggestions=body.suggestions,
        vectors=body.vectors,
    )
    outcome = await write_records(session, dataset=dataset, items=[item], dialect=dialect, single=True)
    if body.suggestions is not None:
        by_name = {q.name: q.id for q in dataset.questions}
        given = {s.question_id or by_name[s.question_name or ""] for s in body.suggestions}
        await session.execute(
            delete(Suggestion).where(Suggestion.record_id == record.id, Suggestion.question_id.not_in(given))
        )
        record_out = outcome.items[0]
        record_out["suggestions"] = [s for s in record_out["suggestions"] if s["question_id"] in given]
    await emit_write_events(session, dataset, outcome)
    return outcome


async def delete_records(
    session: AsyncSession, dataset: Dataset, ids: list[uuid.UUID]
) -> list[dict[str, Any]]:
    """Delete records of the dataset; returns them as they were (ids of other datasets are ignored)."""
    found: list[dict[str, Any]] = []
    for batch in chunks(ids, 500):
        query = select(*RECORD_COLUMNS).where(Record.dataset_id == dataset.id, Record.id.in_(batch))
        found.extend(
            record_dict({**row, "metadata": row["metadata_"]})
            for row in (await session.execute(query)).mappings()
        )
        await session.execute(
            delete(Record)
            .where(Record.dataset_id == dataset.id, Record.id.in_(batch))
            .execution_options(synchronize_session=False)
        )
    await emit_record_events(session, dataset, [("record.deleted", record) for record in found])
    return found
