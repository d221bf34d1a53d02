"""Signing and POSTing one message, and what came of it.

For a single request outside the dispatcher (the webhooks API's `POST /webhooks/{id}/ping`):

    async def send_once(
        webhook: Webhook, body: bytes, msg_id: str, *, settings: Settings | None = None
    ) -> AttemptResult

signs `body` with the webhook's secret(s), adds its custom headers, POSTs it through the network
guard with the webhook policy's timeout (times `QUIRE_DELIVERY_TIMEOUT_SCALE`), and returns the
outcome. It never retries and writes nothing to the database; it never raises for network
trouble either (that is in the result: `kind`, `status_code`, `error`).

The dispatcher keeps one `Sender` (one pooled `aiohttp.ClientSession`) for its whole life.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from quire import __version__
from quire.server.delivery import signing
from quire.server.delivery.guard import REFUSED_PREFIX, AddressRefused, NetworkGuard
from quire.server.delivery.policies import DeliveryPolicy, resolve
from quire.server.models import utcnow

if TYPE_CHECKING:
    from quire.server.models import Webhook
    from quire.server.settings import Settings

AttemptKind = Literal["ok", "status", "timeout", "connect_error", "refused", "error"]
SNIPPET_BYTES = 1024
# what a webhook's custom headers may not set
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection"})
USER_AGENT = f"quire-webhooks/{__version__}"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptResult:
    """One attempt: 2xx (`ok`), another status, a timeout, a connection failure, a refusal by the
    network guard, or another error (a malformed URL …)."""

    started_at: datetime
    duration_ms: float
    kind: AttemptKind
    status_code: int | None = None
    error: str | None = None
    response_snippet: str | None = None
    retry_after: float | None = None
    """Seconds the receiver asked to wait (`Retry-After`), if it did."""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@dataclass(frozen=True)
class Target:
    """Where and how to send: the URL, the signing secrets (current first), custom headers and
    the (already scaled) timeout."""

    url: str
    secrets: tuple[str, ...]
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict)
    _prepared: list[_Prepared] = field(default_factory=list, init=False, compare=False, repr=False)

    def prepared(self) -> _Prepared:
        """What every request to this target shares, built on first use (a lane keeps its
        target until the webhook changes, so this is once per webhook state, not per request)."""
        if not self._prepared:
            self._prepared.append(_Prepared(self))
        return self._prepared[0]


class _Prepared:
    """A target's fixed headers, HMAC states keyed with its secrets (copied per message rather
    than re-keyed) and client timeout."""

    def __init__(self, target: Target) -> None:
        self.headers = request_headers(target, "", 0, b"")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type"):
            del self.headers[name]
        self.macs = [
            hmac.new(signing.secret_key(secret), digestmod=hashlib.sha256) for secret in target.secrets
        ]
        self.timeout = aiohttp.ClientTimeout(total=target.timeout, sock_connect=target.timeout)

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """`request_headers(target, msg_id, timestamp, body)`, the same headers and signatures."""
        prefix = f"{msg_id}.{timestamp}.".encode()
        signatures = []
        for keyed in self.macs:
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)
            signatures.append("v1," + base64.b64encode(mac.digest()).decode())
        headers = self.headers.copy()
        headers["webhook-id"] = msg_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = " ".join(signatures)
        headers["content-type"] = "application/json"
        return headers


def webhook_policy(policy: Any, kind: str) -> DeliveryPolicy:
    """A webhook's stored policy (a preset name, or a policy object as the webhooks API stores it);
    events webhooks default to `argilla`, rule webhooks to `langsmith`. A stored policy that no
    longer validates falls back to the default rather than stopping deliveries."""
    default = "langsmith" if kind == "rule" else "argilla"
    try:
        if isinstance(policy, dict):
            return DeliveryPolicy.model_validate(policy)
        return resolve(policy, default=default)
    except ValueError:
        logger.warning("webhook policy %r is not valid; using %r", policy, default)
        return resolve(None, default=default)


def signing_secrets(
    secret: str, previous_secret: str | None, previous_expires_at: datetime | None, *, now: datetime
) -> tuple[str, ...]:
    """The current secret, plus the previous one while its grace period lasts."""
    if previous_secret and previous_expires_at is not None and previous_expires_at > now:
        return (secret, previous_secret)
    return (secret,)


def target_of(webhook: Webhook, *, timeout_scale: float = 1.0) -> Target:
    policy = webhook_policy(webhook.policy, webhook.kind)
    return Target(
        url=webhook.url,
        secrets=signing_secrets(
            webhook.secret, webhook.previous_secret, webhook.previous_secret_expires_at, now=utcnow()
        ),
        timeout=policy.timeout_seconds * timeout_scale,
        headers=dict(webhook.headers or {}),
    )


def request_headers(target: Target, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers plus the webhook's own, which cannot override `webhook-*`,
    `content-type` or the framing headers."""
    result = {"user-agent": USER_AGENT}
    for name, value in target.headers.items():
        lowered = name.lower()
        if lowered.startswith("webhook-") or lowered in _RESERVED_HEADERS:
            continue
        result[name] = str(value)
    result.update(signing.headers(target.secrets, msg_id, timestamp, body))
    return result


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (past dates are 0)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or utcnow())).total_seconds())


