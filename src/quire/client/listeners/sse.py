"""A client for the server's Server-Sent Events stream (`GET /api/v1/events/stream`) that
reconnects with `Last-Event-ID`, so a dropped connection loses nothing the server still stores.

`close()` may be called from another thread: it shuts the socket down, which wakes a read that is
blocked waiting for the next event at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from quire.client.errors import APIError, error_for_response
from quire.client.http import backoff_seconds

if TYPE_CHECKING:
    from quire.client.client import Quire

__all__ = ["EventStream", "ServerSentEvent"]

logger = logging.getLogger("quire.listeners")

STREAM_PATH = "/api/v1/events/stream"
READ_TIMEOUT = 60.0
"""The server sends a keep-alive comment after 15 s of silence: 60 s without a byte is a dead link."""
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ServerSentEvent:
    id: str | None
    event: str
    data: str


def parse_lines(lines: Iterable[str], on_open: Any = None) -> Iterator[ServerSentEvent]:
    """Messages from the lines of an event stream (the `text/event-stream` format); `on_open()` is
    called at the end of the first block, whatever it holds (quire's is `retry:` and a comment)."""
    event_id: str | None = None
    event = ""
    data: list[str] = []
    opened = False
    for line in lines:
        if line == "":
            if not opened:
                opened = True
                if on_open is not None:
                    on_open()
            if data:
                yield ServerSentEvent(id=event_id, event=event or "message", data="\n".join(data))
            event_id, event, data = None, "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value


class EventStream:
    """The events of `types` (and of `dataset_id`) as they commit, for as long as it is open."""

    def __init__(
        self,
        client: Quire,
        *,
        types: Iterable[str] | None = None,
        dataset_id: Any = None,
        last_event_id: str | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        http = client.http
        self._http = httpx.Client(
            base_url=http.api_url,
            headers=dict(http._client.headers),
            timeout=httpx.Timeout(http.timeout.connect or 10.0, read=read_timeout),
        )
        self._params: dict[str, str] = {}
        if types:
            self._params["types"] = ",".join(types)
        if dataset_id is not None:
            self._params["dataset_id"] = str(dataset_id)
        self.last_event_id = last_event_id
        self.connected = threading.Event()
        """Set once the server has registered the stream: events committed after it are delivered."""
        self.connections = 0
        self._closed = threading.Event()
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()
        self._iterating = False

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def events(self) -> Iterator[ServerSentEvent]:
        """Messages until `close()`, reconnecting (with backoff) after errors. An error status
        that retrying cannot fix (401, 403, 404, 422) is raised."""
        self._iterating = True
        try:
            yield from self._reconnecting()
        finally:
            self._iterating = False
            self._http.close()

    def _reconnecting(self) -> Iterator[ServerSentEvent]:
        attempt = 0
        while not self._closed.is_set():
            try:
                for message in self._connect_once():
                    attempt = 0
                    if message.id is not None:
                        self.last_event_id = message.id
                    yield message
                if self._closed.is_set():
                    return
                logger.info("event stream ended by the server; reconnecting")
            except APIError as exc:
                if exc.status_code not in RETRYABLE_STATUSES:
                    raise
                if self._closed.is_set():
                    return
                logger.warning("event stream refused (%s); reconnecting", exc)
            except (httpx.HTTPError, OSError) as exc:
                if self._closed.is_set():
                    return
                logger.warning("event stream lost (%s: %s); reconnecting", type(exc).__name__, exc)
            if self._closed.wait(backoff_seconds(attempt, base=0.25, cap=5.0)):
                return
            attempt += 1

    def _connect_once(self) -> Iterator[ServerSentEvent]:
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.last_event_id:
            headers["last-event-id"] = self.last_event_id
        with self._http.stream("GET", STREAM_PATH, params=self._params, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                raise error_for_response(response)
            with self._lock:
                self._response = response
            if self._closed.is_set():
                return
            self.connections += 1
            try:
                yield from parse_lines(response.iter_lines(), on_open=self.connected.set)
            finally:
                with self._lock:
                    self._response = None

    def close(self) -> None:
        """Stop: a read blocked in another thread returns at once."""
        self._closed.set()
        with self._lock:
            response = self._response
        if response is not None:
            _shutdown(response)
        if not self._iterating:
            self._http.close()


def _shutdown(response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)
