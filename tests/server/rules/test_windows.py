"""Windows: contiguous, exact (no record missed, none sent twice unless changed again, also with
writes racing the runs), sampling, backfill, manual runs, and backlogs cut into several windows."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api
from tests.server.rules.helpers import (
    RuleReceiver,
    assert_contiguous,
    create_rule,
    rules_dataset,
    run_logs,
    sent_by_window,
    settled,
    texts,
    trigger,
    upsert,
    webhook_secret,
)


async def test_each_change_is_sent_in_its_window_once(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"))
    receiver.secrets.append(webhook_secret(rule))
    rng = random.Random(7)
    known: list[dict[str, Any]] = []
    expected: list[set[str]] = []
    for step in range(7):
        changed: set[str] = set()
        if step != 3:  # step 3 changes nothing: an empty window sends nothing
            created = await upsert(api, dataset["id"], texts(rng.randint(1, 6), prefix=f"s{step}-"))
            changed |= {r["id"] for r in created}
            old = rng.sample(known, min(len(known), 3))
            if old:
                await upsert(
                    api, dataset["id"], [{"id": r["id"], "metadata": {"lang": "es", "n": step}} for r in old]
                )
                changed |= {r["id"] for r in old}
            untouched = [r for r in known if r["id"] not in changed]
            for record in rng.sample(untouched, min(2, len(untouched))):
                response = await api.client.post(
                    f"/api/v1/records/{record['id']}/responses",
                    json={"status": "draft", "values": {"label": {"value": "pos"}}},
                )
                if response.status_code == 409:  # already answered in an earlier step: change it
                    continue
                assert response.status_code == 201, response.text
                changed.add(record["id"])
            known.extend(created)
        run = await trigger(api, rule["id"])
        assert run["changed"] == len(changed), (step, run, await run_logs(api, rule["id"]))
        expected.append(changed)
    logs = await settled(api, rule["id"], receiver)
    assert_contiguous(logs)
    runs = sorted(logs, key=lambda r: r["id"])
    windows = sent_by_window(receiver)
    for run, changed in zip(runs, expected, strict=True):
        sent = windows.get(run["start_time"] + "+00:00", [])
        assert sorted(sent) == sorted(changed), run
    assert runs[3]["changed"] == 0 and runs[3]["actions"][0]["batches"] == 0


async def test_writes_racing_runs_land_in_exactly_one_window(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"))
    receiver.secrets.append(webhook_secret(rule))
    created: list[str] = []
    done = asyncio.Event()

    async def writer() -> None:
        for batch in range(40):
            created.extend(r["id"] for r in await upsert(api, dataset["id"], texts(5, prefix=f"w{batch}-")))
            await asyncio.sleep(0.005)
        done.set()

    async def runs() -> None:
        while not done.is_set():
            await trigger(api, rule["id"])
            await asyncio.sleep(0.01)
        await trigger(api, rule["id"])

    await asyncio.gather(writer(), runs())
    logs = await settled(api, rule["id"], receiver)
    assert_contiguous(logs)
    sent = Counter(record_id for ids in sent_by_window(receiver).values() for record_id in ids)
    assert len(created) == 200
    assert set(sent) == set(created), f"missed {len(set(created) - set(sent))}"
    assert max(sent.values()) == 1, "a record was sent in two windows"
    assert len(logs) > 3


async def test_sampling_rate_and_stability(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    records = await upsert(api, dataset["id"], texts(2000))
    since = "2020-01-01T00:00:00Z"
    rule = await create_rule(api, dataset["id"], receiver.url("/a"), sampling_rate=0.3, backfill_from=since)
    twin = await create_rule(api, dataset["id"], receiver.url("/b"), sampling_rate=0.3, backfill_from=since)
    receiver.secrets.extend([webhook_secret(rule), webhook_secret(twin)])
    first = await trigger(api, rule["id"])
    await trigger(api, twin["id"])
    n, p = 2000, 0.3
    assert first["matched"] == n
    assert abs(first["sampled"] - n * p) <= 4 * math.sqrt(n * p * (1 - p)), first["sampled"]
    await settled(api, rule["id"], receiver, path="/a")
    await settled(api, twin["id"], receiver, path="/b")
    sample = {r["id"] for body in receiver.payloads("/a") for r in body["runs"]}
    other = {r["id"] for body in receiver.payloads("/b") for r in body["runs"]}
    assert len(sample) == first["sampled"]
    # ~600 sampled: more than the default maximum of a batch, so two POSTs of the same window
    assert sorted(len(body["runs"]) for body in receiver.payloads("/a")) == [first["sampled"] - 500, 500]
    assert first["actions"][0]["batches"] == 2 and first["actions"][0]["runs"] == first["sampled"]
    assert sample != other  # each rule draws its own sample …
    assert abs(len(sample & other) - n * p * p) <= 4 * math.sqrt(n * p * p * (1 - p * p))  # … independently
    # every record changes again: the same ones are in the sample
    await upsert(api, dataset["id"], [{"id": r["id"], "metadata": {"lang": "es", "n": 1}} for r in records])
    second = await trigger(api, rule["id"])
    assert second["matched"] == n and second["sampled"] == first["sampled"]
    await settled(api, rule["id"], receiver, path="/a")
    again = {
        r["id"]
        for body in receiver.payloads("/a")
        if body["start_time"][:26] == second["start_time"]
        for r in body["runs"]
    }
    assert again == sample


async def test_backfill_starts_the_first_window_in_the_past(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    before = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    old = await upsert(api, dataset["id"], texts(4))
    plain = await create_rule(api, dataset["id"], receiver.url("/plain"))
    backfilled = await create_rule(api, dataset["id"], receiver.url("/backfill"), backfill_from=before)
    receiver.secrets.append(webhook_secret(backfilled))
    assert (
        backfilled["backfill_from"][:19] == before[:19]
        and backfilled["next_window_start"][:19] == before[:19]
    )
    assert (await trigger(api, plain["id"]))["changed"] == 0
    run = await trigger(api, backfilled["id"])
    assert run["start_time"][:19] == before[:19] and run["changed"] == 4
    (received,) = await receiver.wait_for(1, path_prefix="/backfill")
    assert sorted(r["id"] for r in received.payload["runs"]) == sorted(r["id"] for r in old)
    assert receiver.on("/plain") == []


async def test_manual_trigger_runs_the_next_window_now(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"), enabled=False, interval_seconds=3600)
    await upsert(api, dataset["id"], texts(2))
    first = await trigger(api, rule["id"])  # a disabled rule runs when asked
    assert (
        first["trigger"] == "manual"
        and first["changed"] == 2
        and first["start_time"] == rule["next_window_start"]
    )
    second = await trigger(api, rule["id"])
    assert second["start_time"] == first["end_time"] and second["changed"] == 0
    after = await api.ok("GET", f"/api/v1/rules/{rule['id']}")
    assert after["next_window_start"] == second["end_time"] and after["last_run_at"] is not None
    logs = await run_logs(api, rule["id"])
    assert [r["id"] for r in logs] == [second["id"], first["id"]]
    assert (
        await api.client.post("/api/v1/rules/00000000-0000-0000-0000-000000000000/trigger")
    ).status_code == 404


@pytest.mark.rule_settings(rules_max_changes_per_run=10)
async def test_a_backlog_is_cut_into_consecutive_windows(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"))
    receiver.secrets.append(webhook_secret(rule))
    # writes of more records than a run takes, each at one timestamp: one window each, whether
    # the window starts before them (first) or at them (last, after a cut)
    created = [r["id"] for r in await upsert(api, dataset["id"], texts(12, prefix="first-"))]
    for batch in range(5):
        created.extend(r["id"] for r in await upsert(api, dataset["id"], texts(7, prefix=f"b{batch}-")))
    created.extend(r["id"] for r in await upsert(api, dataset["id"], texts(15, prefix="big-")))
    runs = []
    while not runs or runs[-1]["changed"]:
        runs.append(await trigger(api, rule["id"]))
        assert len(runs) < 20
    assert [r["changed"] for r in runs] == [12, 7, 7, 7, 7, 7, 15, 0]
    logs = await settled(api, rule["id"], receiver)
    assert_contiguous(logs)
    sent = Counter(i for ids in sent_by_window(receiver).values() for i in ids)
    assert set(sent) == set(created) and max(sent.values()) == 1
