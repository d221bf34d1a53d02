"""Serving webhook handlers: `@rg.webhook_handler("record.completed")` registers a function, and
`rg.webhooks.app(secret)` (a plain ASGI app) or `rg.webhooks.router(secret)` (a FastAPI router)
receives quire's deliveries, verifies them and calls the handlers of each event's type.

    @rg.webhook_handler("record.completed")
    def on_completed(event: rg.webhooks.WebhookEvent) -> None: ...

    app = rg.webhooks.app(secret=webhook.secret)   # uvicorn module:app

Answers: `200 {"id", "type", "handled": n}` once every handler returned (also when no handler
wants the type, and for `ping`); `401 {"detail", "reason"}` for a delivery that does not verify;
`500` when a handler raised (logged; quire then retries the delivery per the webhook's policy,
with the same `webhook-id`); `405` for other methods than POST, `404` for other paths when the app
was given a `path`, `413` for bodies over `max_body_bytes`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from quire.client.receiver.events import WebhookEvent, WebhookVerificationError
from quire.client.receiver.verify import verify
from quire.standard_webhooks import DEFAULT_TOLERANCE_SECONDS

__all__ = ["SECRET_ENV", "WebhookApp", "WebhookHandlers", "app", "handlers", "router", "webhook_handler"]

logger = logging.getLogger("quire.webhooks")

SECRET_ENV = "QUIRE_WEBHOOK_SECRET"
MAX_BODY_BYTES = 10 * 1024 * 1024

Handler = Callable[[WebhookEvent], Any]
H = TypeVar("H", bound=Handler)
Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


def _matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


class WebhookHandlers:
    """A set of handlers by event type. `rg.webhook_handler` registers into the default one
    (`rg.webhooks.handlers`); make your own to serve different handlers on different apps."""

    def __init__(self) -> None:
        self._handlers: list[tuple[tuple[str, ...], Handler]] = []

    def __repr__(self) -> str:
        return f"WebhookHandlers({[(types, getattr(fn, '__name__', fn)) for types, fn in self._handlers]})"

    def __len__(self) -> int:
        return len(self._handlers)

    def on(self, *event_types: str) -> Callable[[H], H]:
        """Decorator: call the function with the `WebhookEvent` of every delivery of one of
        `event_types` (`"record.completed"`, a family `"record.*"`, or `"*"`; none given: all).
        Plain functions run in a worker thread, `async def` ones on the server's event loop."""
        types = tuple(event_types) or ("*",)
        for name in types:
            if not isinstance(name, str) or not name:
                raise TypeError(f"event types are strings like 'record.completed', got {name!r}")

        def register(function: H) -> H:
            self._handlers.append((types, function))
            return function

        return register

    __call__ = on

    def clear(self) -> None:
        self._handlers.clear()

    def for_type(self, event_type: str) -> list[Handler]:
        return [fn for types, fn in self._handlers if any(_matches(t, event_type) for t in types)]

    async def dispatch(self, event: WebhookEvent) -> int:
        """Call the handlers of `event.type` one after the other; return how many ran."""
        selected = self.for_type(event.type)
        for function in selected:
            if inspect.iscoroutinefunction(function):
                await function(event)
            else:
                result = await asyncio.to_thread(function, event)
                if inspect.isawaitable(result):
                    await result
        return len(selected)

    def app(
        self,
        secret: str | Iterable[str] | None = None,
        *,
        path: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> WebhookApp:
        return WebhookApp(
            secret, handlers=self, path=path, tolerance=tolerance, max_body_bytes=max_body_bytes
        )

    def router(
        self,
        secret: str | Iterable[str] | None = None,
        *,
        path: str = "/webhook",
        tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    ) -> Any:
        return router(secret, path=path, handlers=self, tolerance=tolerance)


_default_handlers = WebhookHandlers()
handlers = _default_handlers
"""The default handlers: what `@rg.webhook_handler(...)` registers and `app()` / `router()` serve
unless given `handlers=`."""


def webhook_handler(*event_types: str) -> Callable[[H], H]:
    """`@rg.webhook_handler("record.completed")`: register a handler in the default handlers."""
    return _default_handlers.on(*event_types)


def _secrets(secret: str | Iterable[str] | None) -> list[str]:
    if secret is None:
        value = os.environ.get(SECRET_ENV, "")
        found = value.split()
        if not found:
            raise ValueError(f"give the webhook's secret (secret='whsec_…') or set {SECRET_ENV}")
        return found
    found = [secret] if isinstance(secret, str) else list(secret)
    if not found or not all(isinstance(s, str) and s for s in found):
        raise ValueError("secret must be the webhook's 'whsec_…' secret, or a list of them")
    return found


async def _handle(
    body: bytes, headers: Mapping[str, str], secrets: list[str], registry: WebhookHandlers, tolerance: float
) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer for one delivery."""
    try:
        event = verify(body, headers, secrets, tolerance)
    except WebhookVerificationError as exc:
        logger.warning("refused a webhook delivery: %s", exc.message)
        return 401, {"detail": exc.message, "reason": exc.reason}
    try:
        handled = await registry.dispatch(event)
    except Exception as exc:
        logger.exception("webhook handler failed on %s %s", event.type, event.id)
        return 500, {"detail": f"handler failed: {type(exc).__name__}", "id": event.id}
    return 200, {"id": event.id, "type": event.type, "handled": handled}


class WebhookApp:
    """An ASGI application that receives deliveries (needs no web framework: serve it with any
    ASGI server, e.g. `uvicorn module:app`, or mount it in Starlette/FastAPI)."""

    def __init__(
        self,
        secret: str | Iterable[str] | None = None,
        *,
        handlers: WebhookHandlers | None = None,
        path: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.secrets = _secrets(secret)
        self.handlers = handlers if handlers is not None else _default_handlers
        self.path = path
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if self.path is not None and scope.get("path", "/").rstrip("/") != self.path.rstrip("/"):
            await _answer(send, 404, {"detail": "not found"})
            return
        if scope.get("method") != "POST":
            await _answer(send, 405, {"detail": "webhook deliveries are POST requests"}, allow="POST")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _answer(send, 413, {"detail": f"body over {self.max_body_bytes} bytes"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        status, answer = await _handle(b"".join(chunks), headers, self.secrets, self.handlers, self.tolerance)
        await _answer(send, status, answer)


async def _answer(send: Send, status: int, payload: dict[str, Any], allow: str | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def app(
    secret: str | Iterable[str] | None = None,
    *,
    handlers: WebhookHandlers | None = None,
    path: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> WebhookApp:
    """An ASGI app serving `handlers` (default: those of `@rg.webhook_handler`). `secret`: the
    webhook's secret, several during a rotation, or None to read `QUIRE_WEBHOOK_SECRET`
    (space-separated). `path`: answer only there (default: any path)."""
    return WebhookApp(
        secret, handlers=handlers, path=path, tolerance=tolerance, max_body_bytes=max_body_bytes
    )


def router(
    secret: str | Iterable[str] | None = None,
    *,
    path: str = "/webhook",
    handlers: WebhookHandlers | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> Any:
    """A FastAPI `APIRouter` with `POST {path}` receiving deliveries (needs `fastapi` installed):
    `app.include_router(rg.webhooks.router(secret=webhook.secret))`."""
    try:
        fastapi = importlib.import_module("fastapi")
    except ImportError as exc:
        raise ImportError(
            "rg.webhooks.router() needs FastAPI: pip install fastapi (or serve rg.webhooks.app(), "
            "which needs no framework)"
        ) from exc
    secrets = _secrets(secret)
    registry = handlers if handlers is not None else _default_handlers
    api = fastapi.APIRouter()

    async def receive_webhook(request: Any) -> Any:
        body = await request.body()
        status, answer = await _handle(body, request.headers, secrets, registry, tolerance)
        return fastapi.responses.JSONResponse(answer, status_code=status)

    receive_webhook.__annotations__ = {"request": fastapi.Request, "return": fastapi.Response}
    api.add_api_route(
        path,
        receive_webhook,
        methods=["POST"],
        summary="Receive quire webhook deliveries",
        include_in_schema=True,
    )
    return api
