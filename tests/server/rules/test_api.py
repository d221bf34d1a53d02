"""The rules API: create, read, change, delete, who may, and what a bad request gets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from quire.server.db import Database
from quire.server.models import Delivery, Webhook
from tests.conftest import Api
from tests.server.rules.helpers import RuleReceiver, create_rule, rules_dataset, texts, trigger, upsert


async def test_create_read_list(api: Api) -> None:
    dataset = await rules_dataset(api)
    target = await rules_dataset(api)
    body = {
        "name": "low ratings",
        "dataset_id": dataset["id"],
        "filter": "status:completed AND responses.rating.value:[1 TO 2]",
        "sampling_rate": 0.5,
        "interval_seconds": 120,
        "actions": [
            {
                "type": "webhook",
                "url": "http://127.0.0.1:9/hook?secret=s3cr3t",
                "headers": {"X-Token": "abc"},
            },
            {"type": "add_to_dataset", "dataset_id": target["id"], "include_suggestions": True},
        ],
    }
    rule = await api.ok("POST", "/api/v1/rules", json=body)
    webhook, copy = rule["actions"]
    assert webhook["url"] == "http://127.0.0.1:9/hook?secret=s3cr3t"
    assert webhook["headers"] == {"X-Token": "***"}
    assert webhook["policy"]["name"] == "langsmith"
    assert webhook["secret"].startswith("whsec_") and webhook["enabled"] is True
    assert copy == {
        "id": copy["id"],
        "type": "add_to_dataset",
        "dataset_id": target["id"],
        "include_suggestions": True,
    }
    for key in ("name", "filter", "sampling_rate", "interval_seconds"):
        assert rule[key] == body[key]
    assert rule["enabled"] is True and rule["backfill_from"] is None and rule["last_run_at"] is None
    assert await api.ok("GET", f"/api/v1/rules/{rule['id']}") == rule
    assert [r["id"] for r in (await api.ok("GET", "/api/v1/rules"))["items"]] == [rule["id"]]
    assert (await api.ok("GET", f"/api/v1/rules?dataset_id={target['id']}"))["items"] == []
    # the rule's webhook is not an event webhook
    assert (await api.ok("GET", "/api/v1/webhooks"))["items"] == []


async def test_filter_errors_point_at_the_problem(api: Api) -> None:
    dataset = await rules_dataset(api)
    base = {
        "name": "r",
        "dataset_id": dataset["id"],
        "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/"}],
    }
    response = await api.client.post(
        "/api/v1/rules", json={**base, "filter": "status:completed AND (metadata.lang:en"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("filter: invalid query at column")
    response = await api.client.post("/api/v1/rules", json={**base, "filter": "responses.nope.value:3"})
    assert response.status_code == 422
    assert "unknown question 'nope'" in response.json()["detail"]
    response = await api.client.post("/api/v1/rules", json={**base, "sampling_rate": 1.5})
    assert response.status_code == 422
    response = await api.client.post("/api/v1/rules", json={**base, "actions": []})
    assert response.status_code == 422
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await api.client.post("/api/v1/rules", json={**base, "backfill_from": future})
    assert response.status_code == 422 and "past" in response.json()["detail"]
    response = await api.client.post("/api/v1/rules", json={**base, "dataset_id": str(uuid.uuid4())})
    assert response.status_code == 404


async def test_who_may(api: Api) -> None:
    dataset = await rules_dataset(api)
    workspace_id = dataset["workspace_id"]
    other = await api.ok("POST", "/api/v1/workspaces", json={"name": f"ws-{uuid.uuid4().hex[:6]}"})
    admin = await api.create_user("admin", workspace_id=workspace_id)
    outsider = await api.create_user("admin", workspace_id=other["id"])
    annotator = await api.create_user("annotator", workspace_id=workspace_id)
    body = {
        "name": "r",
        "dataset_id": dataset["id"],
        "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/"}],
    }
    async with api.as_user(admin["api_key"]) as client:
        response = await client.post("/api/v1/rules", json=body)
        assert response.status_code == 201, response.text
        rule = response.json()
        assert [r["id"] for r in (await client.get("/api/v1/rules")).json()["items"]] == [rule["id"]]
        assert (await client.post(f"/api/v1/rules/{rule['id']}/trigger")).status_code == 201
    async with api.as_user(outsider["api_key"]) as client:
        assert (await client.post("/api/v1/rules", json=body)).status_code == 403
        assert (await client.get(f"/api/v1/rules/{rule['id']}")).status_code == 403
        assert (await client.get("/api/v1/rules")).json()["items"] == []
    async with api.as_user(annotator["api_key"]) as client:
        assert (await client.get("/api/v1/rules")).status_code == 403
        assert (await client.get(f"/api/v1/rules/{rule['id']}/logs")).status_code == 403


async def test_update_keeps_what_is_not_sent(api: Api, database: Database) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(
        api,
        dataset["id"],
        actions=[
            {"type": "webhook", "url": "http://127.0.0.1:9/a", "headers": {"X-Token": "abc", "X-Other": "1"}}
        ],
    )
    (action,) = rule["actions"]
    changed = await api.ok(
        "PATCH",
        f"/api/v1/rules/{rule['id']}",
        json={
            "name": "renamed",
            "filter": "metadata.lang:es",
            "sampling_rate": 0.25,
            "actions": [
                {**action, "url": "http://127.0.0.1:9/b", "headers": {"X-Token": "***", "X-New": "2"}},
                {"type": "webhook", "url": "http://127.0.0.1:9/c", "policy": "argilla"},
            ],
        },
    )
    kept, added = changed["actions"]
    assert (
        changed["name"] == "renamed"
        and changed["filter"] == "metadata.lang:es"
        and changed["sampling_rate"] == 0.25
    )
    assert kept["id"] == action["id"] and kept["secret"] == action["secret"] and kept["url"].endswith("/b")
    assert kept["headers"] == {"X-Token": "***", "X-New": "***"}
    assert added["policy"]["name"] == "argilla" and added["secret"] != action["secret"]
    async with database.session(write=False) as session:
        stored = await session.scalar(select(Webhook.headers).where(Webhook.url.endswith("/b")))
    assert stored == {"X-Token": "abc", "X-New": "2"}
    response = await api.client.patch(f"/api/v1/rules/{rule['id']}", json={"filter": "metadata.nope:1"})
    assert response.status_code == 422 and "metadata property 'nope'" in response.json()["detail"]
    response = await api.client.patch(f"/api/v1/rules/{rule['id']}", json={"enabled": None})
    assert response.status_code == 422
    # dropping an action deletes its webhook
    after = await api.ok("PATCH", f"/api/v1/rules/{rule['id']}", json={"actions": [added]})
    assert [a["id"] for a in after["actions"]] == [added["id"]]
    async with database.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Webhook)) == 1


async def test_delete_takes_webhooks_and_pending_deliveries(
    api: Api, database: Database, receiver: RuleReceiver
) -> None:
    dataset = await rules_dataset(api, publish=True)
    closed = "http://127.0.0.1:9/never"  # the discard port: nobody answers, deliveries stay pending a while
    rule = await create_rule(api, dataset["id"], closed, backfill_from="2020-01-01T00:00:00Z")
    await upsert(api, dataset["id"], texts(3))
    assert (await trigger(api, rule["id"]))["actions"][0]["batches"] == 1
    deleted = await api.ok("DELETE", f"/api/v1/rules/{rule['id']}")
    assert deleted["id"] == rule["id"]
    assert (await api.client.get(f"/api/v1/rules/{rule['id']}")).status_code == 404
    async with database.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Webhook)) == 0
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_add_to_dataset_needs_compatible_settings(api: Api) -> None:
    dataset = await rules_dataset(api)
    other_ws = await api.ok("POST", "/api/v1/workspaces", json={"name": f"ws-{uuid.uuid4().hex[:6]}"})

    async def refused(target_id: str, **action: object) -> str:
        body = {
            "name": "copy",
            "dataset_id": dataset["id"],
            "actions": [{"type": "add_to_dataset", "dataset_id": target_id, **action}],
        }
        response = await api.client.post("/api/v1/rules", json=body)
        assert response.status_code == 422, response.text
        return str(response.json()["detail"])

    assert "another dataset" in await refused(dataset["id"])
    elsewhere = await rules_dataset(api, workspace_id=other_ws["id"])
    assert "not in the workspace" in await refused(elsewhere["id"])
    draft = await rules_dataset(api, publish=False)
    assert "not published" in await refused(draft["id"])
    needs_more = await rules_dataset(api, fields=("context", "text"))
    assert "requires field 'context'" in await refused(needs_more["id"])
    fewer_labels = await rules_dataset(
        api,
        questions={
            "label": {
                "type": "label_selection",
                "options": [{"value": "pos", "text": "pos"}, {"value": "x", "text": "x"}],
            }
        },
    )
    assert "lacks options ['neg']" in await refused(fewer_labels["id"], include_suggestions=True)
    other_type = await rules_dataset(api, metadata={"lang": {"type": "integer"}})
    assert "metadata property 'lang'" in await refused(other_type["id"])
    assert "not found" in await refused(str(uuid.uuid4()))
