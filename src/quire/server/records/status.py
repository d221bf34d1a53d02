"""Record status under the `overlap` distribution: a record is `completed` once it has at least
`min_submitted` submitted responses, else `pending` (and it can go back)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.models import Dataset, Record, RecordStatus, Response, ResponseStatus, utcnow

_CHUNK = 500


@dataclass(frozen=True)
class StatusChange:
    record_id: uuid.UUID
    old: RecordStatus
    new: RecordStatus


def min_submitted(dataset: Dataset) -> int:
    return int((dataset.distribution or {}).get("min_submitted", 1))


async def refresh_record_statuses(
    session: AsyncSession, *, dataset: Dataset, record_ids: Iterable[uuid.UUID] | None = None
) -> list[StatusChange]:
    """Recompute the status of the given records (all of the dataset's when None); write and
    return only the ones that changed."""
    submitted = (
        select(func.count())
        .where(Response.record_id == Record.id, Response.status == ResponseStatus.submitted)
        .correlate(Record)
        .scalar_subquery()
    )
    expected = case((submitted >= min_submitted(dataset), RecordStatus.completed.value), else_="pending")
    changes: list[StatusChange] = []
    id_batches: list[Sequence[uuid.UUID] | None]
    if record_ids is None:
        id_batches = [None]
    else:
        ids = list(dict.fromkeys(record_ids))
        id_batches = [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    for batch in id_batches:
        query = select(Record.id, Record.status, expected).where(
            Record.dataset_id == dataset.id, Record.status != expected
        )
        if batch is not None:
            query = query.where(Record.id.in_(batch))
        for record_id, old, new in await session.execute(query):
            changes.append(StatusChange(record_id, RecordStatus(old), RecordStatus(new)))
    now = utcnow()
    for status in (RecordStatus.completed, RecordStatus.pending):
        ids = [c.record_id for c in changes if c.new == status]
        for i in range(0, len(ids), _CHUNK):
            await session.execute(
                update(Record)
                .where(Record.id.in_(ids[i : i + _CHUNK]))
                .values(status=status, updated_at=now)
                .execution_options(synchronize_session=False)
            )
    return changes
