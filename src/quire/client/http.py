"""The SDK's HTTP layer: one pooled `httpx.Client`, typed errors, retries with backoff.

What is retried (up to `retries` more attempts, exponential backoff with jitter):

- a connection that could not be made (refused, DNS, connect timeout): every request, since nothing
  reached the server;
- `429 Too Many Requests` and `503 Service Unavailable`: every request, since the server says it did
  not do the work; `Retry-After` (seconds or an HTTP date) is honoured up to `MAX_RETRY_AFTER`;
- other 5xx statuses, read timeouts and dropped connections: only idempotent requests (GET, HEAD,
  OPTIONS, PUT, DELETE, and calls marked `idempotent=True` such as searches and bulk upserts), because
  a non-idempotent request may have been carried out before the failure.
"""

from __future__ import annotations

import email.utils
import importlib
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from quire.client.errors import APIConnectionError, APIError, APITimeoutError, error_for_response

_orjson: Any
try:  # an optional speed-up: orjson serializes request bodies several times faster
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

DEFAULT_URL = "http://localhost:6900"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5
API_KEY_HEADER = "X-Argilla-Api-Key"
MAX_RETRY_AFTER = 60.0
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ALWAYS_RETRIED_STATUSES = frozenset({429, 503})

Params = Mapping[str, str | int | float | bool | list[str] | None]


def _default(value: Any) -> Any:
    """What JSON cannot hold natively: arrays (numpy…) become lists, UUIDs and dates strings."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} as JSON: {value!r}")


def dumps(value: Any) -> bytes:
    """JSON bytes for a request body (orjson when installed, else the standard library)."""
    if _orjson is not None:
        encoded: bytes = _orjson.dumps(value, default=_default, option=_orjson.OPT_SERIALIZE_NUMPY)
        return encoded
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def loads(data: bytes) -> Any:
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """The server's `Retry-After` in seconds (delta-seconds or an HTTP date), if it sent one."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX) -> float:
    """Delay before retry number `attempt` (0-based): exponential, capped, with "equal jitter"
    (half fixed, half random) so that many clients do not retry in lockstep."""
    ceiling: float = min(cap, base * (2.0**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class HTTPClient:
    """Sends requests to `api_url` with the API key, maps error statuses to exceptions and retries
    what is safe to retry. Thread-safe (one `httpx.Client` with a connection pool)."""

    def __init__(
        self,
        api_url: str,
        api_key: str | None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.api_url = api_url.rstrip("/")
        self.retries = retries
        self._sleep = sleep
        all_headers = {"User-Agent": "quire-python", **(headers or {})}
        self._has_key = bool(api_key)
        if api_key:
            all_headers[API_KEY_HEADER] = api_key
        self._client = httpx.Client(
            base_url=self.api_url,
            headers=all_headers,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
        )

    @property
    def timeout(self) -> httpx.Timeout:
        return self._client.timeout

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request (retrying as described in the module docstring) and return the
        response; raise an `APIError` subclass for an error status."""
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        headers: dict[str, str] = {}
        if json is not None:
            content = dumps(json)
        if content is not None:
            headers["content-type"] = "application/json"
        query = _query_params(params)
        attempt = 0
        while True:
            try:
                response = self._client.request(
                    method,
                    path,
                    params=query,
                    content=content,
                    headers=headers,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                if attempt < self.retries and (safe or never_sent):
                    self._sleep(backoff_seconds(attempt))
                    attempt += 1
                    continue
                raise _connection_error(exc, method, self.api_url + path) from exc
            status = response.status_code
            if status < 400:
                return response
            retryable = status in ALWAYS_RETRIED_STATUSES or (status >= 500 and safe)
            if retryable and attempt < self.retries:
                wait = retry_after_seconds(response)
                if wait is None or wait > MAX_RETRY_AFTER:
                    wait = backoff_seconds(attempt)
                response.close()
                self._sleep(wait)
                attempt += 1
                continue
            error = error_for_response(response)
            if status == 401 and not self._has_key:
                error.message += " — no API key was sent: pass api_key= or set QUIRE_API_KEY"
            raise error

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request()` and the decoded JSON body (None for an empty body)."""
        response = self.request(method, path, **kwargs)
        return loads(response.content) if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.json("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.json("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.json("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.json("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.json("DELETE", path, **kwargs)


def _query_params(params: Params | None) -> list[tuple[str, str | int | float | bool | None]] | None:
    if not params:
        return None
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            out.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return out


def _connection_error(exc: httpx.TransportError, method: str, url: str) -> APIConnectionError:
    request = exc.request if _has_request(exc) else None
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{method} {url} timed out: {exc or type(exc).__name__}", request=request)
    return APIConnectionError(
        f"{method} {url} failed: {exc or type(exc).__name__} (is the quire server running?)", request=request
    )


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - the property raises when the error has no request
    except RuntimeError:
        return False
    return True


__all__ = ["APIError", "HTTPClient", "backoff_seconds", "dumps", "loads", "retry_after_seconds"]
