"""`quire worker`: dispatchers outside the API server, to scale delivery out.

`--concurrency N` runs N worker *processes* (not N dispatchers in one event loop: a dispatcher is
CPU-bound on signing, HTTP and SQL, so processes are what adds throughput). Each process runs one
dispatcher with its own pooled HTTP client and database pool. On PostgreSQL they share the work
through `FOR UPDATE SKIP LOCKED` claims; on SQLite only the holder of the `dispatcher` lease sends
(the others are hot standbys that take over within seconds when it stops or dies). The parent
restarts a worker process that dies, and forwards SIGINT/SIGTERM for a clean stop (requests in
flight finish and are recorded; unsent claims go back to the queue).

With `--metrics-port P`, process i serves Prometheus metrics on `P + i` (`GET /metrics`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import time
from typing import Any

from aiohttp import web

from quire.server.db import Database
from quire.server.delivery.dispatcher import Dispatcher
from quire.server.delivery.metrics import DeliveryMetrics
from quire.server.gc_tuning import tune_for_service
from quire.server.rules.scheduler import Scheduler
from quire.server.settings import Settings

logger = logging.getLogger("quire.worker")


async def _metrics_site(metrics: DeliveryMetrics, database: Database, host: str, port: int) -> web.AppRunner:
    async def handle(_request: web.Request) -> web.Response:
        async with database.session(write=False) as session:
            await metrics.refresh(session)
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run(
    settings: Settings, *, metrics_host: str = "127.0.0.1", metrics_port: int | None = None
) -> None:
    """One dispatcher until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    database = Database(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        sqlite_busy_timeout=settings.sqlite_busy_timeout_seconds,
    )
    metrics = DeliveryMetrics()
    dispatcher = Dispatcher(database, settings, metrics=metrics)
    rules = Scheduler(database, settings) if settings.rules_enabled else None  # automation rules hook
    runner = None
    try:
        await dispatcher.start()
        if rules is not None:
            await rules.start()
        if metrics_port is not None:
            runner = await _metrics_site(metrics, database, metrics_host, metrics_port)
        await stop.wait()
    finally:
        if rules is not None:
            await rules.stop()
        await dispatcher.stop()
        if runner is not None:
            await runner.cleanup()
        await database.dispose()


def _child(
    settings_data: dict[str, Any], metrics_host: str, metrics_port: int | None, log_level: str
) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(process)d %(name)s %(message)s")
    tune_for_service()
    main = run(Settings(**settings_data), metrics_host=metrics_host, metrics_port=metrics_port)
    try:  # the event loop `quire server` gets from uvicorn when uvloop is installed (it is, on Linux)
        import uvloop
    except ImportError:  # pragma: no cover - uvloop has no Windows build
        asyncio.run(main)
    else:
        uvloop.run(main)


def serve(
    settings: Settings,
    *,
    processes: int = 1,
    metrics_host: str = "127.0.0.1",
    metrics_port: int | None = None,
    log_level: str = "info",
) -> None:
    """Run `processes` worker processes (1: in this process) until SIGINT/SIGTERM."""
    if processes <= 1:
        _child(settings.model_dump(), metrics_host, metrics_port, log_level)
        return
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(process)d %(name)s %(message)s")
    context = multiprocessing.get_context("spawn")
    data = settings.model_dump()
    stopping = False

    def start(index: int) -> multiprocessing.process.BaseProcess:
        port = None if metrics_port is None else metrics_port + index
        process = context.Process(
            target=_child, args=(data, metrics_host, port, log_level), name=f"quire-worker-{index}"
        )
        process.start()
        return process

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in children:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: a clean stop

    children = [start(i) for i in range(processes)]
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping:
        time.sleep(0.5)
        for index, process in enumerate(children):
            if not process.is_alive() and not stopping:
                logger.warning("worker %d exited with %s; restarting it", index, process.exitcode)
                children[index] = start(index)
    for process in children:
        process.join()
