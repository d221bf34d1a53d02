"""Waking open streams when this process commits events.

`Database.commit` calls its `outbox_listeners` after a transaction that queued deliveries commits;
each open stream waits on its own `asyncio.Event`, set by that call. Commits in other processes, and
transactions that stored events for streams only, are picked up by the streams' short poll instead.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from quire.server.db import Database


class Wakeup:
    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            self._waiters.discard(waiter)


_by_database: weakref.WeakKeyDictionary[Database, Wakeup] = weakref.WeakKeyDictionary()


def wakeup_for(database: Database) -> Wakeup:
    """The database's wakeup, hooked into its commit on first use."""
    found = _by_database.get(database)
    if found is None:
        found = _by_database[database] = Wakeup()
        database.outbox_listeners.append(found.notify)
    return found


async def wait(waiter: asyncio.Event, seconds: float) -> None:
    """Until notified or `seconds` pass; clears the waiter for next time."""
    with suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await waiter.wait()
    waiter.clear()
