"""Who listens to events, as a write transaction reads it (`events.outbox.consumers`): enabled
webhooks of the events API and streams that have not expired, with their scopes, on both stores
(SQLite reads them straight from the driver)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from quire.server.db import Database
from quire.server.events.outbox import consumers
from quire.server.models import EventStream, Webhook, utcnow


def _webhook(**kw: object) -> Webhook:
    return Webhook(url="http://127.0.0.1:9/hook", secret="whsec_x", policy={}, **kw)


async def test_enabled_webhooks_and_open_streams_with_their_scopes(database: Database) -> None:
    workspace_id, dataset_id = uuid.uuid4(), uuid.uuid4()
    async with database.transaction() as session:
        listening = _webhook(events=["record.created", "record.updated"], workspace_id=workspace_id)
        session.add_all(
            [
                listening,
                _webhook(events=["record.created"], enabled=False),
                _webhook(events=["record.created"], kind="rule"),
                EventStream(
                    event_types=["response.created"],
                    dataset_id=dataset_id,
                    expires_at=utcnow() + timedelta(minutes=5),
                ),
                EventStream(event_types=None, dataset_id=None, expires_at=utcnow() - timedelta(seconds=1)),
            ]
        )
    async with database.transaction() as session:
        found = await consumers(session)
    assert [(s.webhook_id, s.types, s.workspace_id, s.dataset_id) for s in found.webhooks] == [
        (listening.id, frozenset({"record.created", "record.updated"}), workspace_id, None)
    ]
    assert [(s.types, s.dataset_id) for s in found.streams] == [(frozenset({"response.created"}), dataset_id)]
    assert found.wants("record.updated", workspace_id, None)
    assert not found.wants("record.updated", uuid.uuid4(), None)  # another workspace
    assert found.wants("response.created", None, dataset_id)  # the open stream
    assert not found.wants("dataset.created", workspace_id, dataset_id)