def _refusal(exc: BaseException) -> str | None:
    while exc is not None:
        if isinstance(exc, AddressRefused):
            return exc.reason
        if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, AddressRefused):
            return exc.os_error.reason
        if isinstance(exc, OSError) and str(exc).startswith(REFUSED_PREFIX):
            return str(exc)
        exc = exc.__cause__  # type: ignore[assignment]
    return None


class Sender:
    """One pooled HTTP client behind the network guard. Use as `async with Sender(guard) as s`."""

    def __init__(self, guard: NetworkGuard, *, resolver: AbstractResolver | None = None) -> None:
        """`resolver`: what resolves names before the guard filters them (default: aiohttp's)."""
        self.guard = guard
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._url_checks: dict[str, str | None] = {}

    async def __aenter__(self) -> Sender:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            resolver=self.guard.resolver(self._inner_resolver),
            socket_factory=self.guard.socket_factory,
            limit=0,  # concurrency is capped per webhook by the dispatcher
            ttl_dns_cache=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _check_url(self, url: str) -> str | None:
        """Refuse before connecting: a bad URL, or an IP-literal host the guard refuses (aiohttp
        does not resolve literals, so the resolver would not see it)."""
        try:
            parsed = URL(url)
        except (ValueError, TypeError) as exc:
            return f"invalid URL: {exc}"
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return f"invalid URL {url!r}: only http:// and https:// URLs with a host can receive webhooks"
        host = parsed.host.strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return None  # a name: checked by the resolver, on what it resolves to
        return self.guard.check(host)

    async def send(self, target: Target, body: bytes, msg_id: str) -> AttemptResult:
        """POST once; never raises for network trouble (that is the result)."""
        if self._session is None:
            raise RuntimeError("Sender.start() was not called")
        started_at = utcnow()
        began = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - began) * 1000.0

        if target.url in self._url_checks:
            problem = self._url_checks[target.url]
        else:
            problem = self._check_url(target.url)
            if len(self._url_checks) > 10_000:
                self._url_checks.clear()
            self._url_checks[target.url] = problem
        if problem is not None:
            kind: AttemptKind = "refused" if problem.startswith(REFUSED_PREFIX) else "error"
            return AttemptResult(started_at, elapsed(), kind, error=problem)
        prepared = target.prepared()
        headers = prepared.sign(msg_id, int(time.time()), body)
        try:
            async with self._session.post(
                target.url, data=body, headers=headers, allow_redirects=False, timeout=prepared.timeout
            ) as response:
                raw = await response.content.read(SNIPPET_BYTES)
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except aiohttp.ConnectionTimeoutError:
            return AttemptResult(
                started_at, elapsed(), "connect_error", error=f"connect timeout after {target.timeout:g} s"
            )
        except TimeoutError:
            return AttemptResult(
                started_at, elapsed(), "timeout", error=f"timeout after {target.timeout:g} s"
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                return AttemptResult(started_at, elapsed(), "refused", error=refusal)
            return AttemptResult(started_at, elapsed(), "connect_error", error=f"connection failed: {exc}")
        except aiohttp.ClientError as exc:
            return AttemptResult(started_at, elapsed(), "error", error=f"{type(exc).__name__}: {exc}")
        snippet = raw.decode("utf-8", errors="replace") if raw else None
        kind = "ok" if 200 <= status < 300 else "status"
        error = None if kind == "ok" else f"HTTP {status}"
        return AttemptResult(
            started_at,
            elapsed(),
            kind,
            status_code=status,
            error=error,
            response_snippet=snippet,
            retry_after=retry_after,
        )


def guard_of(settings: Settings) -> NetworkGuard:
    return NetworkGuard.from_lists(allow=settings.webhook_allow, deny=settings.webhook_deny)


async def send_once(
    webhook: Webhook, body: bytes, msg_id: str, *, settings: Settings | None = None
) -> AttemptResult:
    """Sign and POST `body` to `webhook` once (see the module docstring)."""
    if settings is None:
        from quire.server.settings import Settings

        settings = Settings()
    target = target_of(webhook, timeout_scale=settings.delivery_timeout_scale)
    async with Sender(guard_of(settings)) as sender:
        return await sender.send(target, body, msg_id)
