"""`GET /metrics` and the dispatcher inside the app's lifespan."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from quire.server.app import create_app
from quire.server.db import Database
from quire.server.settings import Settings
from tests.server.delivery.conftest import add_webhook, fast_settings, queue_messages, settled
from tests.server.delivery.receiver import Receiver


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def _scrape(app: Any, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://quire.test") as client:
        return await client.get("/metrics", headers=headers)


async def test_the_server_dispatches_and_reports_metrics(
    settings: Settings, database: Database, receiver: Receiver, closed_port: int
) -> None:
    ok = await add_webhook(database, receiver.url("/ok"))
    gone = await add_webhook(database, receiver.url("/status/410"))
    held = await add_webhook(database, receiver.url("/ok?held"), enabled=False)
    app = create_app(fast_settings(settings))
    async with app.router.lifespan_context(app):
        assert app.state.dispatcher is not None
        await queue_messages(app.state.database, ok, [{"n": n} for n in range(5)])
        await queue_messages(app.state.database, gone, [{"n": 1}])
        await queue_messages(app.state.database, held, [{"n": 1}, {"n": 2}])
        await settled(database, ok)
        await settled(database, gone)
        response = await _scrape(app)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("quire_delivery_attempts_total", (("result", "2xx"),))] == 5
    assert samples[("quire_delivery_attempts_total", (("result", "4xx"),))] == 1
    assert samples[("quire_deliveries_total", (("outcome", "succeeded"),))] == 5
    assert samples[("quire_deliveries_total", (("outcome", "failed"),))] == 1
    assert samples[("quire_delivery_attempt_duration_seconds_count", ())] == 6
    assert samples[("quire_outbox_pending_deliveries", ())] == 0
    assert samples[("quire_outbox_oldest_pending_age_seconds", ())] == 0
    assert samples[("quire_outbox_held_deliveries", ())] == 2
    assert samples[("quire_webhooks_disabled", ())] == 2  # the held one and the 410 one


async def test_pending_depth_and_age_without_dispatch_and_the_token(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    webhook = await add_webhook(database, receiver.url("/ok"))
    await queue_messages(database, webhook, [{"n": n} for n in range(3)])
    app = create_app(settings.model_copy(update={"delivery_enabled": False, "metrics_token": "s3cret"}))
    async with app.router.lifespan_context(app):
        assert app.state.dispatcher is None
        assert (await _scrape(app)).status_code == 401
        assert (await _scrape(app, authorization="Bearer nope")).status_code == 401
        response = await _scrape(app, authorization="Bearer s3cret")
    samples = _samples(response.text)
    assert samples[("quire_outbox_pending_deliveries", ())] == 3
    assert samples[("quire_outbox_oldest_pending_age_seconds", ())] >= 0
    assert receiver.received == []


async def test_metrics_can_be_turned_off(settings: Settings, database: Database) -> None:
    app = create_app(settings.model_copy(update={"metrics_enabled": False, "delivery_enabled": False}))
    async with app.router.lifespan_context(app):
        assert (await _scrape(app)).status_code == 404
