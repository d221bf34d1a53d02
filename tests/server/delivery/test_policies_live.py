"""Each delivery policy's exact behaviour against real loopback receivers that answer 2xx, 4xx, 5xx,
410, a redirect, slowly, or refuse connections. Schedules are shortened by configuration
(`QUIRE_DELIVERY_SCHEDULE_SCALE=0.001`: argilla waits 10, 60, 180 ms), and so are timeouts: 0.25
(argilla 5 s, langsmith 1.25 s) except in the timeout cases, which use 0.01 (argilla 0.2 s,
langsmith 0.05 s) against a receiver that takes a second."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from quire.server.db import Database
from quire.server.delivery.policies import ARGILLA, LANGSMITH
from quire.server.delivery.signing import generate_secret
from quire.server.models import Webhook
from tests.server.delivery.conftest import (
    StartDispatcher,
    add_webhook,
    attempts,
    deliveries,
    queue_messages,
    settled,
    wait_until,
    webhook_row,
)
from tests.server.delivery.receiver import Receiver


@dataclass(frozen=True)
class Case:
    policy: str | dict[str, Any]
    path: str  # "closed" for a port nobody listens on
    attempts: int
    status: str
    error: str | None = None
    disabled: bool = False
    timeout_scale: float | None = None
    """Set for the timeout cases (0.01); the others keep the fixtures' 0.25."""


