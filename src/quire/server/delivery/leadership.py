"""SQLite: one dispatcher per database at a time.

SQLite has one writer; two dispatchers on one file would only queue behind each other. The one that
dispatches holds the `dispatcher` row of `leases`, renewing it every third of
`QUIRE_DELIVERY_LEASE_SECONDS`; the others (a `quire worker` beside a `quire server`, say) stand by
and take over when it stops (it drops the row), when its lease expires, or at once when it is a
dead process of this machine. Delivery rows keep their own claims and leases as on PostgreSQL, so
even an overlap at a takeover never sends one attempt twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Database, Dialect
from quire.server.delivery.workers import is_dead
from quire.server.models import Lease, table_of, utcnow

logger = logging.getLogger(__name__)

LEASES = table_of(Lease)
NAME = "dispatcher"


async def take_lease(
    session: AsyncSession,
    *,
    dialect: Dialect,
    name: str,
    owner: str,
    until: datetime,
    now: datetime,
    is_dead: Callable[[str], bool],
) -> tuple[bool, str | None]:
    """Hold (or renew) the named lease if it is free, ours, expired, or its holder is dead.
    Returns whether we hold it, and the holder we took it over from (if any)."""
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert_fn(LEASES)
        .values(name=name, owner=owner, expires_at=until)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    query = select(LEASES.c.owner, LEASES.c.expires_at).where(LEASES.c.name == name)
    if dialect == "postgresql":
        query = query.with_for_update()
    holder, expires_at = (await session.execute(query)).one()
    if holder != owner and expires_at >= now and not is_dead(holder):
        return False, None
    await session.execute(update(LEASES).where(LEASES.c.name == name).values(owner=owner, expires_at=until))
    return True, (holder if holder != owner else None)


async def drop_lease(session: AsyncSession, *, name: str, owner: str) -> None:
    await session.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.owner == owner))


class Leadership:
    """Holds the lease while it can; calls `on_gain` / `on_lose` when that changes."""

    def __init__(
        self,
        database: Database,
        *,
        owner: str,
        seconds: float,
        poll_seconds: float,
        on_gain: Callable[[str | None], None],
        on_lose: Callable[[], None],
    ) -> None:
        self.database, self.owner, self.seconds, self.poll_seconds = database, owner, seconds, poll_seconds
        self.on_gain, self.on_lose = on_gain, on_lose
        self.held = False

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            now = utcnow()
            try:
                async with self.database.transaction() as session:
                    held, previous = await take_lease(
                        session,
                        dialect=self.database.dialect,
                        name=NAME,
                        owner=self.owner,
                        until=now + timedelta(seconds=self.seconds),
                        now=now,
                        is_dead=is_dead,
                    )
            except Exception:
                logger.exception("dispatcher %s: could not renew its lease", self.owner)
                held, previous = self.held, None
            if held and not self.held:
                logger.info("dispatcher %s now dispatches (took over from %s)", self.owner, previous)
                self.held = True
                self.on_gain(previous)
            elif not held and self.held:
                logger.warning("dispatcher %s lost its lease; another process dispatches", self.owner)
                self.held = False
                self.on_lose()
            await asyncio.sleep(self.seconds / 3 if held else min(self.seconds / 3, 2 * self.poll_seconds))

    async def release(self) -> None:
        if not self.held:
            return
        try:
            async with self.database.transaction() as session:
                await drop_lease(session, name=NAME, owner=self.owner)
        except Exception:
            logger.exception("dispatcher %s: could not drop its lease", self.owner)
        self.held = False
