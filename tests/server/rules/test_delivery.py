"""Seed 001's delivery rules for a rule's webhook (its default `langsmith` policy), end to end:
trigger → outbox → dispatcher → real receiver. Waits and timeouts are shortened through
`QUIRE_DELIVERY_SCHEDULE_SCALE` / `QUIRE_DELIVERY_TIMEOUT_SCALE`, never by mocking time."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from quire.server.db import Database
from quire.server.models import Delivery, DeliveryAttempt, RuleDelivery
from tests.conftest import Api
from tests.server.rules.helpers import (
    RuleReceiver,
    create_rule,
    rules_dataset,
    texts,
    trigger,
    upsert,
    webhook_secret,
)


@dataclass(frozen=True)
class Case:
    path: str  # "closed": a loopback port nobody listens on
    attempts: int
    status: str
    error: str


CASES = {
    "connect-failure-retried-twice": Case("closed", 3, "failed", "connection failed"),
    "over-5s-failed-not-retried": Case("/slow/4000", 1, "failed", "timeout after 2 s"),
    "5xx-retried-twice": Case("/status/503", 3, "failed", "HTTP 503"),
    "4xx-not-retried": Case("/status/404", 1, "failed", "HTTP 404"),
    "5xx-then-ok": Case("/flaky/1/500", 2, "succeeded", ""),
}


async def _attempts(database: Database, action_id: str) -> tuple[Delivery, list[DeliveryAttempt]]:
    async with database.session(write=False) as session:
        (delivery,) = list(
            await session.scalars(
                select(Delivery)
                .join(RuleDelivery, RuleDelivery.delivery_id == Delivery.id)
                .where(RuleDelivery.action_id == uuid.UUID(action_id))
            )
        )
        rows = list(
            await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery.id)
                .order_by(DeliveryAttempt.number)
            )
        )
    return delivery, rows


# langsmith waits 2 s, 4 s between attempts: here 20 ms, 40 ms; its 5 s timeout: here 2 s (long
# enough for a loaded machine to answer the others in time)
@pytest.mark.rule_settings(delivery_schedule_scale=0.01, delivery_timeout_scale=0.4)
async def test_langsmith_delivery_rules(
    api: Api, database: Database, receiver: RuleReceiver, unused_tcp_port: int
) -> None:
    """One rule per case, all delivering at once, each checked on its own."""
    dataset = await rules_dataset(api)
    rules: dict[str, dict[str, Any]] = {}
    for name, case in CASES.items():
        url = f"http://127.0.0.1:{unused_tcp_port}/" if case.path == "closed" else receiver.url(case.path)
        rules[name] = await create_rule(api, dataset["id"], url)
        assert rules[name]["actions"][0]["policy"]["name"] == "langsmith"
        receiver.secrets.append(webhook_secret(rules[name]))
    await upsert(api, dataset["id"], texts(2))
    for rule in rules.values():
        assert (await trigger(api, rule["id"]))["actions"][0]["batches"] == 1
    deadline = asyncio.get_running_loop().time() + 60
    for name, rule in rules.items():
        while True:
            log = (await api.ok("GET", f"/api/v1/rules/{rule['id']}/logs"))["items"][0]["actions"][0]
            if log["pending"] == 0:
                break
            assert asyncio.get_running_loop().time() < deadline, (name, log)
            await asyncio.sleep(0.05)
        case = CASES[name]
        assert log["delivered" if case.status == "succeeded" else "failed"] == 1, name
        delivery, attempts = await _attempts(database, rule["actions"][0]["id"])
        assert (delivery.status, delivery.attempts) == (case.status, case.attempts), name
        assert [a.outcome for a in attempts] == ["retry"] * (case.attempts - 1) + [case.status], name
        if case.error:
            assert attempts[-1].error is not None and attempts[-1].error.startswith(case.error), name
        if case.path != "closed":
            got = receiver.on(case.path)
            assert len(got) == case.attempts and all(r.verified for r in got), name
            assert len({r.msg_id for r in got}) == 1, name  # one message, its webhook-id kept across retries
        if case.attempts == 3:  # exponential backoff: 2 s then 4 s, scaled (±10% jitter)
            gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(attempts)]
            assert gaps[0] >= 0.018 and gaps[1] >= 0.036, (name, gaps)


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


async def test_custom_policy_for_a_rule(api: Api, database: Database, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    policy: dict[str, Any] = {
        "timeout_seconds": 5,
        "max_attempts": 2,
        "schedule_seconds": [0.01],
        "retry_statuses": ["404"],
    }
    rule = await create_rule(
        api,
        dataset["id"],
        actions=[{"type": "webhook", "url": receiver.url("/status/404"), "policy": policy}],
    )
    assert rule["actions"][0]["policy"]["name"] == "custom"
    await upsert(api, dataset["id"], texts(1))
    await trigger(api, rule["id"])
    await receiver.wait_for(2, path_prefix="/status")
