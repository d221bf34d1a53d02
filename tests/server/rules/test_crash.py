"""A scheduler process (`quire worker`) killed with SIGKILL, again and again, while records keep
arriving — several times right after it logged that a window started, so inside the run's
transaction, once after a first window committed. After the last restart every record has been
sent exactly once, in one window, and the windows of the logs follow each other without gap or
overlap."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from quire.server.settings import Settings
from tests.conftest import Api
from tests.server.rules.helpers import (
    RuleReceiver,
    create_rule,
    rules_dataset,
    run_logs,
    texts,
    upsert,
    webhook_secret,
)

KILLS = 4


class Worker:
    """`quire worker` in a child process, its rule log lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: list[str] = []
        self.windows_started = 0
        self._started = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "quire.cli", "worker", "--log-level", "debug",
            env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Drain stderr (debug logging quotes whole payloads: lines can be huge), keep rule lines."""
        assert self.process is not None and self.process.stderr is not None
        pending = b""
        while chunk := await self.process.stderr.read(1 << 16):
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                if b"quire.rules" in raw[:200]:
                    line = raw.decode(errors="replace")
                    self.lines.append(line)
                    if "running" in line:
                        self.windows_started += 1
                        self._started.set()

    async def window_started(self, count: int) -> None:
        """Until it has logged the start of its `count`-th window."""
        while self.windows_started < count:
            self._started.clear()
            await self._started.wait()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        assert self._reader is not None
        await self._reader

    async def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 30)
        assert self._reader is not None
        await self._reader

    def killed_mid_window(self) -> bool:
        """The last window it started was not committed."""
        started = [line for line in self.lines if "running" in line]
        if not started:
            return False
        window = started[-1].split("window [", 1)[1].split(",", 1)[0]
        return not any("committed" in line and f"[{window}," in line for line in self.lines)


@pytest.mark.slow
@pytest.mark.rule_settings(delivery_enabled=False, rules_enabled=False)
async def test_sigkill_mid_window_loses_nothing(
    api: Api, receiver: RuleReceiver, settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": settings.resolved_database_url,
        "QUIRE_HOME": str(tmp_path / "worker"),
        "QUIRE_RULES_POLL_SECONDS": "0.05",
        "QUIRE_RULES_SETTLE_SECONDS": "0",
        "QUIRE_DELIVERY_SCHEDULE_SCALE": "0.001",
        "QUIRE_DELIVERY_TIMEOUT_SCALE": "1",
        "QUIRE_DELIVERY_POLL_SECONDS": "0.2",
        "QUIRE_DELIVERY_LEASE_SECONDS": "2",
    }
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"), interval_seconds=1)
    receiver.secrets.append(webhook_secret(rule))
    created: list[str] = []
    writing = True

    async def writer() -> None:
        batch = 0
        while writing:
            created.extend(r["id"] for r in await upsert(api, dataset["id"], texts(10, prefix=f"w{batch}-")))
            batch += 1
            await asyncio.sleep(0.05)

    rng = random.Random(5)
    write_task = asyncio.create_task(writer())
    mid_window = 0
    try:
        for kill in range(KILLS):
            worker = Worker(env)
            await worker.start()
            if kill == KILLS - 1:  # once anywhere: while starting, sending, idle
                await asyncio.sleep(rng.uniform(1.0, 2.5))
            else:  # right after a window started: inside its transaction; once after one committed
                await asyncio.wait_for(worker.window_started(2 if kill == 1 else 1), 60)
            await worker.kill()
            mid_window += worker.killed_mid_window()
        writing = False
        await write_task
        last = Worker(env)
        await last.start()
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # until a window past the last write has run and every batch has arrived
            logs = await run_logs(api, rule["id"])
            batches = sum(a.get("batches", 0) for r in logs for a in r["actions"])
            pending = sum(a.get("pending", 0) for r in logs for a in r["actions"])
            sent = {r["id"] for body in receiver.payloads() for r in body["runs"]}
            if logs and pending == 0 and len(set(receiver.msg_ids())) >= batches and set(created) <= sent:
                break
            assert asyncio.get_running_loop().time() < deadline, (len(set(created) - sent), pending)
            await asyncio.sleep(0.2)
        await last.stop()
    finally:
        writing = False
        if not write_task.done():
            write_task.cancel()

    runs = sorted(logs, key=lambda r: r["id"])
    assert all(r["error"] is None for r in runs)
    assert runs[0]["start_time"] == rule["next_window_start"]
    for before, after in itertools.pairwise(runs):
        assert after["start_time"] == before["end_time"], "a gap or an overlap between windows"
    per_record: Counter[str] = Counter(r["id"] for body in receiver.payloads() for r in body["runs"])
    missed = set(created) - set(per_record)
    report: dict[str, Any] = {
        "kills": KILLS, "killed mid-window": mid_window, "records": len(created),
        "windows": len(runs), "missed": len(missed), "sent twice": sum(1 for n in per_record.values() if n > 1),
    }  # fmt: skip
    print(f"\nSIGKILL run: {report}")
    assert not missed, report
    assert max(per_record.values()) == 1, report
    assert mid_window >= 2, report
    assert len(runs) >= 2, report  # a window committed before a kill, the next ones followed it
