"""PostgreSQL `LISTEN quire_outbox`: wakes a dispatcher when any process commits deliveries.

One asyncpg connection outside the pool, reconnected when it drops (after a reconnect the
dispatcher is woken once, since notifications sent meanwhile are lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL

from quire.server.events.outbox import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_forever(
    url: URL, wake: Callable[[], None], *, keepalive_seconds: float = 10.0, retry_seconds: float = 1.0
) -> None:
    """Run until cancelled."""
    while True:
        connection: Any = None
        try:
            connection = await asyncpg.connect(_dsn(url), timeout=10)
            closed = asyncio.Event()
            connection.add_termination_listener(lambda _conn, closed=closed: closed.set())
            await connection.add_listener(NOTIFY_CHANNEL, lambda *_args: wake())
            wake()
            while not closed.is_set():
                try:
                    await asyncio.wait_for(closed.wait(), keepalive_seconds)
                except TimeoutError:
                    await asyncio.wait_for(connection.execute("SELECT 1"), keepalive_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database went away: try again
            logger.warning("LISTEN %s connection failed (%s); reconnecting", NOTIFY_CHANNEL, exc)
        finally:
            if connection is not None and not connection.is_closed():
                connection.terminate()
        await asyncio.sleep(retry_seconds)
