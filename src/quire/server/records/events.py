"""The events of record writes: which event each outcome of a write becomes.

- a created record → `record.created`; an existing record that was written → `record.updated`;
- a record whose status changed → `record.updated` (unless already reported by the write), and
  `record.completed` on the transition to completed (only then);
- responses written → `response.created` / `response.updated`.

Order within one write: record events, then completions, then response events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.events.emit import emit_record_events, emit_response_events
from quire.server.events.outbox import consumers
from quire.server.models import Dataset, RecordStatus
from quire.server.records.bulk import BulkOutcome
from quire.server.records.serialize import fetch_records
from quire.server.records.status import StatusChange

RECORD_TYPES = ("record.created", "record.updated", "record.completed")
RESPONSE_TYPES = ("response.created", "response.updated")


def _key(value: Any) -> str:
    return str(value)


def completions(changes: Iterable[StatusChange]) -> list[uuid.UUID]:
    return [c.record_id for c in changes if c.old == RecordStatus.pending and c.new == RecordStatus.completed]


async def emit_write_events(session: AsyncSession, dataset: Dataset, outcome: BulkOutcome) -> None:
    """Events of a bulk create/upsert or a record PATCH (`outcome` from `write_records`)."""
    found = await consumers(session)
    if not found.wants_any(RECORD_TYPES + RESPONSE_TYPES, dataset.workspace_id, dataset.id):
        return
    created = {_key(i) for i in outcome.created}
    by_id = {_key(item["id"]): item for item in outcome.items}
    record_events: list[tuple[str, Mapping[str, Any]]] = [
        ("record.created" if _key(item["id"]) in created else "record.updated", item)
        for item in outcome.items
    ]
    record_events += [("record.completed", by_id[_key(i)]) for i in completions(outcome.status_changes)]
    await emit_record_events(session, dataset, record_events)

    responses_created = {_key(i) for i in outcome.responses_created}
    responses_updated = {_key(i) for i in outcome.responses_updated}
    response_events: list[tuple[str, Any, Mapping[str, Any]]] = []
    for item in outcome.items:
        for response in item.get("responses") or []:
            rid = _key(response["id"])
            if rid in responses_created:
                response_events.append(("response.created", _with_uuid_user(response), item))
            elif rid in responses_updated:
                response_events.append(("response.updated", _with_uuid_user(response), item))
    await emit_response_events(session, dataset, response_events)


def _with_uuid_user(response: Mapping[str, Any]) -> dict[str, Any]:
    user_id = response["user_id"]
    return {**response, "user_id": user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))}


async def emit_status_events(
    session: AsyncSession, dataset: Dataset, changes: list[StatusChange]
) -> dict[uuid.UUID, dict[str, Any]]:
    """`record.updated` for every record whose status changed and `record.completed` for those that
    became completed. Returns the records (as written) for callers that emit more events."""
    if not changes:
        return {}
    found = await consumers(session)
    if not found.wants_any(("record.updated", "record.completed"), dataset.workspace_id, dataset.id):
        return {}
    records = await fetch_records(session, [c.record_id for c in changes])
    events: list[tuple[str, Mapping[str, Any]]] = [("record.updated", records[c.record_id]) for c in changes]
    events += [("record.completed", records[i]) for i in completions(changes)]
    await emit_record_events(session, dataset, events)
    return records
