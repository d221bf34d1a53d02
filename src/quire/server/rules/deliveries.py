"""What a run's actions do, inside the run's transaction.

- `webhook`: each batch becomes one `deliveries` row of the action's `webhooks` row (`kind="rule"`)
  carrying the batch as its `payload`; the dispatcher signs, sends, retries and records attempts as
  for events, and wakes when the run commits. `rule_deliveries` remembers which run queued it.
- `add_to_dataset`: the records are upserted into the target dataset through the bulk write path
  (validation and events included), keyed by an external id derived from the source record
  (`src:<source record id>`): a record that matches again updates its copy instead of adding one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.service import get_dataset
from quire.server.db import Dialect
from quire.server.errors import Invalid, NotFound
from quire.server.events.outbox import mark_outbox_dirty
from quire.server.ids import time_ordered_ids
from quire.server.models import Dataset, Delivery, DeliveryStatus, RuleAction, RuleDelivery, table_of, utcnow
from quire.server.records.schemas import RecordUpsertIn, SuggestionIn
from quire.server.records.service import write_records_with_events
from quire.server.sql import chunks

EVENT_TYPE = "rule.run"


def copy_external_id(record_id: uuid.UUID | str) -> str:
    return f"src:{record_id}"


async def queue_batches(
    session: AsyncSession, *, action: RuleAction, run_id: int, bodies: Sequence[dict[str, Any]]
) -> int:
    """One pending delivery per body; returns how many."""
    if not bodies:
        return 0
    if action.webhook_id is None:
        raise Invalid(f"webhook action {action.id} has lost its webhook; update the rule's actions")
    now = utcnow()
    rows = []
    links = []
    for payload, delivery_id in zip(bodies, time_ordered_ids(len(bodies)), strict=True):
        rows.append(
            {
                "id": delivery_id, "webhook_id": action.webhook_id, "event_id": None,
                "event_type": EVENT_TYPE, "payload": payload, "msg_id": f"msg_{delivery_id.hex}",
                "status": DeliveryStatus.pending.value, "attempts": 0, "next_attempt_at": now,
                "inserted_at": now, "updated_at": now,
            }
        )  # fmt: skip
        links.append({"delivery_id": delivery_id, "run_id": run_id, "action_id": action.id})
    await session.execute(insert(table_of(Delivery)), rows)
    await session.execute(insert(table_of(RuleDelivery)), links)
    await mark_outbox_dirty(session)
    return len(rows)


def _copy(run: Mapping[str, Any], target: Dataset, *, include_suggestions: bool) -> RecordUpsertIn:
    fields = {f.name for f in target.fields}
    properties = {m.name for m in target.metadata_properties}
    questions = {q.name for q in target.questions}
    metadata = {
        key: value
        for key, value in (run["metadata"] or {}).items()
        if key in properties or target.allow_extra_metadata
    }
    suggestions = None
    if include_suggestions:
        suggestions = [
            SuggestionIn(
                question_name=s["question"],
                value=s["value"],
                score=s["score"],
                agent=s["agent"],
                type=s["type"],
            )
            for s in run["suggestions"]
            if s["question"] in questions
        ]
    return RecordUpsertIn(
        external_id=copy_external_id(run["id"]),
        fields={name: value for name, value in (run["fields"] or {}).items() if name in fields},
        metadata=metadata or None,
        suggestions=suggestions or None,
    )


async def copy_records(
    session: AsyncSession,
    *,
    action: RuleAction,
    source: Dataset,
    runs: Sequence[Mapping[str, Any]],
    dialect: Dialect,
    batch_size: int,
) -> int:
    """Upsert the records into the action's dataset; returns how many were written."""
    if not runs:
        return 0
    if action.target_dataset_id is None:
        raise Invalid(f"add_to_dataset action {action.id} has no dataset")
    try:
        target = await get_dataset(session, action.target_dataset_id, with_settings=True)
    except NotFound:
        raise Invalid(f"add_to_dataset: dataset {action.target_dataset_id} no longer exists") from None
    if target.workspace_id != source.workspace_id:
        raise Invalid(f"add_to_dataset: dataset {target.id} is no longer in the rule's workspace")
    written = 0
    for batch in chunks(list(runs), batch_size):
        items = [_copy(run, target, include_suggestions=action.include_suggestions) for run in batch]
        outcome = await write_records_with_events(session, dataset=target, items=items, dialect=dialect)
        written += len(outcome.items)
    return written
