"""`rg.webhooks`: verifying Standard Webhooks signatures, and serving handlers of real deliveries
from a quire webhook to a loopback receiver."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import fastapi
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from standardwebhooks import Webhook as OfficialWebhook

import quire as rg
from quire.standard_webhooks import generate_secret, headers, sign
from tests.client.conftest import LiveServer
from tests.client.listener_helpers import text_label_settings, wait_for

BODY = b'{"type":"record.completed","version":1,"timestamp":"2025-03-01T10:00:00.123456Z","data":{"id":"6c1d2a9e-8f0b-4a57-9a53-1a2b3c4d5e6f","external_id":"r1","dataset":{"id":"0b8e3f44-2c7a-4d26-9d9e-51f2a0e4b7c1","name":"d"}}}'


def signed(
    secret: str, body: bytes = BODY, *, at: int | None = None, msg_id: str = "msg_1"
) -> dict[str, str]:
    return headers([secret], msg_id, int(time.time()) if at is None else at, body)


# ------------------------------------------------------------------ verify (offline)


def test_verify_returns_a_typed_event() -> None:
    secret = generate_secret()
    event = rg.webhooks.verify(BODY, signed(secret), secret)
    assert isinstance(event, rg.webhooks.WebhookEvent) and rg.WebhookEvent is rg.webhooks.WebhookEvent
    assert (event.type, event.version, event.id) == ("record.completed", 1, "msg_1")
    assert event.timestamp == datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert event.data["external_id"] == "r1" and event.resource == "record" and event.action == "completed"
    assert str(event.record_id) == "6c1d2a9e-8f0b-4a57-9a53-1a2b3c4d5e6f"
    assert str(event.dataset_id) == "0b8e3f44-2c7a-4d26-9d9e-51f2a0e4b7c1"
    assert event.signed_at is not None and event.raw == BODY


def test_verify_accepts_what_the_official_library_signs() -> None:
    secret = generate_secret()
    now = datetime.now(UTC)
    signature = OfficialWebhook(secret).sign("msg_official", now, BODY.decode())
    message_headers = {  # other capitalisation than ours: matched case-insensitively
        "Webhook-Id": "msg_official",
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": signature,
    }
    assert rg.webhooks.verify(BODY.decode(), message_headers, secret).id == "msg_official"
    # and the other way round: the official library verifies our signature (spec test vector too)
    assert OfficialWebhook(secret).verify(BODY, signed(secret))["type"] == "record.completed"
    vector = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert vector == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_several_signatures_and_several_secrets() -> None:
    old, new, other = generate_secret(), generate_secret(), generate_secret()
    now = int(time.time())
    rotated = headers([new, old], "msg_2", now, BODY)  # during a rotation quire signs with both
    assert len(rotated["webhook-signature"].split()) == 2
    for secret in (old, new, [other, new]):
        assert rg.webhooks.verify(BODY, rotated, secret).id == "msg_2"
    mixed = dict(
        rotated,
        **{
            "webhook-signature": f"v2,abc v1,{base64.b64encode(b'x' * 32).decode()} "
            + sign(new, "msg_2", now, BODY)
        },
    )
    assert rg.webhooks.verify(BODY, mixed, new).type == "record.completed"  # unknown versions ignored
    with pytest.raises(rg.webhooks.WebhookVerificationError) as refused:
        rg.webhooks.verify(BODY, rotated, other)
    assert refused.value.reason == "no_matching_signature"
    # the secret's whsec_ prefix is optional
    assert rg.webhooks.verify(BODY, rotated, new.removeprefix("whsec_")).id == "msg_2"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b + b" "), "no_matching_signature"),
        (lambda h, b: (h, b.replace(b'"r1"', b'"r2"')), "no_matching_signature"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "no_matching_signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing_header"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "invalid_timestamp"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(time.time()) - 3600)}, b), "timestamp_too_old"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(time.time()) + 3600)}, b), "timestamp_in_future"),
    ],
)
def test_refusals_say_why(change: Any, reason: str) -> None:
    secret = generate_secret()
    message_headers, body = change(signed(secret), BODY)
    with pytest.raises(rg.webhooks.WebhookVerificationError) as refused:
        rg.webhooks.verify(body, message_headers, secret)
    assert refused.value.reason == reason
    assert isinstance(refused.value, rg.QuireError)


def test_tolerance_and_payload() -> None:
    secret = generate_secret()
    old = int(time.time()) - 600
    with pytest.raises(rg.webhooks.WebhookVerificationError, match=r"60[0-9]s old"):
        rg.webhooks.verify(BODY, signed(secret, at=old), secret)
    assert rg.webhooks.verify(BODY, signed(secret, at=old), secret, tolerance=3600).type == "record.completed"
    with pytest.raises(rg.webhooks.WebhookVerificationError) as refused:
        rg.webhooks.verify(b"[1, 2]", signed(secret, b"[1, 2]"), secret)
    assert refused.value.reason == "invalid_payload"
    with pytest.raises(rg.webhooks.WebhookVerificationError) as refused:
        rg.webhooks.verify(BODY, signed(secret), "whsec_not base64!")
    assert refused.value.reason == "invalid_secret"


# ------------------------------------------------------------------ the app, offline


def test_handlers_select_by_type_family_and_wildcard() -> None:
    registry = rg.webhooks.WebhookHandlers()
    calls: list[str] = []

    @registry.on("record.completed")
    def exact(event: rg.WebhookEvent) -> None:
        calls.append("exact")

    @registry.on("record.*")
    async def family(event: rg.WebhookEvent) -> None:
        calls.append("family")

    @registry.on()
    def everything(event: rg.WebhookEvent) -> None:
        calls.append("all")

    assert [f.__name__ for f in registry.for_type("record.completed")] == ["exact", "family", "everything"]
    assert [f.__name__ for f in registry.for_type("dataset.created")] == ["everything"]
    secret = generate_secret()
    app = registry.app(secret, path="/hooks")
    transport = httpx.ASGITransport(app=app)

    async def post(
        path: str, body: bytes, message_headers: dict[str, str], method: str = "POST"
    ) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
            return await http.request(method, path, content=body, headers=message_headers)

    ok = asyncio.run(post("/hooks", BODY, signed(secret)))
    assert ok.status_code == 200 and ok.json() == {"id": "msg_1", "type": "record.completed", "handled": 3}
    assert sorted(calls) == ["all", "exact", "family"]
    assert asyncio.run(post("/hooks", BODY + b" ", signed(secret))).status_code == 401
    assert asyncio.run(post("/elsewhere", BODY, signed(secret))).status_code == 404
    assert asyncio.run(post("/hooks", b"", {}, method="GET")).status_code == 405


def test_a_failing_handler_answers_500_so_quire_retries() -> None:
    registry = rg.webhooks.WebhookHandlers()

    @registry.on("record.completed")
    def broken(event: rg.WebhookEvent) -> None:
        raise RuntimeError("database down")

    secret = generate_secret()
    client = TestClient(registry.app(secret))
    answer = client.post("/", content=BODY, headers=signed(secret))
    assert answer.status_code == 500 and answer.json()["id"] == "msg_1"


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rg.webhooks.SECRET_ENV, raising=False)
    with pytest.raises(ValueError, match=rg.webhooks.SECRET_ENV):
        rg.webhooks.app()
    old, new = generate_secret(), generate_secret()
    monkeypatch.setenv(rg.webhooks.SECRET_ENV, f"{new} {old}")
    assert rg.webhooks.app().secrets == [new, old]


# ------------------------------------------------------------------ real deliveries


@contextmanager
def serve(app: Any, sock: socket.socket) -> Iterator[None]:
    """Serve an ASGI app with uvicorn in a thread on an already bound socket."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the receiver to start")
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(30)


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Recorder:
    """ASGI middleware keeping each request's headers and body (to replay them altered)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        self.requests.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@pytest.fixture
def default_handlers() -> Iterator[rg.webhooks.WebhookHandlers]:
    rg.webhooks.handlers.clear()
    yield rg.webhooks.handlers
    rg.webhooks.handlers.clear()


def test_real_deliveries_reach_webhook_handlers(
    server: LiveServer, client: rg.Quire, workspace: rg.Workspace, default_handlers: Any
) -> None:
    dataset = rg.Dataset(
        name="receiver", workspace=workspace, settings=text_label_settings(), client=client
    ).create()
    sock = bound_socket()
    port = sock.getsockname()[1]
    webhook = rg.Webhook(
        url=f"http://127.0.0.1:{port}/hooks/quire",
        events=["record.completed"],
        dataset=dataset,
        client=client,
    ).create()
    got: list[rg.WebhookEvent] = []

    @rg.webhook_handler("record.completed")
    def on_completed(event: rg.WebhookEvent) -> None:
        got.append(event)

    assert webhook.secret is not None
    recorder = Recorder(rg.webhooks.app(secret=webhook.secret, path="/hooks/quire"))
    try:
        with serve(recorder, sock):
            dataset.records.log([{"id": "r1", "text": "hello"}])
            me = client.me
            dataset.records.log(
                [
                    rg.Record(
                        id="r1",
                        responses=[rg.Response("label", "positive", user_id=me.id, status="submitted")],
                    )
                ]
            )
            wait_for(lambda: got, "the record.completed delivery")
            event = got[0]
            assert event.type == "record.completed" and event.data["external_id"] == "r1"
            assert event.dataset_id == dataset.id and event.id and event.id.startswith("msg_")
            wait_for(lambda: webhook.deliveries(status="succeeded"), "the delivery to be marked succeeded")

            # the real delivery, replayed altered, is refused by the app
            message_headers, body = recorder.requests[0]
            url = f"http://127.0.0.1:{port}/hooks/quire"
            tampered = httpx.post(url, content=body.replace(b'"r1"', b'"r9"'), headers=message_headers)
            assert tampered.status_code == 401 and tampered.json()["reason"] == "no_matching_signature"
            stale = {
                **message_headers,
                "webhook-timestamp": str(int(message_headers["webhook-timestamp"]) - 3600),
            }
            assert httpx.post(url, content=body, headers=stale).json()["reason"] == "timestamp_too_old"
            forged = {
                **message_headers,
                "webhook-signature": sign(
                    generate_secret(),
                    message_headers["webhook-id"],
                    int(message_headers["webhook-timestamp"]),
                    body,
                ),
            }
            assert httpx.post(url, content=body, headers=forged).status_code == 401
            assert (
                httpx.post(url, content=body, headers=message_headers).status_code == 200
            )  # intact: accepted
        # and the same body verifies offline, but not an hour later
        assert rg.webhooks.verify(body, message_headers, webhook.secret).id == event.id
        with pytest.raises(rg.webhooks.WebhookVerificationError, match="old"):
            rg.webhooks.verify(body, message_headers, webhook.secret, now=time.time() + 3600)
        assert len(got) == 2  # the delivery, and the intact replay
    finally:
        webhook.delete()


def test_fastapi_router_receives_a_real_ping_and_events(
    server: LiveServer, client: rg.Quire, workspace: rg.Workspace
) -> None:
    dataset = rg.Dataset(
        name="router", workspace=workspace, settings=text_label_settings(), client=client
    ).create()
    sock = bound_socket()
    port = sock.getsockname()[1]
    webhook = rg.Webhook(
        url=f"http://127.0.0.1:{port}/webhook", events=["record.created"], dataset=dataset, client=client
    ).create()
    registry = rg.webhooks.WebhookHandlers()
    created: list[str] = []

    @registry.on("record.created")
    async def on_created(event: rg.WebhookEvent) -> None:
        created.append(str(event.data["external_id"]))

    assert webhook.secret is not None
    api = fastapi.FastAPI()
    api.include_router(rg.webhooks.router(secret=webhook.secret, handlers=registry))
    try:
        with serve(api, sock):
            webhook.ping()  # synchronous: answered by the router before ping() returns
            pings = webhook.deliveries()
            assert pings and pings[0]["status"] == "succeeded"
            dataset.records.log([{"id": "x1", "text": "a"}, {"id": "x2", "text": "b"}])
            wait_for(lambda: sorted(created) == ["x1", "x2"], "two record.created deliveries")
    finally:
        webhook.delete()
