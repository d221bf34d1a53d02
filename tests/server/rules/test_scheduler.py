"""The scheduler in the app: due rules run by themselves, disabled ones do not."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Api
from tests.server.rules.helpers import (
    RuleReceiver,
    create_rule,
    rules_dataset,
    run_logs,
    texts,
    upsert,
    webhook_secret,
)


@pytest.mark.rule_settings(rules_enabled=True, rules_poll_seconds=0.1)
async def test_due_rules_run_on_their_own(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"), interval_seconds=1)
    receiver.secrets.append(webhook_secret(rule))
    written = await upsert(api, dataset["id"], texts(3))
    (received,) = await receiver.wait_for(1)
    assert received.verified
    assert sorted(r["id"] for r in received.payload["runs"]) == sorted(r["id"] for r in written)
    logs = await run_logs(api, rule["id"])
    assert logs and all(r["trigger"] == "schedule" for r in logs)
    await api.ok("PATCH", f"/api/v1/rules/{rule['id']}", json={"enabled": False})
    await asyncio.sleep(0.3)  # a run in progress finishes
    count = len(await run_logs(api, rule["id"]))
    await upsert(api, dataset["id"], texts(2, prefix="late"))
    await asyncio.sleep(1.5)
    assert len(await run_logs(api, rule["id"])) == count
    assert len(receiver.received) == 1
