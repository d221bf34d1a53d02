"""`GET /api/v1/events/stream` over a real HTTP connection (uvicorn on loopback; ASGITransport
buffers whole responses, so it cannot stream): order, resume without gaps or duplicates, filters,
who sees what, heartbeats, and PostgreSQL's out-of-commit-order ids."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from tests.conftest import OWNER_KEY, Api
from tests.server.webhooks.conftest import app_database, create_dataset, emit

from quire.server.events.assemble import load_bodies
from quire.server.events.outbox import NewEvent, publish
from quire.server.models import EventStream
from quire.server.streams import endpoints as stream_endpoints

STREAM = "/api/v1/events/stream"


class Sse:
    """Reads Server-Sent Events off a streaming response. A task parses the lines into a queue,
    so that waiting with a timeout never interrupts the parsing."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.comments: list[str] = []
        self.messages: asyncio.Queue[dict[str, str] | None] = asyncio.Queue()
        self.registered = asyncio.Event()
        self.task = asyncio.create_task(self._parse())

    async def _parse(self) -> None:
        message: dict[str, str] = {}
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if "data" in message:
                        self.messages.put_nowait(message)
                    message = {}
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    if line.startswith(": stream "):
                        self.registered.set()
                else:
                    name, _, value = line.partition(":")
                    message[name] = value.removeprefix(" ")
        finally:
            self.messages.put_nowait(None)

    async def next(self, seconds: float = 5.0) -> dict[str, str]:
        async with asyncio.timeout(seconds):
            message = await self.messages.get()
        if message is None:
            raise AssertionError("the stream ended")
        return message

    async def take(self, count: int, seconds: float = 5.0) -> list[dict[str, str]]:
        return [await self.next(seconds) for _ in range(count)]

    async def nothing_for(self, seconds: float) -> None:
        try:
            message = await self.next(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")

    async def ready(self) -> None:
        """The first comment names the stream: it is registered from then on."""
        async with asyncio.timeout(5):
            await self.registered.wait()

    async def close(self) -> None:
        self.task.cancel()
        with suppress(asyncio.CancelledError):
            await self.task


@asynccontextmanager
async def open_stream(
    base_url: str, *, key: str = OWNER_KEY, headers: dict[str, str] | None = None, **params: Any
) -> AsyncIterator[Sse]:
    async with (
        httpx.AsyncClient(base_url=base_url, headers={"X-Argilla-Api-Key": key}, timeout=10) as client,
        client.stream("GET", STREAM, params=params, headers=headers) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = Sse(response)
        try:
            await sse.ready()
            yield sse
        finally:
            await sse.close()


async def bodies(app: Any, count: int) -> list[bytes]:
    """The rendered bodies of the newest `count` stored events, oldest first."""
    from quire.server.models import Event

    async with app_database(app).session(write=False) as session:
        ids = list(await session.scalars(select(Event.id).order_by(Event.id.desc()).limit(count)))[::-1]
        found = await load_bodies(session, ids)
    return [found[i] for i in ids]


async def test_events_arrive_in_order_and_resume_without_gaps_or_duplicates(app: Any, live_url: str) -> None:
    async with open_stream(live_url, types="record.created,record.updated") as sse:
        for n in range(3):
            await emit(app, data={"n": n})
        await emit(app, "record.updated", count=2)
        first = await sse.take(5)
    assert [m["event"] for m in first] == ["record.created"] * 3 + ["record.updated"] * 2
    assert [orjson.loads(m["data"])["data"].get("n") for m in first[:3]] == [0, 1, 2]
    assert [m["data"].encode() for m in first] == await bodies(app, 5)  # what a webhook gets
    assert len({m["id"] for m in first}) == 5

    # disconnected: the stream's row keeps events stored for a while
    for n in range(3, 6):
        assert await emit(app, data={"n": n}) == 1
    async with open_stream(
        live_url, types="record.created", headers={"Last-Event-ID": first[2]["id"]}
    ) as sse:
        resumed = await sse.take(3)
        await sse.nothing_for(0.5)
    # from the third message on: created events 3, 4, 5 (the updated ones are filtered out)
    assert [orjson.loads(m["data"])["data"]["n"] for m in resumed] == [3, 4, 5]

    # the query parameter works as well, and resuming from the last id sends nothing old
    async with open_stream(live_url, types="record.created", last_event_id=resumed[-1]["id"]) as sse:
        await sse.nothing_for(0.5)
        await emit(app, data={"n": 6})
        assert orjson.loads((await sse.next())["data"])["data"]["n"] == 6


async def test_a_new_stream_starts_now_and_commits_wake_it(
    app: Any, live_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_stream(live_url) as sse:
        assert await emit(app, data={"n": "old?"}) == 1
        assert orjson.loads((await sse.next())["data"])["data"]["n"] == "old?"
    if backend == "sqlite":
        # Only a commit in this process can wake the stream before this poll: each event below
        # arrives long before it. (PostgreSQL keeps the short poll: a commit's event can wait
        # behind an older transaction still open on the cluster, and is sent on the next look.)
        monkeypatch.setattr(stream_endpoints, "POLL_SECONDS", 600.0)
    async with open_stream(live_url) as sse:
        await sse.nothing_for(0.4)  # the event above is before this stream
        for n in range(5):
            await emit(app, data={"n": n})
            message = await sse.next(60.0)  # generous for a busy machine: not a speed check
            assert orjson.loads(message["data"])["data"]["n"] == n


async def test_filters_by_type_and_dataset(api: Api, app: Any, live_url: str) -> None:
    a, b = await create_dataset(api), await create_dataset(api)
    async with open_stream(live_url, types=["record.completed"], dataset_id=a["id"]) as sse:
        await emit(app, "record.completed", dataset_id=b["id"], workspace_id=b["workspace_id"])
        await emit(app, "record.created", dataset_id=a["id"], workspace_id=a["workspace_id"])
        await emit(
            app, "record.completed", dataset_id=a["id"], workspace_id=a["workspace_id"], data={"n": "a"}
        )
        message = await sse.next()
        assert message["event"] == "record.completed" and orjson.loads(message["data"])["data"] == {"n": "a"}
        await sse.nothing_for(0.4)


async def test_stream_row_lives_while_connected_and_for_a_grace_period(
    app: Any, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_endpoints, "KEEP_ALIVE_SECONDS", 0.3)
    monkeypatch.setattr(stream_endpoints, "HEARTBEAT_SECONDS", 0.3)

    async def rows() -> list[EventStream]:
        async with app_database(app).session(write=False) as session:
            return list(await session.scalars(select(EventStream)))

    assert await emit(app) == 0  # nobody listens: nothing stored
    async with open_stream(live_url, types="record.created") as sse:
        (row,) = await rows()
        assert row.event_types == ["record.created"]
        assert row.expires_at > datetime.now(UTC) + timedelta(minutes=4)
        first_expiry = row.expires_at
        # pushed forward while connected (every 0.3 s here; a loaded machine may take longer)
        for _ in range(100):
            await asyncio.sleep(0.1)
            (row,) = await rows()
            if row.expires_at > first_expiry:
                break
        assert row.expires_at > first_expiry
        assert await emit(app, "record.updated") == 0  # not a type it wants
        await sse.nothing_for(0.3)
        for _ in range(100):  # a heartbeat every 0.3 s here; a loaded machine may take longer
            if "keep-alive" in sse.comments:
                break
            await asyncio.sleep(0.1)
        assert "keep-alive" in sse.comments
    await asyncio.sleep(0.3)
    (row,) = await rows()
    assert row.expires_at > datetime.now(UTC) + timedelta(minutes=4)
    assert await emit(app) == 1  # still stored after the disconnect

    # reconnecting with the same filters reuses the row; other filters get their own
    async with (
        open_stream(live_url, types="record.created") as same,
        open_stream(live_url, types="record.updated") as other,
    ):
        assert len(await rows()) == 2
        assert same.comments[0] == f"stream {row.id}" and other.comments[0] != same.comments[0]


async def test_who_sees_what(api: Api, app: Any, live_url: str) -> None:
    workspace = await api.default_workspace()
    other = await api.ok("POST", "/api/v1/workspaces", json={"name": f"ws-{uuid.uuid4().hex[:6]}"})
    mine, theirs = await create_dataset(api), await create_dataset(api, other["id"])
    annotator = await api.create_user("annotator", workspace_id=workspace["id"])
    colleague = await api.create_user("annotator", workspace_id=workspace["id"])
    admin = await api.create_user("admin", workspace_id=workspace["id"])

    async def response_event(user_id: str, dataset: dict[str, Any]) -> None:
        data = {"id": str(uuid.uuid4()), "values": {}, "user": {"id": user_id}}
        await emit(
            app, "response.created", dataset_id=dataset["id"], workspace_id=dataset["workspace_id"], data=data
        )

    async with (
        open_stream(live_url, key=annotator["api_key"]) as as_annotator,
        open_stream(live_url, key=admin["api_key"]) as as_admin,
    ):
        await emit(app, dataset_id=theirs["id"], workspace_id=other["id"])
        await response_event(colleague["id"], mine)
        await response_event(annotator["id"], mine)
        await emit(app, dataset_id=mine["id"], workspace_id=workspace["id"])
        seen = await as_annotator.take(2)
        assert [m["event"] for m in seen] == ["response.created", "record.created"]
        assert orjson.loads(seen[0]["data"])["data"]["user"]["id"] == annotator["id"]
        await as_annotator.nothing_for(0.3)
        assert [m["event"] for m in await as_admin.take(3)] == ["response.created"] * 2 + ["record.created"]
        await as_admin.nothing_for(0.3)

    async with httpx.AsyncClient(
        base_url=live_url, headers={"X-Argilla-Api-Key": annotator["api_key"]}
    ) as client:
        response = await client.get(STREAM, params={"dataset_id": theirs["id"]})
        assert response.status_code == 403
        response = await client.get(STREAM, params={"dataset_id": str(uuid.uuid4())})
        assert response.status_code == 404
        response = await client.get(STREAM, params={"types": "record.created,record.exploded"})
        assert (
            response.status_code == 422
            and "record.exploded" in response.text
            and "dataset.created" in response.text
        )
        response = await client.get(STREAM, headers={"Last-Event-ID": "not-a-cursor"})
        assert response.status_code == 422 and "Last-Event-ID" in response.text
        anonymous = await client.get(STREAM, headers={"X-Argilla-Api-Key": ""})
        assert anonymous.status_code == 401


async def test_postgresql_commit_order_beats_id_order(app: Any, live_url: str, backend: str) -> None:
    """Two writers: the one with the smaller event id commits last. The stream must not hand out
    the later id first and then skip the earlier one."""
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers: ids are commit-ordered")
    database = app_database(app)
    async with open_stream(live_url) as sse:
        async with database.session(write=True) as slow:
            await publish(slow, [NewEvent("record.created", {"who": "slow"})])
            await emit(app, data={"who": "fast"})  # a smaller id is still uncommitted
            await sse.nothing_for(0.6)
            await database.commit(slow)
        got = await sse.take(2)
        assert [orjson.loads(m["data"])["data"]["who"] for m in got] == ["slow", "fast"]
        txids = [int(m["id"].split("-")[0]) for m in got]
        assert txids[0] < txids[1]
        # resuming after the first one yields exactly the second
    async with open_stream(live_url, last_event_id=got[0]["id"]) as sse:
        assert (await sse.next())["id"] == got[1]["id"]
        await sse.nothing_for(0.3)
    # a bare event id (what a client might keep) is accepted too
    async with open_stream(live_url, last_event_id=got[0]["id"].split("-")[1]) as sse:
        assert (await sse.next())["id"] == got[1]["id"]


async def test_postgresql_new_stream_skips_what_committed_before_it(
    app: Any, live_url: str, backend: str
) -> None:
    """An older transaction is still open when a stream starts; a newer one committed before the
    start. The stream gets the older one's event (it commits after the start), not the newer's."""
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers")
    database = app_database(app)
    # the first stream makes the outbox store events
    async with open_stream(live_url), database.session(write=True) as slow:
        await publish(slow, [NewEvent("record.created", {"who": "slow"})])
        await emit(app, data={"who": "before"})
        async with open_stream(live_url, types="record.created") as sse:
            await sse.nothing_for(0.4)
            await database.commit(slow)
            assert orjson.loads((await sse.next())["data"])["data"]["who"] == "slow"
            await emit(app, data={"who": "after"})
            assert orjson.loads((await sse.next())["data"])["data"]["who"] == "after"
            await sse.nothing_for(0.3)
