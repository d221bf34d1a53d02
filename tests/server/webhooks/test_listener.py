"""End to end with the official SDK's `rg.webhook_listener`: quire's dispatcher signs and POSTs,
the SDK's handler verifies the signature (standardwebhooks) and rebuilds the record through quire's
REST API. Needs the dispatcher (`quire.server.delivery.dispatcher`).

Two flavours: events published straight into the outbox of an in-process app (independent of
which services emit events), and the whole path on a live `quire server` where `records.log`
itself must emit `record.created`.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import argilla as rg
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from tests.compat.conftest import LiveServer, unique
from tests.conftest import OWNER_KEY, Api
from tests.server.helpers import make_dataset
from tests.server.webhooks.conftest import app_database, free_port, serve

from quire.server.events.emit import emit_record_events
from quire.server.models import Dataset, Delivery
from quire.server.settings import Settings

DELIVERY_TIMEOUT = 20.0


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The in-process dispatcher is on here (the other tests of this folder turn it off)."""
    return Settings(
        home=tmp_path / "home", database_url=database_url, owner_username="owner", owner_api_key=OWNER_KEY
    )


@contextmanager
def listener_server(app: FastAPI, port: int) -> Iterator[None]:
    """The listener's FastAPI app on its own port, in a thread (as `rg.start_webhook_server` does,
    which cannot choose the port)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "listener server did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def make_listener(
    client: rg.Argilla, events: list[str], name: str
) -> tuple[FastAPI, queue.Queue[dict[str, Any]], rg.Webhook]:
    """`@rg.webhook_listener` on a fresh FastAPI app; returns it with what the handler received."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    app = FastAPI()

    async def handler(type: Any, timestamp: Any, **kwargs: Any) -> None:
        received.put({"type": str(type.value), "timestamp": timestamp, **kwargs})

    handler.__name__ = name
    rg.webhook_listener(events=events, client=client, server=app)(handler)
    webhook = next(w for w in client.webhooks if w.url.endswith(f"/{name}"))
    return app, received, webhook


async def test_webhook_listener_verifies_and_parses_quire_deliveries(
    api: Api, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = await make_dataset(api, questions={"label": {"type": "label_selection", "options": [{"value": "a", "text": "A"}, {"value": "b", "text": "B"}]}}, metadata={})  # fmt: skip
    created = await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset['id']}/records/bulk",
        json={"items": [{"fields": {"text": "hello quire"}, "external_id": "ext-1"}]},
    )
    record = created["items"][0]
    listener_port = free_port()
    monkeypatch.setenv("WEBHOOK_SERVER_URL", f"http://127.0.0.1:{listener_port}")

    async with serve(app) as quire_url:
        client = await asyncio.to_thread(rg.Argilla, api_url=quire_url, api_key=OWNER_KEY)
        name = f"on_record_{uuid.uuid4().hex[:8]}"
        listener_app, received, webhook = await asyncio.to_thread(
            make_listener, client, ["record.created"], name
        )
        assert webhook.secret.startswith("whsec_")
        # rotate: the listener still holds the old secret, which keeps signing during the grace period
        await api.ok("POST", f"/api/v1/webhooks/{webhook.id}/rotate-secret", status=200)

        with listener_server(listener_app, listener_port):
            async with app_database(app).transaction() as session:
                row = await session.get(Dataset, uuid.UUID(dataset["id"]))
                assert row is not None
                await emit_record_events(session, row, [("record.created", record)])
            got = await asyncio.to_thread(received.get, True, DELIVERY_TIMEOUT)

    assert got["type"] == "record.created"
    parsed = got["record"]
    assert isinstance(parsed, rg.Record)
    assert parsed.id == "ext-1" and parsed.fields["text"] == "hello quire"
    assert parsed.dataset.name == dataset["name"]
    async with app_database(app).session(write=False) as session:
        statuses = list(
            await session.scalars(select(Delivery.status).where(Delivery.webhook_id == webhook.id))
        )
    assert statuses == ["succeeded"]


@pytest.mark.compat
def test_webhook_listener_receives_records_logged_with_the_sdk(
    client: rg.Argilla, quire_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Needs the records service to emit `record.created` and the server's dispatcher to run."""
    workspace = rg.Workspace(name=unique("ws"), client=client).create()
    settings = rg.Settings(
        fields=[rg.TextField(name="text")], questions=[rg.LabelQuestion(name="label", labels=["a", "b"])]
    )
    dataset = rg.Dataset(name=unique("ds"), settings=settings, workspace=workspace, client=client).create()
    port = free_port()
    monkeypatch.setenv("WEBHOOK_SERVER_URL", f"http://127.0.0.1:{port}")
    listener_app, received, webhook = make_listener(
        client, ["record.created"], f"on_log_{uuid.uuid4().hex[:8]}"
    )
    try:
        with listener_server(listener_app, port):
            dataset.records.log([{"text": "logged through the SDK"}])
            try:
                got = received.get(timeout=DELIVERY_TIMEOUT)
            except queue.Empty:
                page = client.http_client.get(f"/api/v1/webhooks/{webhook.id}/deliveries").json()
                pytest.fail(
                    f"no event reached the listener in {DELIVERY_TIMEOUT} s; the webhook's deliveries: {page}"
                )
    finally:
        webhook.delete()
    assert got["type"] == "record.created"
    assert got["record"].fields["text"] == "logged through the SDK"
    assert got["record"].dataset.id == dataset.id
