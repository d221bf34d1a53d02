"""Delivery benchmark: quire's dispatcher beside a bare aiohttp client, same payloads, same receivers,
same run — throughput to 1 and to 10 receivers, then commit-to-receipt latency at a steady rate.

    .venv/bin/python -m benchmarks.delivery                    # SQLite, 5,000 events, 1 and 10 receivers
    .venv/bin/python -m benchmarks.delivery --events 20000 --receivers 1
    .venv/bin/python -m benchmarks.delivery --database-url postgresql://postgres@127.0.0.1:5432/postgres

What happens:

1. The receivers run in their own process: one aiohttp app listening on 10 loopback ports (each
   port is a receiver, with its own webhook), answering `200 ok` and noting when each request
   arrived (`time.time()`, the same clock as the sender's).
2. A fresh store (SQLite file in a temporary directory, or a scratch PostgreSQL database) gets
   `--events` `record.created` events of ~2 KB each, published through the outbox
   (`events.outbox.publish`, batches of 500) before the clock starts; with R receivers, R webhooks
   subscribe, so each event is R deliveries.
3. **Bare client** (the ceiling): one `aiohttp.ClientSession` signs (`delivery.signing.headers`)
   and POSTs the same bodies (as `events.assemble.load_bodies` renders them) with the same
   `webhook-id`s to the same receivers, `--concurrency` requests in flight per receiver. Nothing is
   read from or written to a database.
4. **quire**: a `Dispatcher` (concurrency per webhook = `--concurrency`) drains the queued
   deliveries: claims, loads bodies, signs, POSTs, records every attempt and result. The clock
   stops when the receivers have them all. Steps 2–4 repeat `--trials` times, alternating; the
   ratio is the best quire figure over the best bare one (the machine is shared: the best run is
   the least disturbed), and beside it the median of each trial's own ratio (a quire run and the
   bare run just before it see about the same load). Both run in this process, whose garbage
   collector is set up as `quire server` and `quire worker` set up theirs
   (`gc_tuning.tune_for_service`).
5. **Latency** (one receiver): `--rate` events/s for `--seconds` s, each in its own transaction
   as API requests write them, open loop (event n starts at n/rate s whether or not the previous
   ones have committed, so several writers are at work when commits are slow). `--publisher`:
   `process` commits them from a process of its own (the default on PostgreSQL, where its
   `NOTIFY` wakes the dispatcher; on SQLite a datagram after each commit stands in for the
   in-process wake-up), `inline` from the dispatcher's process, woken by `Database.commit` as in
   `quire server` (the default on SQLite: two processes writing one SQLite file wait on each
   other's locks in SQLite's busy handler, which sleeps). An event's latency is from its commit
   to its arrival. Beside it, the bare client at the same rate: from the moment it starts signing
   to the arrival.

The figures we hold ourselves to: quire ≥ 50% of the bare client's deliveries/s; p99
commit-to-receipt < 100 ms at 200 events/s to one receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import orjson
from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url

from quire.server.db import Database
from quire.server.delivery.dispatcher import Dispatcher
from quire.server.delivery.signing import generate_secret, headers
from quire.server.events.assemble import load_bodies
from quire.server.events.outbox import NewEvent, publish
from quire.server.gc_tuning import tune_for_service
from quire.server.migrate import migrate
from quire.server.models import Delivery, Webhook
from quire.server.settings import Settings

TEXT = "The quick brown fox jumps over the lazy dog. " * 40  # ~1,800 characters: a ~2 KB body
MAX_RECEIVERS = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _receiver(ports: list[int]) -> None:
    arrivals: dict[str, float] = {}
    waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        if request.query.get("record") == "1":
            arrivals[str(orjson.loads(body)["data"]["seq"])] = now
        else:
            arrivals[request.headers.get("webhook-id", "")] = now
        if waiters:
            for target, waiter in [w for w in waiters if w[0] <= len(arrivals)]:
                waiters.remove((target, waiter))
                if not waiter.done():
                    waiter.set_result(None)
        return web.Response(text="ok")

    async def count(_request: web.Request) -> web.Response:
        return web.Response(text=str(len(arrivals)))

    async def wait(request: web.Request) -> web.Response:
        """Answers once `count` distinct messages have arrived: one request instead of polling
        `/count`, whose handling would cost the benchmarked process CPU while it works."""
        target = int(request.query["count"])
        if len(arrivals) < target:
            waiter = asyncio.get_running_loop().create_future()
            waiters.append((target, waiter))
            await waiter
        return web.Response(text=str(len(arrivals)))

    async def stats(_request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(arrivals), content_type="application/json")

    async def reset(_request: web.Request) -> web.Response:
        arrivals.clear()
        return web.Response(text="ok")

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/count", count)
        app.router.add_get("/wait", wait)
        app.router.add_get("/stats", stats)
        app.router.add_post("/reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


class Store:
    def __init__(self, database_url: str | None) -> None:
        self.admin_url = database_url
        self.scratch = f"quire_bench_{uuid.uuid4().hex[:8]}"
        self.tmp = tempfile.TemporaryDirectory()

    async def __aenter__(self) -> str:
        if self.admin_url is None:
            return f"sqlite:///{Path(self.tmp.name) / 'bench.db'}"
        await self._admin(f'CREATE DATABASE "{self.scratch}"')
        return make_url(self.admin_url).set(database=self.scratch).render_as_string(hide_password=False)

    async def __aexit__(self, *exc: object) -> None:
        if self.admin_url is not None:
            await self._admin(f'DROP DATABASE IF EXISTS "{self.scratch}" WITH (FORCE)')
        self.tmp.cleanup()

    async def _admin(self, statement: str) -> None:
        assert self.admin_url is not None
        conn = await asyncpg.connect(
            make_url(self.admin_url).set(drivername="postgresql").render_as_string(False)
        )
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


def _event(seq: int) -> NewEvent:
    return NewEvent(
        "record.created",
        {
            "id": str(uuid.uuid4()),
            "status": "pending",
            "fields": {"text": TEXT},
            "metadata": {"n": seq},
            "seq": seq,
        },
    )


async def _publish_backlog(database: Database, events: int, *, start: int = 0) -> None:
    for first in range(start, start + events, 500):
        async with database.transaction() as session:
            await publish(session, [_event(seq) for seq in range(first, min(start + events, first + 500))])


async def _wait_count(http: aiohttp.ClientSession, base: str, target: int, within: float = 900) -> None:
    try:
        async with http.get(
            f"{base}/wait", params={"count": str(target)}, timeout=aiohttp.ClientTimeout(total=within)
        ) as response:
            await response.read()
    except TimeoutError:
        raise RuntimeError("the receivers did not get every delivery") from None


@dataclass(frozen=True)
class Message:
    url: str
    secret: str
    msg_id: str
    body: bytes


async def _bare(messages: Sequence[Message], in_flight: int) -> float:
    """Sign and POST every message, `in_flight` at a time; returns the seconds it took."""
    pending = iter(messages)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            for message in pending:
                signed = headers([message.secret], message.msg_id, int(time.time()), message.body)
                async with http.post(
                    message.url, data=message.body, headers=signed, allow_redirects=False
                ) as response:
                    await response.content.read(1024)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - began


async def _reset(http: aiohttp.ClientSession, base: str) -> None:
    async with http.post(f"{base}/reset"):
        pass


async def _webhooks(database: Database, urls: Sequence[str]) -> list[Webhook]:
    async with database.transaction() as session:
        await session.execute(delete(Webhook))
        hooks = [
            Webhook(
                id=uuid.uuid4(),
                url=url,
                secret=generate_secret(),
                events=["record.created"],
                enabled=True,
                policy="argilla",
                kind="events",
                consecutive_failures=0,
            )
            for url in urls
        ]
        session.add_all(hooks)
    return hooks


async def _throughput(
    database: Database,
    http: aiohttp.ClientSession,
    base: str,
    ports: Sequence[int],
    settings: Settings,
    args: argparse.Namespace,
) -> dict[str, Any]:
    hooks = {h.id: h for h in await _webhooks(database, [f"http://127.0.0.1:{p}/hook" for p in ports])}
    bare_rates, quire_rates, bare_cpu, quire_cpu = [], [], [], []
    size = 0.0
    for trial in range(args.trials):
        await _publish_backlog(database, args.events, start=trial * args.events)
        async with database.session(write=False) as session:
            rows = (
                await session.execute(
                    select(Delivery.msg_id, Delivery.event_id, Delivery.webhook_id).where(
                        Delivery.status == "pending"
                    )
                )
            ).all()
            rendered = await load_bodies(session, list({r.event_id for r in rows}))
        messages = [
            Message(hooks[r.webhook_id].url, hooks[r.webhook_id].secret, r.msg_id, rendered[r.event_id])
            for r in rows
        ]
        size = statistics.mean(len(m.body) for m in messages)
        cpu = time.process_time()
        bare_seconds = await _bare(messages, args.concurrency * len(ports))
        bare_cpu.append((time.process_time() - cpu) / len(messages))
        await _wait_count(http, base, len(messages))
        bare_rates.append(len(messages) / bare_seconds)
        await _reset(http, base)
        dispatcher = Dispatcher(database, settings)
        began, cpu = time.perf_counter(), time.process_time()
        await dispatcher.start()
        await _wait_count(http, base, len(messages))
        quire_rates.append(len(messages) / (time.perf_counter() - began))
        quire_cpu.append((time.process_time() - cpu) / len(messages))
        await _reset(http, base)
        await dispatcher.stop()
        print(
            f"  {len(ports):2d} receiver(s), trial {trial + 1}: bare {bare_rates[-1]:6.0f} deliveries/s "
            f"({bare_cpu[-1] * 1e3:.2f} ms CPU each), quire {quire_rates[-1]:6.0f}/s "
            f"({quire_cpu[-1] * 1e3:.2f} ms CPU each, all threads); load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    bare, quire = max(bare_rates), max(quire_rates)
    return {
        "receivers": len(ports),
        "events": args.events,
        "bytes": size,
        "bare": bare,
        "quire": quire,
        "ratio": quire / bare,
        # each trial's quire run right after its bare run, under about the same load
        "paired": statistics.median(q / b for q, b in zip(quire_rates, bare_rates, strict=True)),
        "load": os.getloadavg()[0],
    }


def _percentiles(latencies_ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies_ms)
    return (
        ordered[len(ordered) // 2],
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        ordered[-1],
    )


async def _paced(rate: float, total: int, step: Any) -> float:
    """Call `await step(n)` for n in range(total), one every 1/rate s; returns the achieved rate."""
    began = time.perf_counter()
    for n in range(total):
        await step(n)
        delay = began + (n + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return total / (time.perf_counter() - began)


class _Wake(asyncio.DatagramProtocol):
    """A datagram from the publisher process = one of its commits: wake the dispatcher, as
    `Database.commit` does for a commit in the dispatcher's own process (`quire server`). (On
    PostgreSQL its `NOTIFY` wakes the dispatcher as well.)"""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.dispatcher.wake()


async def _open_loop(
    database: Database, rate: float, total: int, *, wake: Any = None
) -> tuple[dict[str, float], float]:
    """One event per transaction, as API requests write them, event n started at n/rate s whether
    or not the previous ones have committed (several writers at once, as concurrent requests), so
    a slow commit does not lower the rate. Returns {seq: commit time} and the events committed
    per second from the first start to the last commit. `wake()` after each commit, if given."""
    committed: dict[str, float] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def step(n: int) -> None:
        seq = 1_000_000 + n
        async with database.transaction() as session:
            await publish(session, [_event(seq)])
        committed[str(seq)] = time.time()
        if wake is not None:
            wake()

    async def start(n: int) -> None:
        task = asyncio.create_task(step(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    began = time.perf_counter()
    await _paced(rate, total, start)
    await asyncio.gather(*tasks)
    return committed, total / (time.perf_counter() - began)


def _publisher(url: str, rate: float, total: int, wake_port: int | None, results: Any) -> None:
    """`_open_loop` in its own process; with `wake_port` (SQLite, which has no NOTIFY), each commit
    sends a wake-up datagram to the dispatcher's process. Puts ({seq: commit time}, events/s)."""

    async def run() -> None:
        database = Database(url)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:
            results.put(
                await _open_loop(
                    database,
                    rate,
                    total,
                    wake=None if wake_port is None else lambda: wake.sendto(b"w", ("127.0.0.1", wake_port)),
                )
            )
        await database.dispose()

    asyncio.run(run())


