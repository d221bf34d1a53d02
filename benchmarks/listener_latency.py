"""Listener latency: how soon after a committed change an SDK listener's function runs.

    .venv/bin/python -m benchmarks.listener_latency                   # 200 events, polling every 1 s
    .venv/bin/python -m benchmarks.listener_latency --events 100 --polling-events 20 --interval 2
    .venv/bin/python -m benchmarks.listener_latency --database-url postgresql://postgres@127.0.0.1:5432/postgres

What happens:

1. One `quire server` subprocess starts (SQLite in a fresh `QUIRE_HOME`, or a scratch PostgreSQL
   database), with `benchmarks.ingest.run_server`; a dataset (a text field, a label question, one
   submitted response completes a record) gets `--events + --polling-events` records.
2. **`on=` listener**: `@rg.listener(dataset=…, on="record.completed")` is started (it follows the
   server's event stream and, per event, fetches the event's record before calling the function,
   as a listener with `query_records=True` does). Then, one record at a time, the benchmark
   submits a response through the SDK (`records.log` of a `Response(status="submitted")`), which
   completes the record, and waits until the function has been called with that record before the
   next one (plus a short random pause).
   **Latency** = the moment the function is called − the moment the submitting request returned
   (the change is committed by then). Also printed: from the moment the request was sent.
3. **Polling listener**: `@rg.listener(dataset=…, query="status:completed",
   execution_interval_in_seconds=--interval)`, which sees a record at its first run after the
   commit. Same submissions, one at a time, at random phases of the schedule. The latency is
   printed in seconds and as a fraction of the interval.

Targets: `on=` p95 < 500 ms; polling: every change seen within one interval (plus one run's time).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import quire as rg
from benchmarks.ingest import run_server, scratch_database

ON_TARGET_P95 = 0.5
WAIT_SECONDS = 30.0


@dataclass
class Calls:
    """When the listener's function saw each record id (monotonic seconds)."""

    seen: dict[str, float] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, ids: list[str]) -> None:
        now = time.monotonic()
        with self.arrived:
            for record_id in ids:
                self.seen.setdefault(record_id, now)
            self.arrived.notify_all()

    def wait(self, record_id: str) -> float:
        with self.arrived:
            if not self.arrived.wait_for(lambda: record_id in self.seen, WAIT_SECONDS):
                raise RuntimeError(f"the listener did not see {record_id} within {WAIT_SECONDS:g}s")
            return self.seen[record_id]


@dataclass
class Samples:
    from_commit: list[float] = field(default_factory=list)
    from_send: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def submit_and_wait(
    dataset: rg.Dataset, user_id: Any, record_id: str, calls: Calls, samples: Samples
) -> None:
    response = rg.Response(
        "label", random.choice(["positive", "negative"]), user_id=user_id, status="submitted"
    )
    sent = time.monotonic()
    dataset.records.log([rg.Record(id=record_id, responses=[response])], show_progress=False)
    committed = time.monotonic()
    called = calls.wait(record_id)
    samples.from_commit.append(max(0.0, called - committed))
    samples.from_send.append(called - sent)


def measure_on(dataset: rg.Dataset, ids: list[str], user_id: Any) -> Samples:
    calls = Calls()

    @rg.listener(
        dataset=dataset.name, workspace=dataset.workspace.name, on="record.completed", client=dataset.client
    )
    def completed(records: list[rg.Record], ctx: Any) -> None:
        calls.record([str(r.id) for r in records])

    samples = Samples()
    completed.start()
    try:
        for record_id in ids:
            submit_and_wait(dataset, user_id, record_id, calls, samples)
            time.sleep(random.uniform(0.0, 0.05))
    finally:
        completed.stop()
    if completed.failures:
        raise RuntimeError(f"the on= listener failed {completed.failures} time(s): {completed.last_error!r}")
    return samples


def measure_polling(dataset: rg.Dataset, ids: list[str], user_id: Any, interval: float) -> Samples:
    calls = Calls()

    @rg.listener(
        dataset=dataset.name,
        workspace=dataset.workspace.name,
        query="status:completed",
        execution_interval_in_seconds=interval,
        client=dataset.client,
    )
    def completed(records: list[rg.Record], ctx: Any) -> None:
        calls.record([str(r.id) for r in records])

    samples = Samples()
    completed.start()
    try:
        for record_id in ids:
            time.sleep(random.uniform(0.0, interval))  # a random phase of the schedule
            submit_and_wait(dataset, user_id, record_id, calls, samples)
    finally:
        completed.stop()
    return samples


def line(name: str, values: list[float], unit: float = 1.0, suffix: str = "ms", scale: float = 1000.0) -> str:
    p50, p95, top = (percentile(values, 50), percentile(values, 95), max(values))
    return (
        f"  {name:<28} p50 {p50 / unit * scale:7.1f} {suffix}   p95 {p95 / unit * scale:7.1f} {suffix}   "
        f"max {top / unit * scale:7.1f} {suffix}   (n={len(values)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200, help="changes measured with the on= listener")
    parser.add_argument(
        "--polling-events", type=int, default=20, help="changes measured with the polling one"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="the polling listener's interval (s)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL admin URL (default: SQLite)")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="quire-bench-listener-"))
    try:
        with (
            scratch_database(args.database_url, home) as database_url,
            run_server(home, database_url) as server,
        ):
            client = rg.Quire(api_url=server.base_url, api_key=server.api_key)
            settings = rg.Settings(
                fields=[rg.TextField(name="text")],
                questions=[rg.LabelQuestion(name="label", labels=["positive", "negative"])],
            )
            dataset = rg.Dataset(name="listener-latency", settings=settings, client=client).create()
            total = args.events + args.polling_events
            ids = [f"r{i}" for i in range(total)]
            dataset.records.log([{"id": i, "text": f"record {i}"} for i in ids], show_progress=False)
            user_id = client.me.id
            backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
            print(
                f"listener latency — {backend}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
            )

            on = measure_on(dataset, ids[: args.events], user_id)
            polling = measure_polling(dataset, ids[args.events :], user_id, args.interval)

            print("on='record.completed' (event stream):")
            print(line("committed -> function call", on.from_commit))
            print(line("request sent -> function call", on.from_send))
            p95 = percentile(on.from_commit, 95)
            verdict = "OK" if p95 < ON_TARGET_P95 else "MISSED"
            print(f"  target p95 < {ON_TARGET_P95 * 1000:.0f} ms: {verdict} ({p95 * 1000:.1f} ms)")
            print(f"polling every {args.interval:g} s (query='status:completed'):")
            print(line("committed -> function call", polling.from_commit))
            print(
                line(
                    "as a fraction of the interval",
                    polling.from_commit,
                    unit=args.interval,
                    suffix="",
                    scale=1.0,
                )
            )
            worst = max(polling.from_commit) / args.interval
            print(
                f"  target: within one interval (+ one run): {'OK' if worst <= 1.5 else 'MISSED'} (max {worst:.2f})"
            )
            print(f"load average at the end {os.getloadavg()[0]:.2f}")
            client.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
