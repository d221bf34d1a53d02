"""What services call to record events. Each helper asks first whether anybody listens, and only
then loads and builds the payload (one dataset snapshot per call, however many records)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quire.server.datasets import settings_cache
from quire.server.events.outbox import NewEvent, consumers, publish
from quire.server.events.payloads import dataset_data, record_data, response_data, user_data
from quire.server.models import Dataset, User


async def dataset_event_data(session: AsyncSession, dataset_id: uuid.UUID) -> dict[str, Any]:
    """The dataset as events carry it, read fresh (with workspace and settings)."""
    dataset = await session.get(
        Dataset, dataset_id, options=[selectinload(Dataset.workspace)], populate_existing=True
    )
    assert dataset is not None, f"dataset {dataset_id} vanished inside its own transaction"
    await settings_cache.attach(session, dataset)
    return dataset_data(dataset)


async def emit_dataset_event(
    session: AsyncSession, event_type: str, dataset: Dataset, *, data: dict[str, Any] | None = None
) -> None:
    """`data` is given for dataset.deleted (read before the delete)."""
    if not (await consumers(session)).wants(event_type, dataset.workspace_id, dataset.id):
        return
    await session.flush()
    payload = data if data is not None else await dataset_event_data(session, dataset.id)
    await publish(
        session, [NewEvent(event_type, payload, workspace_id=dataset.workspace_id, dataset_id=dataset.id)]
    )


async def wants_dataset_deleted(session: AsyncSession, dataset: Dataset) -> bool:
    return (await consumers(session)).wants("dataset.deleted", dataset.workspace_id, dataset.id)


async def emit_record_events(
    session: AsyncSession, dataset: Dataset, items: Sequence[tuple[str, Mapping[str, Any]]]
) -> None:
    """`items`: (event type, record wire dict) pairs."""
    found = await consumers(session)
    types = {event_type for event_type, _ in items}
    if not items or not found.wants_any(sorted(types), dataset.workspace_id, dataset.id):
        return
    snapshot = await dataset_event_data(session, dataset.id)
    await publish(
        session,
        [
            NewEvent(
                event_type, record_data(record), workspace_id=dataset.workspace_id, dataset_id=dataset.id,
                snapshot=snapshot, snapshot_path="dataset",
            )
            for event_type, record in items
            if found.wants(event_type, dataset.workspace_id, dataset.id)
        ],
    )  # fmt: skip


async def emit_response_events(
    session: AsyncSession,
    dataset: Dataset,
    items: Sequence[tuple[str, Any, Mapping[str, Any]]],
) -> None:
    """`items`: (event type, response row or dict, record wire dict) triples."""
    found = await consumers(session)
    types = {event_type for event_type, _, _ in items}
    if not items or not found.wants_any(sorted(types), dataset.workspace_id, dataset.id):
        return
    user_ids = {(r.get("user_id") if isinstance(r, Mapping) else r.user_id) for _, r, _ in items}
    users = {
        u.id: user_data(u) for u in await session.scalars(select(User).where(User.id.in_(list(user_ids))))
    }
    snapshot = await dataset_event_data(session, dataset.id)
    events = []
    for event_type, response, record in items:
        if not found.wants(event_type, dataset.workspace_id, dataset.id):
            continue
        user_id: uuid.UUID = response["user_id"] if isinstance(response, Mapping) else response.user_id
        events.append(
            NewEvent(
                event_type, response_data(response, users[user_id], record_data(record)),
                workspace_id=dataset.workspace_id, dataset_id=dataset.id,
                snapshot=snapshot, snapshot_path="record.dataset",
            )
        )  # fmt: skip
    await publish(session, events)