TIMEOUT = 0.01
CUSTOM = {"timeout_seconds": 20, "max_attempts": 3, "schedule_seconds": [1.0], "retry_statuses": ["429"]}
CASES = {
    "argilla-2xx": Case("argilla", "/ok", 1, "succeeded"),
    "argilla-slow-but-in-time": Case("argilla", "/slow/300", 1, "succeeded"),
    "argilla-500-retried": Case("argilla", "/status/500", 4, "failed", "HTTP 500"),
    "argilla-404-retried": Case("argilla", "/status/404", 4, "failed", "HTTP 404"),
    "argilla-redirect-not-followed": Case("argilla", "/redirect", 4, "failed", "HTTP 302"),
    "argilla-timeout-retried": Case(
        "argilla", "/slow/1000", 4, "failed", "timeout after 0.2 s", timeout_scale=TIMEOUT
    ),
    "argilla-refused-connection-retried": Case("argilla", "closed", 4, "failed", "connection failed"),
    "argilla-recovers": Case("argilla", "/flaky/2/503", 3, "succeeded"),
    "argilla-410-disables": Case("argilla", "/status/410", 1, "failed", "HTTP 410", disabled=True),
    "langsmith-2xx": Case("langsmith", "/ok", 1, "succeeded"),
    "langsmith-5xx-retried": Case("langsmith", "/status/503", 3, "failed", "HTTP 503"),
    "langsmith-5xx-recovers": Case("langsmith", "/flaky/1/502", 2, "succeeded"),
    "langsmith-4xx-not-retried": Case("langsmith", "/status/404", 1, "failed", "HTTP 404"),
    "langsmith-timeout-not-retried": Case(
        "langsmith", "/slow/1000", 1, "failed", "timeout after 0.05 s", timeout_scale=TIMEOUT
    ),
    "langsmith-refused-connection-retried": Case("langsmith", "closed", 3, "failed", "connection failed"),
    "langsmith-410-disables": Case("langsmith", "/status/410", 1, "failed", "HTTP 410", disabled=True),
    "custom-2xx": Case(CUSTOM, "/ok", 1, "succeeded"),
    "custom-429-retried": Case(CUSTOM, "/status/429", 3, "failed", "HTTP 429"),
    "custom-500-not-retried": Case(CUSTOM, "/status/500", 1, "failed", "HTTP 500"),
    "custom-410-disables": Case(CUSTOM, "/status/410", 1, "failed", "HTTP 410", disabled=True),
    "custom-timeout-retried": Case(
        CUSTOM, "/slow/1000", 3, "failed", "timeout after 0.2 s", timeout_scale=TIMEOUT
    ),
    "custom-timeout-not-retried": Case(
        {**CUSTOM, "retry_on_timeout": False},
        "/slow/1000",
        1,
        "failed",
        "timeout after 0.2 s",
        timeout_scale=TIMEOUT,
    ),
    "custom-refused-connection-retried": Case(CUSTOM, "closed", 3, "failed", "connection failed"),
    "custom-refused-connection-not-retried": Case(
        {**CUSTOM, "retry_on_connect_error": False}, "closed", 1, "failed", "connection failed"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_policy(
    case: Case, database: Database, receiver: Receiver, closed_port: int, start_dispatcher: StartDispatcher
) -> None:
    secret = generate_secret()
    receiver.secrets.append(secret)
    url = f"http://127.0.0.1:{closed_port}/" if case.path == "closed" else receiver.url(case.path)
    policy = case.policy if isinstance(case.policy, str) else {**case.policy}
    if isinstance(policy, dict):  # custom waits are not scaled below 1 s * 0.001: keep them short
        policy["schedule_seconds"] = [0.01]
    webhook = await add_webhook(database, url, secret=secret, policy=policy)
    if case.timeout_scale is None:
        await start_dispatcher(database)
    else:
        await start_dispatcher(database, delivery_timeout_scale=case.timeout_scale)
    (msg_id,) = await queue_messages(database, webhook, [{"case": case.path}])
    (delivery,) = await settled(database, webhook)
    assert delivery.status == case.status
    assert delivery.attempts == case.attempts
    rows = await attempts(database, delivery.id)
    assert [a.number for a in rows] == list(range(1, case.attempts + 1))
    assert [a.outcome for a in rows] == ["retry"] * (case.attempts - 1) + [case.status]
    if case.error is not None:
        assert rows[-1].error is not None and rows[-1].error.startswith(case.error)
    if case.path != "closed":
        got = receiver.received
        assert len(got) == case.attempts
        assert {r.msg_id for r in got} == {msg_id} and all(r.verified for r in got)
        if case.path != "/ok":
            assert not receiver.on("/ok")  # a redirect is never followed
        if case.policy == "argilla" and case.attempts == 4:  # 10 ms, 60 ms, 180 ms (±10 %)
            gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
            for gap, wait in zip(gaps, ARGILLA.schedule_seconds, strict=True):
                assert gap >= wait * 0.001 * 0.9
    stored = await webhook_row(database, webhook.id)
    assert stored is not None
    assert stored.enabled is not case.disabled
    if case.disabled:
        assert stored.disabled_reason is not None and "410 Gone" in stored.disabled_reason
    assert stored.consecutive_failures == (0 if case.status == "succeeded" else 1)


async def test_langsmith_is_the_default_for_rule_webhooks(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    webhook = await add_webhook(database, receiver.url("/status/404"), kind="rule", policy=None)
    await start_dispatcher(database)
    await queue_messages(database, webhook, [{"rule_id": "r"}])
    (delivery,) = await settled(database, webhook)
    assert delivery.attempts == 1 and LANGSMITH.max_attempts == 3


@pytest.mark.parametrize(("value", "low", "high"), [("1", 1.0, 4.0), ("date:2", 0.9, 4.5), ("100", 1.1, 4.0)])
async def test_retry_after_is_honoured_and_capped(
    value: str,
    low: float,
    high: float,
    database: Database,
    receiver: Receiver,
    start_dispatcher: StartDispatcher,
) -> None:
    policy = {
        "max_attempts": 2,
        "schedule_seconds": [0.01],
        "retry_statuses": ["503"],
        "max_retry_after_seconds": 1.2,
    }
    webhook = await add_webhook(database, receiver.url(f"/retry-after/{value}"), policy=policy)
    await start_dispatcher(database)
    await queue_messages(database, webhook, [{"n": 1}])
    first, second = await receiver.wait_for(2, within=10)
    assert low <= second.at - first.at <= high  # not the scaled 10 µs schedule


TOTAL = 40


async def test_consecutive_failed_deliveries_disable_the_webhook_and_enabling_resumes(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    policy = {"max_attempts": 1, "schedule_seconds": [0.01]}
    webhook = await add_webhook(database, receiver.url("/status/500"), policy=policy)
    dispatcher = await start_dispatcher(
        database, delivery_failures_before_disable=3, delivery_concurrency_per_webhook=1
    )
    await queue_messages(database, webhook, [{"n": n} for n in range(TOTAL)])

    async def disabled() -> bool:
        row = await webhook_row(database, webhook.id)
        return row is not None and not row.enabled

    await wait_until(disabled, what="the webhook to be disabled")
    row = await webhook_row(database, webhook.id)
    assert row is not None and row.consecutive_failures >= 3
    assert row.disabled_reason is not None and "3 deliveries in a row failed" in row.disabled_reason
    assert "HTTP 500" in row.disabled_reason
    await wait_until(
        lambda: _no_delivering(database, webhook), what="claims of the disabled webhook to be given back"
    )
    sent = len(receiver.received)
    assert 3 <= sent < TOTAL  # what was in flight when the streak reached 3 was still sent
    statuses = [str(d.status) for d in await deliveries(database, webhook)]
    assert statuses.count("failed") == sent and statuses.count("pending") == TOTAL - sent

    async with database.transaction() as session:  # what the webhooks API's enable does
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook.id)
            .values(enabled=True, disabled_reason=None, consecutive_failures=0, url=receiver.url("/ok"))
        )
    dispatcher.wake()
    await receiver.wait_for(TOTAL - sent, path_prefix="/ok")
    final = await settled(database, webhook)
    assert [str(d.status) for d in final].count("succeeded") == TOTAL - sent
    row = await webhook_row(database, webhook.id)
    assert row is not None and row.enabled and row.consecutive_failures == 0


async def _no_delivering(database: Database, webhook: Webhook) -> bool:
    return all(d.status != "delivering" for d in await deliveries(database, webhook))


async def test_a_success_resets_the_failure_streak(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    webhook = await add_webhook(database, receiver.url("/ok"))
    async with database.transaction() as session:
        await session.execute(update(Webhook).where(Webhook.id == webhook.id).values(consecutive_failures=7))
    await start_dispatcher(database)
    await queue_messages(database, webhook, [{"n": 1}])
    await settled(database, webhook)
    row = await webhook_row(database, webhook.id)
    assert row is not None and row.consecutive_failures == 0


async def test_deliveries_of_a_disabled_webhook_wait(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    webhook = await add_webhook(database, receiver.url("/ok"), enabled=False)
    other = await add_webhook(database, receiver.url("/ok?other"))
    await start_dispatcher(database)
    await queue_messages(database, webhook, [{"n": n} for n in range(3)])
    await queue_messages(database, other, [{"n": 9}])
    await settled(database, other)
    assert len(receiver.received) == 1
    assert {d.status for d in await deliveries(database, webhook)} == {"pending"}


async def test_deleting_a_webhook_mid_flight_drops_its_deliveries_and_nothing_breaks(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    doomed = await add_webhook(database, receiver.url("/slow/300"))
    await start_dispatcher(database, delivery_concurrency_per_webhook=1, delivery_timeout_scale=1.0)
    await queue_messages(database, doomed, [{"n": n} for n in range(5)])
    await receiver.wait_for(1)
    async with database.transaction() as session:
        row = await session.get(Webhook, doomed.id)
        await session.delete(row)
    assert await deliveries(database, doomed) == []
    survivor = await add_webhook(database, receiver.url("/ok"))
    await queue_messages(database, survivor, [{"n": 1}])
    (done,) = await settled(database, survivor)
    assert done.status == "succeeded"
    assert len(receiver.on("/slow")) <= 2  # the one in flight, at most one already claimed
