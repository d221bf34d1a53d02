"""Fixtures of the webhooks and event-stream tests.

The in-process dispatcher is off here (`delivery_enabled=False`) so that the rows these tests look at
change only through the API under test; the end-to-end test with the official SDK's listener runs
against a live `quire server` whose dispatcher is on.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiohttp import web
from tests.conftest import OWNER_KEY, Api

from quire.server.db import Database
from quire.server.events.outbox import NewEvent, publish
from quire.server.models import Webhook
from quire.server.settings import Settings

RECORD_CREATED = "record.created"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        owner_username="owner",
        owner_api_key=OWNER_KEY,
        delivery_enabled=False,
    )


def app_database(app: Any) -> Database:
    database: Database = app.state.database
    return database


async def stored_webhook(app: Any, webhook_id: str | uuid.UUID) -> Webhook:
    async with app_database(app).session(write=False) as session:
        row = await session.get(Webhook, uuid.UUID(str(webhook_id)))
        assert row is not None
        return row


async def emit(
    app: Any,
    event_type: str = RECORD_CREATED,
    *,
    dataset_id: str | uuid.UUID | None = None,
    workspace_id: str | uuid.UUID | None = None,
    count: int = 1,
    data: dict[str, Any] | None = None,
) -> int:
    """Publish `count` events in one committed transaction, the way services do; returns how many
    were stored (0 when nobody listens)."""
    events = [
        NewEvent(
            event_type,
            data or {"id": str(uuid.uuid4()), "n": n},
            workspace_id=uuid.UUID(str(workspace_id)) if workspace_id else None,
            dataset_id=uuid.UUID(str(dataset_id)) if dataset_id else None,
        )
        for n in range(count)
    ]
    async with app_database(app).transaction() as session:
        return await publish(session, events)


async def create_webhook(api: Api, events: Sequence[str] = (RECORD_CREATED,), **extra: Any) -> dict[str, Any]:
    body = {"url": "http://127.0.0.1:9/hook", "events": list(events), **extra}
    created: dict[str, Any] = await api.ok("POST", "/api/v1/webhooks", json=body)
    return created


async def create_dataset(api: Api, workspace_id: str | None = None) -> dict[str, Any]:
    workspace_id = workspace_id or (await api.default_workspace())["id"]
    dataset: dict[str, Any] = await api.ok(
        "POST", "/api/v1/datasets", json={"name": f"ds-{uuid.uuid4().hex[:8]}", "workspace_id": workspace_id}
    )
    return dataset


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """The (already started) app on a loopback port, for what ASGITransport cannot do: streaming."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def live_url(app: Any) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


class Receiver:
    """A loopback HTTP receiver that records what it gets and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.url = ""
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(status=self.status, text=f"answered {self.status}")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    application = web.Application()
    application.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    found.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


# the live `quire server` of the compatibility suite, for the SDK tests here
from tests.compat.conftest import client, quire_server  # noqa: E402, F401
