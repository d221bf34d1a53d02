"""Wiring delivery into the application: the `/metrics` route (see `metrics.py`; open unless
`QUIRE_METRICS_TOKEN` is set, off with `QUIRE_METRICS_ENABLED=false`), and the dispatcher's life
inside the app's lifespan (on unless `QUIRE_DELIVERY_ENABLED=false` / `quire server --no-dispatch`)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from quire.server.db import Database
from quire.server.delivery.dispatcher import Dispatcher
from quire.server.delivery.metrics import DeliveryMetrics
from quire.server.settings import Settings

router = APIRouter()


def _authorized(request: Request, token: str | None) -> bool:
    if not token:
        return True
    given = request.headers.get("authorization", "")
    scheme, _, credentials = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    settings = request.app.state.settings
    if not _authorized(request, settings.metrics_token):
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    metrics: DeliveryMetrics = request.app.state.delivery_metrics
    async with request.app.state.database.session(write=False) as session:
        await metrics.refresh(session)
    return Response(content=metrics.render(), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, settings: Settings) -> None:
    """Called by the app factory: the metrics registry and, if enabled, `GET /metrics`."""
    app.state.delivery_metrics = DeliveryMetrics()
    if settings.metrics_enabled:
        app.include_router(router)


@asynccontextmanager
async def running(app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[Dispatcher | None]:
    """The in-process dispatcher for the lifespan of the app (None when dispatch is off)."""
    if not settings.delivery_enabled:
        app.state.dispatcher = None
        yield None
        return
    dispatcher = Dispatcher(database, settings, metrics=app.state.delivery_metrics)
    await dispatcher.start()
    app.state.dispatcher = dispatcher
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()
