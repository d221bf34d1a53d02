"""Signed, expiring URLs for values too large to inline in a rule's payload.

    {public_url}/api/v1/rules/{rule_id}/values/{record_id}/{name}?expires=…&digest=…&signature=…

`name` is a field name, or `ROOT` for the whole record. `digest` identifies the value the payload
left out (a SHA-256 prefix of its JSON), `expires` is a Unix time, and `signature` is an HMAC-SHA256
over all of it with a key generated once and stored in `server_keys`, so every server process signs
and verifies alike. quire serves such a URL without an API key: 403 once it has expired or when any
part was changed, 410 when the value is no longer the one the payload referred to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.models import ServerKey, table_of, utcnow

KEY_NAME = "rule-value-urls"
ROOT = "ROOT"


def digest_of(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


async def signing_key(session: AsyncSession, *, create: bool) -> bytes | None:
    """The shared key; with `create`, generated (once, by whoever comes first) if missing."""
    value = await session.scalar(select(ServerKey.value).where(ServerKey.name == KEY_NAME))
    if value is None and create:
        insert_fn: Any = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        fresh = base64.b64encode(secrets.token_bytes(32)).decode()
        await session.execute(
            insert_fn(table_of(ServerKey))
            .values(name=KEY_NAME, value=fresh, inserted_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = await session.scalar(select(ServerKey.value).where(ServerKey.name == KEY_NAME))
    return None if value is None else base64.b64decode(value)


def signature(
    key: bytes, rule_id: uuid.UUID, record_id: uuid.UUID, name: str, expires: int, digest: str
) -> str:
    message = f"{rule_id}\n{record_id}\n{name}\n{expires}\n{digest}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode().rstrip("=")


class Signer:
    """Builds the URLs of one run."""

    def __init__(self, key: bytes, *, base_url: str, rule_id: uuid.UUID, ttl_seconds: float) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.rule_id = rule_id
        self.expires = int(time.time() + ttl_seconds)

    def url(self, record_id: uuid.UUID, name: str, value: Any) -> str:
        digest = digest_of(value)
        query = urlencode(
            {
                "expires": self.expires,
                "digest": digest,
                "signature": signature(self.key, self.rule_id, record_id, name, self.expires, digest),
            }
        )
        return f"{self.base_url}/api/v1/rules/{self.rule_id}/values/{record_id}/{name}?{query}"


def verify(
    key: bytes | None,
    *,
    rule_id: uuid.UUID,
    record_id: uuid.UUID,
    name: str,
    expires: int,
    digest: str,
    given: str,
    now: float | None = None,
) -> str | None:
    """None when the URL is genuine and current; otherwise why not."""
    if key is None:
        return "this URL was not signed by this server"
    expected = signature(key, rule_id, record_id, name, expires, digest)
    if not hmac.compare_digest(expected, given):
        return "invalid signature"
    if (time.time() if now is None else now) >= expires:
        return "this URL has expired"
    return None
