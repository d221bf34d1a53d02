"""WAL checkpoints for a process's SQLite database, on a thread and a connection of their own.

Write transactions commit on the event loop's thread (`sqlite_driver`): a commit appends the
transaction's pages to the WAL and returns. SQLite's automatic checkpoint would run inside such a
commit whenever the WAL passes its threshold, copying the WAL into the database file and syncing
it (up to hundreds of milliseconds with every request waiting), so `db.Database` turns it off on
its connections and runs them here instead: after a commit, at most one checkpoint at a time and
no more often than every `interval` seconds, `PRAGMA wal_checkpoint(PASSIVE)` on this connection.
A passive checkpoint takes no lock that writers or readers wait for; it copies what it can, and
the next writer starts the WAL over once all of it was copied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("quire.sqlite")

CHECKPOINT_INTERVAL_SECONDS = 1.0


class Checkpointer:
    def __init__(self, path: str, *, interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quire-checkpoint")
        self._connection: sqlite3.Connection | None = None  # used on the executor's thread only
        self._running: Future[None] | None = None
        self._last = time.monotonic()
        self._pending = False  # a commit since the running checkpoint started
        self._closed = False

    def committed(self) -> None:
        """After a commit: start a checkpoint if none runs and the last one is old enough."""
        self._pending = True
        if self._running is None and not self._closed and time.monotonic() - self._last >= self.interval:
            self._start()

    def _start(self) -> None:
        self._pending = False
        self._running = self._executor.submit(self._checkpoint)
        self._running.add_done_callback(self._finished)

    def _checkpoint(self) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, isolation_level=None)
            self._connection.execute("PRAGMA busy_timeout = 5000")
        self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _finished(self, done: Future[None]) -> None:  # on the executor's thread
        self._last = time.monotonic()
        self._running = None
        if (error := done.exception()) is not None:
            log.warning("WAL checkpoint of %s failed: %s", self.path, error)
        else:
            self.checkpoints += 1

    async def close(self) -> None:
        """Wait for a running checkpoint, run a last one if something was committed since, and
        close the connection. Closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        running = self._running
        if running is not None:
            with contextlib.suppress(Exception):  # logged by `_finished`
                await asyncio.wrap_future(running, loop=loop)
        if self._pending:
            self._pending = False
            await loop.run_in_executor(self._executor, self._checkpoint)
        await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
