"""Prometheus metrics of delivery, served at `GET /metrics` (text exposition format).

Counters and the latency histogram count what this process's dispatcher did; the outbox gauges are
read from the database at scrape time, so they describe the whole deployment whichever process
serves them. The endpoint is open unless `QUIRE_METRICS_TOKEN` is set (then it wants
`Authorization: Bearer <token>`, which Prometheus sends with `authorization: {credentials: …}`):
firewall it, or set the token.

| metric | type | meaning |
|---|---|---|
| `quire_delivery_attempts_total{result}` | counter | attempts by result: `2xx`, `3xx`, `4xx`, `5xx`, `timeout`, `connect_error`, `refused`, `error` |
| `quire_deliveries_total{outcome}` | counter | deliveries that ended: `succeeded`, `failed` |
| `quire_delivery_retries_total` | counter | attempts followed by a scheduled retry |
| `quire_delivery_claims_lost_total` | counter | attempts whose claim had passed to another worker (nothing recorded) |
| `quire_delivery_attempt_duration_seconds` | histogram | time from sending to the answer (or the error) |
| `quire_outbox_pending_deliveries` | gauge | deliveries of enabled webhooks not yet delivered (due, scheduled or in flight) |
| `quire_outbox_oldest_pending_age_seconds` | gauge | age of the oldest of those (0 when none) |
| `quire_outbox_held_deliveries` | gauge | pending deliveries of disabled webhooks (sent when re-enabled) |
| `quire_webhooks_disabled` | gauge | disabled webhooks |
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.delivery.outcomes import Decision
from quire.server.delivery.sender import AttemptResult
from quire.server.models import Delivery, DeliveryStatus, Webhook, utcnow

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)


def result_label(result: AttemptResult) -> str:
    if result.kind in ("ok", "status") and result.status_code is not None:
        return f"{result.status_code // 100}xx"
    return result.kind


class DeliveryMetrics:
    """The metrics of one process, on their own registry (tests build many apps in one process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.attempts = Counter(
            "quire_delivery_attempts", "Delivery attempts, by result", ["result"], registry=r
        )
        self.deliveries = Counter(
            "quire_deliveries", "Deliveries that ended, by outcome", ["outcome"], registry=r
        )
        self.retries = Counter("quire_delivery_retries", "Attempts followed by a scheduled retry", registry=r)
        self.claims_lost = Counter(
            "quire_delivery_claims_lost", "Attempts whose claim passed to another worker", registry=r
        )
        self.latency = Histogram(
            "quire_delivery_attempt_duration_seconds",
            "Time from sending a delivery to its answer or error",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.pending = Gauge(
            "quire_outbox_pending_deliveries", "Undelivered deliveries of enabled webhooks", registry=r
        )
        self.oldest_age = Gauge(
            "quire_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered delivery of an enabled webhook",
            registry=r,
        )
        self.held = Gauge(
            "quire_outbox_held_deliveries", "Pending deliveries of disabled webhooks", registry=r
        )
        self.disabled = Gauge("quire_webhooks_disabled", "Disabled webhooks", registry=r)
        self._attempts: dict[str, Counter] = {}
        self._succeeded = self.deliveries.labels("succeeded")
        self._failed = self.deliveries.labels("failed")

    def observe(self, result: AttemptResult, decision: Decision) -> None:
        label = result_label(result)
        attempts = self._attempts.get(label)
        if attempts is None:
            attempts = self._attempts[label] = self.attempts.labels(label)
        attempts.inc()
        self.latency.observe(result.duration_ms / 1000.0)
        if decision.verdict == "retry":
            self.retries.inc()
        elif decision.verdict == "succeeded":
            self._succeeded.inc()
        else:
            self._failed.inc()

    async def refresh(self, session: AsyncSession) -> None:
        """Read the outbox gauges from the database."""
        now = utcnow()
        rows = await session.execute(
            select(Webhook.enabled, func.count(Delivery.id), func.min(Delivery.inserted_at))
            .join(Webhook, Webhook.id == Delivery.webhook_id)
            .where(Delivery.status.in_([DeliveryStatus.pending.value, DeliveryStatus.delivering.value]))
            .group_by(Webhook.enabled)
        )
        pending, held, oldest = 0, 0, None
        for enabled, count, first in rows:
            if enabled:
                pending, oldest = int(count), first
            else:
                held = int(count)
        self.pending.set(pending)
        self.held.set(held)
        self.oldest_age.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        disabled = await session.scalar(
            select(func.count()).select_from(Webhook).where(Webhook.enabled.is_(False))
        )
        self.disabled.set(int(disabled or 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
