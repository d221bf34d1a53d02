"""The application factory. Engines are built in the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from quire import __version__
from quire.server.accounts.endpoints import router as accounts_router
from quire.server.dataset_metrics.endpoints import router as dataset_metrics_router
from quire.server.datasets.endpoints import router as datasets_router
from quire.server.datasets.settings_endpoints import router as dataset_settings_router
from quire.server.db import Database
from quire.server.delivery import service as delivery
from quire.server.errors import install_error_handlers
from quire.server.info.endpoints import router as info_router
from quire.server.records.endpoints import router as records_router
from quire.server.records.search_endpoints import router as search_router
from quire.server.responses.endpoints import router as responses_router
from quire.server.rules import scheduler as rule_scheduler
from quire.server.rules.endpoints import router as rules_router
from quire.server.settings import Settings
from quire.server.streams.endpoints import router as streams_router
from quire.server.suggestions.endpoints import router as suggestions_router
from quire.server.text_guard import refuse_unstorable_text
from quire.server.webhooks.endpoints import router as webhooks_router

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(
            settings.resolved_database_url,
            pool_size=settings.database_pool_size,
            sqlite_busy_timeout=settings.sqlite_busy_timeout_seconds,
            retain_all_events=settings.events_retain_all,
        )
        app.state.database = database
        try:
            async with (
                delivery.running(app, database, settings),
                rule_scheduler.running(app, database, settings),  # rules: beside the dispatcher
            ):
                yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="quire",
        version=__version__,
        description="Human-feedback data platform. Speaks Argilla's /api/v1 REST API.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(refuse_unstorable_text)])
    for router in (
        info_router,
        accounts_router,
        datasets_router,
        dataset_metrics_router,
        dataset_settings_router,
        records_router,
        search_router,
        responses_router,
        suggestions_router,
        webhooks_router,
        streams_router,
        rules_router,
    ):
        api.include_router(router)
    app.include_router(api)
    delivery.install(app, settings)  # GET /metrics, outside /api/v1
    return app