async def _latency(
    database: Database,
    http: aiohttp.ClientSession,
    base: str,
    port: int,
    settings: Settings,
    *,
    rate: float,
    seconds: float,
    separate: bool,
) -> dict[str, Any]:
    total = int(rate * seconds)
    url = f"http://127.0.0.1:{port}/hook?record=1"
    (hook,) = await _webhooks(database, [url])

    # the bare client at the same rate: signing starts the clock
    await _reset(http, base)
    sent: dict[str, float] = {}
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as bare_http:

        async def post(seq: int) -> None:
            body = orjson.dumps({"type": "record.created", "version": 1, "data": {"seq": seq, "text": TEXT}})
            signed = headers([hook.secret], f"msg_bare_{seq}", int(time.time()), body)
            async with bare_http.post(url, data=body, headers=signed) as response:
                await response.read()

        async def bare_step(n: int) -> None:
            sent[str(n)] = time.time()
            task = asyncio.create_task(post(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        bare_rate = await _paced(rate, total, bare_step)
        await asyncio.gather(*tasks)
    await _wait_count(http, base, total)
    async with http.get(f"{base}/stats") as response:
        arrivals: dict[str, Any] = orjson.loads(await response.read())
    bare = _percentiles([(arrivals[k] - sent[k]) * 1000 for k in sent])

    # quire: a commit per event in a publisher process, the dispatcher (here) woken by each
    await _reset(http, base)
    dispatcher = Dispatcher(database, settings)
    await dispatcher.start()
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(
        lambda: _Wake(dispatcher), local_addr=("127.0.0.1", 0)
    )
    wake_port = transport.get_extra_info("sockname")[1]
    await asyncio.sleep(1.0)
    if separate:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        publisher = context.Process(
            target=_publisher,
            args=(database.url, rate, total, wake_port if database.dialect == "sqlite" else None, results),
            daemon=True,
        )
        publisher.start()
        committed, quire_rate = await loop.run_in_executor(None, results.get)
        publisher.join()
    else:  # the dispatcher is woken by `Database.commit`, as in `quire server`
        committed, quire_rate = await _open_loop(database, rate, total)
    await _wait_count(http, base, total)
    await dispatcher.stop()
    transport.close()
    async with http.get(f"{base}/stats") as response:
        arrivals = orjson.loads(await response.read())
    quire = _percentiles([(arrivals[k] - committed[k]) * 1000 for k in committed])
    return {
        "events": total,
        "asked": rate,
        "bare_rate": bare_rate,
        "bare": bare,
        "quire_rate": quire_rate,
        "publisher": "separate-process" if separate else "in-process",
        "quire": quire,
        "load": os.getloadavg()[0],
    }


async def main(args: argparse.Namespace) -> None:
    tune_for_service()  # the dispatcher's process is set up as `quire server` and `quire worker` set up theirs
    ports = [_free_port() for _ in range(max(args.receivers))]
    receiver = multiprocessing.get_context("spawn").Process(target=_receiver, args=(ports,), daemon=True)
    receiver.start()
    base = f"http://127.0.0.1:{ports[0]}"
    async with Store(args.database_url) as url, aiohttp.ClientSession() as http:
        for attempt in range(600):  # the receiver process may take a while to start on a busy machine
            try:
                await _reset(http, base)
                break
            except aiohttp.ClientError:
                if attempt == 599:
                    raise
                await asyncio.sleep(0.05)
        database = Database(url)
        await migrate(database)
        settings = Settings(
            database_url=url, delivery_concurrency_per_webhook=args.concurrency, delivery_poll_seconds=1.0
        )
        print(
            f"store: {database.dialect}; {args.events} events per trial; {args.concurrency} requests in "
            f"flight per receiver; best of {args.trials} trials; {os.cpu_count()} CPUs",
            flush=True,
        )
        results = []
        for count in args.receivers if args.trials else []:
            results.append(await _throughput(database, http, base, ports[:count], settings, args))
        for r in results:
            print(
                f"{r['receivers']:2d} receiver(s), {r['events']} events of ~{r['bytes']:.0f} bytes: "
                f"bare client {r['bare']:6.0f} deliveries/s, quire {r['quire']:6.0f} deliveries/s "
                f"= {100 * r['ratio']:.0f}% (target >= 50%; median of the trials' own ratios "
                f"{100 * r['paired']:.0f}%); load average {r['load']:.1f}"
            )
        if args.seconds > 0:
            lat = await _latency(
                database,
                http,
                base,
                ports[0],
                settings,
                rate=args.rate,
                seconds=args.seconds,
                separate=args.publisher == "process"
                or (args.publisher == "auto" and database.dialect == "postgresql"),
            )
            print(
                f"latency, {lat['events']} events at {lat['asked']:.0f}/s to one receiver: "
                f"bare client (at {lat['bare_rate']:.0f}/s) p50 {lat['bare'][0]:.1f} ms, "
                f"p99 {lat['bare'][1]:.1f} ms, max {lat['bare'][2]:.1f} ms; "
                f"quire commit-to-receipt ({lat['publisher']} publisher, at {lat['quire_rate']:.0f}/s) p50 {lat['quire'][0]:.1f} ms, "
                f"p99 {lat['quire'][1]:.1f} ms, max {lat['quire'][2]:.1f} ms (target p99 < 100 ms); "
                f"load average {lat['load']:.1f}"
            )
        await database.dispose()
    receiver.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--receivers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 10],
        help=f"comma-separated receiver counts (at most {MAX_RECEIVERS}); default 1,10",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per receiver")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="latency phase; 0 skips it")
    parser.add_argument(
        "--publisher",
        choices=["auto", "process", "inline"],
        default="auto",
        help="latency phase: who commits the events — a process of its own (auto on PostgreSQL) or "
        "writers in the dispatcher's process, as API requests in `quire server` (auto on SQLite)",
    )
    parser.add_argument("--trials", type=int, default=3, help="bare and quire alternate; best of each")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL admin URL (a scratch database is used)"
    )
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(main(parser.parse_args()))
