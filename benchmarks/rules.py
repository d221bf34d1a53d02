"""Rules benchmark: the cost of one run with the same number of changes in its window, on a small and
a large dataset (it should not grow with the dataset), and how many matched records a run gets
through per second.

    .venv/bin/python -m benchmarks.rules                           # SQLite, 10,000 vs 200,000 records
    .venv/bin/python -m benchmarks.rules --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m benchmarks.rules --sizes 10000,50000 --changes 1000 --rounds 3

What happens: every size is set up first (steps 1–2), then the sizes take turns for the rounds
(step 3; in alternating order), so that all of them see the same machine load.

1. For each size, a fresh store (SQLite file in a temporary directory, or a scratch PostgreSQL database) gets a
   published dataset (one text field; label, rating and text questions; `lang` and `n` metadata)
   and `size` records written by the bulk path, a third of them with a submitted response (rating)
   from an annotator. Then the store is settled as a store that has been running would be: SQLite's
   write-ahead log checkpointed into the database file, PostgreSQL's tables vacuumed and analyzed
   (autovacuum's job) and a checkpoint taken, so that the seeding's aftermath is not billed to the
   windows.
2. A rule (`--filter`, default `metadata.lang:en AND responses.rating.value:[1 TO 3]`, rate 1,
   one webhook action; no dispatcher runs, the batches stay queued) is created and run once, so
   its next window starts after the seed data.
3. Each round: `--changes` changes land in the window — half record updates (metadata), half new
   responses by another user (through `/me/responses/bulk`), on records picked at random — then the
   rule runs (`runner.run_rule`, the code the scheduler and `POST /rules/{id}/trigger` call) and
   its wall time is taken. The median over `--rounds` rounds of a size is its window cost. The process CPU
   time of the runs is printed beside it (on SQLite it includes the database's work, and a loaded
   machine disturbs it less than wall time).
4. Throughput: a second rule with an empty filter, backfilled from before the seed data, runs once
   with at most `--throughput` changes per run (its window is cut there): matched records per
   second of run time (loading, payload building, batching and queueing included).

The figure we hold ourselves to: window cost at the largest size / at the smallest ≤ 1.5.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy import select
from sqlalchemy.engine import make_url

from quire.server.app import create_app
from quire.server.bootstrap import ensure_owner
from quire.server.datasets.service import get_dataset
from quire.server.db import Database
from quire.server.migrate import migrate
from quire.server.models import Record, RuleRun, utcnow
from quire.server.records.bulk import write_records
from quire.server.records.schemas import RecordUpsertIn, ResponseIn
from quire.server.rules import runner
from quire.server.settings import Settings

OWNER_KEY = "owner.apikey.for.benchmarks"
ANNOTATOR_KEY = "annotator.apikey.for.benchmarks"
TEXT = "The quick brown fox jumps over the lazy dog. " * 4
SEED_BATCH = 2000


class Store:
    """A fresh SQLite file, or a scratch database on the PostgreSQL server of `database_url`."""

    def __init__(self, database_url: str | None, directory: Path) -> None:
        self.admin_url = database_url
        self.directory = directory
        self.scratch = f"quire_bench_rules_{uuid.uuid4().hex[:8]}"

    async def __aenter__(self) -> str:
        if self.admin_url is None:
            return f"sqlite:///{self.directory / (self.scratch + '.db')}"
        await self._admin(f'CREATE DATABASE "{self.scratch}"')
        return make_url(self.admin_url).set(database=self.scratch).render_as_string(hide_password=False)

    async def __aexit__(self, *exc: object) -> None:
        if self.admin_url is not None:
            await self._admin(f'DROP DATABASE IF EXISTS "{self.scratch}" WITH (FORCE)')

    async def _admin(self, statement: str) -> None:
        assert self.admin_url is not None
        url = make_url(self.admin_url)
        conn = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=url.database or "postgres",
        )
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


async def _ok(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    response = await client.request(method, url, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {url} -> {response.status_code}: {response.text}")
    return response.json() if response.content else None


async def _dataset(client: httpx.AsyncClient) -> str:
    workspaces = (await _ok(client, "GET", "/api/v1/me/workspaces"))["items"]
    workspace = next(w for w in workspaces if w["name"] == "default")
    dataset = await _ok(
        client, "POST", "/api/v1/datasets", json={"name": "bench", "workspace_id": workspace["id"]}
    )
    base = f"/api/v1/datasets/{dataset['id']}"
    await _ok(
        client,
        "POST",
        f"{base}/fields",
        json={"name": "text", "title": "text", "required": True, "settings": {"type": "text"}},
    )
    questions = {
        "label": {
            "type": "label_selection",
            "options": [{"value": "pos", "text": "pos"}, {"value": "neg", "text": "neg"}],
        },
        "rating": {"type": "rating", "options": [{"value": v} for v in range(1, 6)]},
        "comment": {"type": "text", "use_markdown": False},
    }
    for name, settings in questions.items():
        body = {"name": name, "title": name, "required": name == "label", "settings": settings}
        await _ok(client, "POST", f"{base}/questions", json=body)
    metadata = {"lang": {"type": "terms", "values": ["en", "es", "fr"]}, "n": {"type": "integer"}}
    for name, settings in metadata.items():
        await _ok(
            client,
            "POST",
            f"{base}/metadata-properties",
            json={"name": name, "title": name, "settings": settings},
        )
    await _ok(client, "PUT", f"{base}/publish")
    return str(dataset["id"])


async def _seed(database: Database, dataset_id: uuid.UUID, annotator_id: uuid.UUID, size: int) -> None:
    langs = ("en", "es", "fr")
    for start in range(0, size, SEED_BATCH):
        items = []
        for i in range(start, min(size, start + SEED_BATCH)):
            responses = None
            if i % 3 == 0:
                values = {"label": {"value": "pos"}, "rating": {"value": 1 + i % 5}}
                responses = [ResponseIn(user_id=annotator_id, status="submitted", values=values)]
            items.append(
                RecordUpsertIn(
                    external_id=f"r{i}",
                    fields={"text": f"{TEXT} {i}"},
                    metadata={"lang": langs[i % 3], "n": i},
                    responses=responses,
                )
            )
        async with database.transaction() as session:
            dataset = await get_dataset(session, dataset_id, with_settings=True)
            await write_records(session, dataset=dataset, items=items, dialect=database.dialect)


async def _settle(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        with contextlib.closing(sqlite3.connect(parsed.database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    conn = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database,
    )
    try:
        await conn.execute("VACUUM ANALYZE")
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # superusers, pg_checkpoint
            await conn.execute("CHECKPOINT")  # the seeding's dirty pages written now, not mid-round
    finally:
        await conn.close()


async def _changes(
    client: httpx.AsyncClient, dataset_id: str, record_ids: list[str], count: int, rng: random.Random
) -> None:
    """`count` changes: half metadata updates, half responses by the owner, on random records."""
    picked = rng.sample(range(len(record_ids)), count)
    updates, answers = picked[: count // 2], picked[count // 2 :]
    items = [
        {"id": record_ids[i], "metadata": {"lang": "en", "n": rng.randrange(1_000_000)}} for i in updates
    ]
    for start in range(0, len(items), 500):
        await _ok(
            client,
            "PUT",
            f"/api/v1/datasets/{dataset_id}/records/bulk",
            json={"items": items[start : start + 500]},
        )
    responses = [
        {
            "record_id": record_ids[i],
            "status": "submitted",
            "values": {"label": {"value": "neg"}, "rating": {"value": rng.randint(1, 5)}},
        }
        for i in answers
    ]
    for start in range(0, len(responses), 100):
        await _ok(client, "POST", "/api/v1/me/responses/bulk", json={"items": responses[start : start + 100]})


async def _run(database: Database, settings: Settings, rule_id: uuid.UUID) -> tuple[float, float, RuleRun]:
    """Wall and process CPU seconds of one run, and its log."""
    began, cpu = time.perf_counter(), time.process_time()
    result = await runner.run_rule(database, settings, rule_id, trigger="manual")
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    assert result is not None
    async with database.session(write=False) as session:
        run = await session.get(RuleRun, result.run_id)
    assert run is not None and run.error is None, run.error if run else "no run"
    return seconds, cpu, run


@dataclass
class Bench:
    """One size, set up: its store, app, dataset, rule, and what its rounds measured."""

    size: int
    database: Database
    settings: Settings
    client: httpx.AsyncClient
    dataset_id: str
    record_ids: list[str]
    rule_id: uuid.UUID
    seed_started: datetime
    seed_seconds: float
    rng: random.Random
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    matched: list[int] = field(default_factory=list)
    throughput: tuple[int, float, float] | None = None


WEBHOOK = [{"type": "webhook", "url": "http://127.0.0.1:9/rules"}]


async def prepare(stack: AsyncExitStack, args: argparse.Namespace, size: int, directory: Path) -> Bench:
    """A store of `size` records with the rule, kept open on `stack`; the rule has run once, so its
    next window starts after the seed data."""
    await asyncio.to_thread(directory.mkdir)
    url = await stack.enter_async_context(Store(args.database_url, directory))
    settings = Settings(
        home=directory,
        database_url=url,
        owner_username="owner",
        owner_api_key=OWNER_KEY,
        delivery_enabled=False,
        rules_enabled=False,
        rules_settle_seconds=0.0,
    )
    bootstrap = Database(url)
    await migrate(bootstrap)
    await ensure_owner(bootstrap, settings)
    await bootstrap.dispose()
    app = create_app(settings)
    await stack.enter_async_context(app.router.lifespan_context(app))
    database: Database = app.state.database
    client = await stack.enter_async_context(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"X-Argilla-Api-Key": OWNER_KEY},
            timeout=600,
        )
    )
    dataset_id = await _dataset(client)
    annotator = await _ok(
        client,
        "POST",
        "/api/v1/users",
        json={"username": "annotator", "first_name": "a", "password": "secret-password", "role": "annotator"},
    )
    seed_started = utcnow() - timedelta(seconds=1)
    began = time.perf_counter()
    await _seed(database, uuid.UUID(dataset_id), uuid.UUID(annotator["id"]), size)
    await _settle(url)
    seeded = time.perf_counter() - began
    async with database.session(write=False) as session:
        record_ids = [
            str(i)
            for i in await session.scalars(
                select(Record.id).where(Record.dataset_id == uuid.UUID(dataset_id))
            )
        ]
    body = {"name": "bench", "dataset_id": dataset_id, "filter": args.filter, "actions": WEBHOOK}
    rule_id = uuid.UUID((await _ok(client, "POST", "/api/v1/rules", json=body))["id"])
    await _run(database, settings, rule_id)
    return Bench(
        size,
        database,
        settings,
        client,
        dataset_id,
        record_ids,
        rule_id,
        seed_started,
        seeded,
        random.Random(size),
    )


async def one_round(bench: Bench, changes: int) -> None:
    await _changes(bench.client, bench.dataset_id, bench.record_ids, changes, bench.rng)
    elapsed, used, run = await _run(bench.database, bench.settings, bench.rule_id)
    assert run.changed == changes, (run.changed, changes)
    bench.seconds.append(elapsed)
    bench.cpu.append(used)
    bench.matched.append(run.matched)


async def throughput(bench: Bench, limit: int) -> None:
    """One run of an unfiltered rule backfilled over the seed data, cut at `limit` changes."""
    body = {
        "name": "all",
        "dataset_id": bench.dataset_id,
        "actions": WEBHOOK,
        "enabled": False,
        "backfill_from": bench.seed_started.isoformat(),
    }
    rule = await _ok(bench.client, "POST", "/api/v1/rules", json=body)
    settings = bench.settings.model_copy(update={"rules_max_changes_per_run": limit})
    elapsed, _cpu, run = await _run(bench.database, settings, uuid.UUID(rule["id"]))
    bench.throughput = (run.matched, elapsed, run.matched / elapsed)


async def main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"rules benchmark on {backend}: filter {args.filter!r}, {args.changes} changes per window, "
        f"{args.rounds} rounds per size, interleaved"
    )
    with tempfile.TemporaryDirectory(prefix="quire-bench-rules-") as tmp:
        async with AsyncExitStack() as stack:
            benches = [await prepare(stack, args, size, Path(tmp) / str(size)) for size in sizes]
            # sizes take turns (in alternating order), so that both see the same machine load
            for index in range(args.rounds):
                for bench in benches if index % 2 == 0 else benches[::-1]:
                    await one_round(bench, args.changes)
            if args.throughput:
                for bench in benches:
                    if bench.size >= args.throughput:
                        await throughput(bench, args.throughput)
    for bench in benches:
        rounds = ", ".join(f"{s * 1000:.0f}" for s in bench.seconds)
        print(
            f"  {bench.size:>8,} records (seeded in {bench.seed_seconds:.1f} s): window cost median "
            f"{statistics.median(bench.seconds) * 1000:.1f} ms (rounds: {rounds} ms; CPU median "
            f"{statistics.median(bench.cpu) * 1000:.1f} ms), {statistics.median(bench.matched):.0f} matched per window"
        )
        if bench.throughput:
            matched, elapsed, rate = bench.throughput
            print(
                f"  {'':>8}  one run over {matched:,} matched records: {elapsed:.2f} s = {rate:,.0f} matched records/s"
            )
    small, large = benches[0], benches[-1]
    ratio = statistics.median(large.seconds) / statistics.median(small.seconds)
    cpu_ratio = statistics.median(large.cpu) / statistics.median(small.cpu)
    verdict = "ok" if ratio <= 1.5 else "ABOVE TARGET"
    print(
        f"window-cost ratio {large.size:,} / {small.size:,} records: {ratio:.2f} (target <= 1.5: {verdict}); "
        f"CPU ratio {cpu_ratio:.2f}"
    )
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,200000", help="dataset sizes, smallest first")
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--filter", default="metadata.lang:en AND responses.rating.value:[1 TO 3]")
    parser.add_argument(
        "--throughput", type=int, default=10_000, help="records in the throughput window (0: skip)"
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL admin URL (default: SQLite)")
    asyncio.run(main(parser.parse_args()))
