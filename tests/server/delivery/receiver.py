"""A real loopback webhook receiver that records what it got and answers as told by the path.

| path | answer |
|---|---|
| `/ok` | 200 |
| `/status/{code}` | that status |
| `/slow/{ms}` | 200 after `ms` milliseconds |
| `/redirect` | 302 to `/ok` |
| `/retry-after/{value}` | 503 with `Retry-After: value` (`date:N` sends an HTTP date N s ahead) |
| `/flaky/{n}/{code}` | `code` to the first `n` requests of each `webhook-id`, then 200 |
| `/big` | 200 with a 5 KB body |

Every request is verified with the official `standardwebhooks` library against `secrets` (any one
of them verifying is enough, as during a rotation).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    msg_id: str
    headers: dict[str, str]
    body: bytes
    payload: Any
    verified: bool
    at: float
    """`time.monotonic()` when the request arrived."""


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    overlaps: list[str] = field(default_factory=list)
    """`webhook-id`s that arrived while the same id was still being answered."""
    _active: Counter[str] = field(default_factory=Counter)
    _seen: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path_prefix: str) -> list[Received]:
        return [r for r in self.received if r.path.startswith(path_prefix)]

    def msg_ids(self, path_prefix: str = "/") -> list[str]:
        return [r.msg_id for r in self.on(path_prefix)]

    async def wait_for(self, count: int, *, path_prefix: str = "/", within: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + within
        while len(self.on(path_prefix)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"got {len(self.on(path_prefix))} of {count} requests on {path_prefix}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.05))
        return self.on(path_prefix)

    def _verify(self, body: bytes, headers: dict[str, str]) -> tuple[bool, Any]:
        for secret in self.secrets:
            try:
                return True, Verifier(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        return False, None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        msg_id = headers.get("webhook-id", "")
        verified, payload = self._verify(body, headers)
        if self._active[msg_id]:
            self.overlaps.append(msg_id)
        self._active[msg_id] += 1
        self._seen[msg_id] += 1
        self.received.append(
            Received(request.path, msg_id, headers, body, payload, verified, time.monotonic())
        )
        self._arrived.set()
        try:
            return await self._answer(request, msg_id)
        finally:
            self._active[msg_id] -= 1

    async def _answer(self, request: web.Request, msg_id: str) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        kind = parts[0]
        if kind == "status":
            return web.Response(status=int(parts[1]), text=f"answer {parts[1]}")
        if kind == "slow":
            await asyncio.sleep(int(parts[1]) / 1000)
            return web.Response(text="slow ok")
        if kind == "redirect":
            return web.Response(status=302, headers={"Location": "/ok"})
        if kind == "retry-after":
            value = parts[1]
            if value.startswith("date:"):
                moment = datetime.now(UTC) + timedelta(seconds=int(value[5:]))
                value = email.utils.format_datetime(moment, usegmt=True)
            return web.Response(status=503, headers={"Retry-After": value}, text="later")
        if kind == "flaky":
            if self._seen[msg_id] <= int(parts[1]):
                return web.Response(status=int(parts[2]), text="not yet")
            return web.Response(text="ok now")
        if kind == "big":
            return web.Response(text="x" * 5000)
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        # a sender that gives up (timeout, stop) cancels the handler; stopping waits for no one
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
