"""Argilla's webhook routes and quire's additions to the object, through HTTP, on both databases."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api
from tests.server.webhooks.conftest import app_database, create_dataset, create_webhook, stored_webhook

from quire.server.events.catalog import EVENT_TYPES
from quire.server.models import Webhook
from quire.server.webhooks.service import MAX_WEBHOOKS

ARGILLA_KEYS = {"id", "url", "secret", "events", "enabled", "description", "inserted_at", "updated_at"}
QUIRE_KEYS = {
    "headers", "policy", "workspace_id", "dataset_id", "disabled_reason", "consecutive_failures",
    "previous_secret_expires_at",
}  # fmt: skip


async def test_create_list_get_update_delete_with_argilla_shapes(api: Api) -> None:
    created = await api.ok(
        "POST",
        "/api/v1/webhooks",
        json={"url": "https://example.com/hook", "events": ["record.created", "response.created"]},
    )
    assert set(created) == ARGILLA_KEYS | QUIRE_KEYS
    assert created["url"] == "https://example.com/hook"
    assert created["events"] == ["record.created", "response.created"]
    assert created["enabled"] is True and created["description"] is None
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["inserted_at"] == created["updated_at"] and "+" not in created["inserted_at"]
    assert created["policy"]["name"] == "argilla" and created["policy"]["timeout_seconds"] == 20.0
    assert created["headers"] == {} and created["consecutive_failures"] == 0
    assert created["disabled_reason"] is None

    listed = await api.ok("GET", "/api/v1/webhooks")
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert listed["items"][0]["secret"] == created["secret"]  # rg.webhook_listener verifies with it
    assert await api.ok("GET", f"/api/v1/webhooks/{created['id']}") == created

    # the argilla SDK PATCHes its whole model back: id, secret and timestamps are not changes
    sdk_body = {
        "id": created["id"], "inserted_at": created["inserted_at"], "updated_at": created["updated_at"],
        "url": "https://example.com/other", "events": ["record.updated"], "enabled": False,
        "description": "from the SDK", "secret": "whsec_not-this-one",
    }  # fmt: skip
    updated = await api.ok("PATCH", f"/api/v1/webhooks/{created['id']}", json=sdk_body)
    assert updated["url"] == "https://example.com/other" and updated["events"] == ["record.updated"]
    assert updated["enabled"] is False and updated["description"] == "from the SDK"
    assert updated["disabled_reason"] == "disabled through the API"
    assert updated["secret"] == created["secret"] and updated["id"] == created["id"]
    assert updated["updated_at"] > created["updated_at"]

    # description can be cleared, the other Argilla keys cannot be null
    cleared = await api.ok("PATCH", f"/api/v1/webhooks/{created['id']}", json={"description": None})
    assert cleared["description"] is None and cleared["url"] == "https://example.com/other"
    for key in ("url", "events", "enabled", "policy"):
        response = await api.client.patch(f"/api/v1/webhooks/{created['id']}", json={key: None})
        assert response.status_code == 422, key
        assert "cannot be null" in response.json()["detail"]["params"]["message"]

    deleted = await api.ok("DELETE", f"/api/v1/webhooks/{created['id']}")
    assert deleted["id"] == created["id"]
    assert (await api.ok("GET", "/api/v1/webhooks"))["items"] == []
    missing = await api.client.get(f"/api/v1/webhooks/{created['id']}")
    assert missing.status_code == 404 and missing.json() == {
        "detail": f"Webhook with id `{created['id']}` not found"
    }
    for method in ("PATCH", "DELETE"):
        response = await api.client.request(method, f"/api/v1/webhooks/{uuid.uuid4()}", json={})
        assert response.status_code == 404


async def test_list_is_ordered_by_creation(api: Api) -> None:
    ids = [(await create_webhook(api, url=f"http://127.0.0.1:9/{n}"))["id"] for n in range(3)]
    assert [w["id"] for w in (await api.ok("GET", "/api/v1/webhooks"))["items"]] == ids


async def test_only_owners_manage_webhooks(api: Api) -> None:
    webhook = await create_webhook(api)
    workspace = await api.default_workspace()
    for role in ("admin", "annotator"):
        user = await api.create_user(role, workspace_id=workspace["id"])
        client = api.as_user(user["api_key"])
        base = "/api/v1/webhooks"
        one = f"{base}/{webhook['id']}"
        calls: list[tuple[str, str, Any]] = [
            ("GET", base, None),
            ("POST", base, {"url": "http://127.0.0.1:9/x", "events": ["record.created"]}),
            ("GET", one, None),
            ("PATCH", one, {"enabled": False}),
            ("DELETE", one, None),
            ("POST", f"{one}/ping", None),
            ("POST", f"{one}/enable", None),
            ("POST", f"{one}/rotate-secret", {}),
            ("GET", f"{one}/deliveries", None),
            ("GET", f"{one}/deliveries/{uuid.uuid4()}", None),
            ("POST", f"{one}/deliveries/{uuid.uuid4()}/redeliver", None),
            ("POST", f"{one}/replay", {"since": "2020-01-01T00:00:00"}),
        ]
        for method, url, body in calls:
            response = await client.request(method, url, json=body)
            assert response.status_code == 403, (role, method, url, response.text)
            assert response.json()["detail"]["code"] == "argilla.api.errors::ForbiddenOperationError"
    assert (await api.ok("GET", f"/api/v1/webhooks/{webhook['id']}"))["enabled"] is True


async def _error(
    api: Api, body: dict[str, Any], *, method: str = "POST", url: str = "/api/v1/webhooks"
) -> str:
    response = await api.client.request(method, url, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else str(detail["params"]["message"])


async def test_validation_errors_say_what_is_allowed(api: Api) -> None:
    good = {"url": "http://127.0.0.1:9/hook", "events": ["record.created"]}
    message = await _error(api, {**good, "events": ["record.created", "record.exploded"]})
    assert "'record.exploded'" in message and all(t in message for t in EVENT_TYPES)
    assert "at least one event" in await _error(api, {**good, "events": []})
    assert "unique" in await _error(api, {**good, "events": ["record.created", "record.created"]})
    assert "ping" in await _error(api, {**good, "events": ["ping"]})
    for url in ("ftp://example.com/x", "example.com/hook", "http://", "javascript:alert(1)", "http://a b/"):
        assert "url" in (await _error(api, {**good, "url": url})).lower(), url
    assert "2048" in await _error(api, {**good, "url": "https://example.com/" + "a" * 2100})
    assert "at most 1000" in await _error(api, {**good, "description": "x" * 1001})
    assert "at least 1" in await _error(api, {**good, "description": ""})
    assert "events" in await _error(api, {"url": good["url"]})
    assert "unknown delivery policy 'fast'" in await _error(api, {**good, "policy": "fast"})
    assert "timeout_seconds" in await _error(api, {**good, "policy": {"timeout_seconds": -1}})
    assert "webhook-id" in await _error(api, {**good, "headers": {"webhook-id": "x"}})
    assert "Content-Type" in await _error(api, {**good, "headers": {"Content-Type": "text/plain"}})
    assert "invalid header name" in await _error(api, {**good, "headers": {"Bad Name": "x"}})
    assert "line break" in await _error(api, {**good, "headers": {"X-A": "a\r\nX-B: b"}})
    assert "Workspace with id" in await _error(api, {**good, "workspace_id": str(uuid.uuid4())})
    assert "Dataset with id" in await _error(api, {**good, "dataset_id": str(uuid.uuid4())})
    assert (await api.ok("GET", "/api/v1/webhooks"))["items"] == []


async def test_headers_are_masked_and_kept_on_round_trip(api: Api, app: Any) -> None:
    created = await create_webhook(api, headers={"Authorization": "Bearer s3cr3t", "X-Team": "nlp"})
    assert created["headers"] == {"Authorization": "***", "X-Team": "***"}
    assert "s3cr3t" not in str(await api.ok("GET", "/api/v1/webhooks"))

    url = f"/api/v1/webhooks/{created['id']}"
    # sending back what was read keeps the stored values; new values replace; absent names go
    kept = await api.ok("PATCH", url, json={"headers": {"Authorization": "***", "X-New": "1"}})
    assert kept["headers"] == {"Authorization": "***", "X-New": "***"}
    assert "no stored value" in await _error(api, {"headers": {"X-Other": "***"}}, method="PATCH", url=url)
    assert (await stored_webhook(app, created["id"])).headers == {
        "Authorization": "Bearer s3cr3t",
        "X-New": "1",
    }
    assert (await api.ok("PATCH", url, json={"headers": None}))["headers"] == {}
    assert (await stored_webhook(app, created["id"])).headers is None


async def test_policy_presets_and_custom(api: Api) -> None:
    langsmith = await create_webhook(api, policy="langsmith")
    assert langsmith["policy"]["name"] == "langsmith" and langsmith["policy"]["timeout_seconds"] == 5.0
    custom = await create_webhook(
        api,
        policy={"timeout_seconds": 3, "max_attempts": 2, "schedule_seconds": [1], "retry_statuses": ["5xx"]},
    )
    assert custom["policy"]["name"] == "custom"
    assert (custom["policy"]["timeout_seconds"], custom["policy"]["max_attempts"]) == (3.0, 2)
    changed = await api.ok("PATCH", f"/api/v1/webhooks/{custom['id']}", json={"policy": "argilla"})
    assert changed["policy"]["name"] == "argilla" and changed["policy"]["max_attempts"] == 4


async def test_scope_is_validated(api: Api) -> None:
    workspace = await api.default_workspace()
    dataset = await create_dataset(api)
    other = await api.ok("POST", "/api/v1/workspaces", json={"name": f"ws-{uuid.uuid4().hex[:6]}"})
    scoped = await create_webhook(api, workspace_id=workspace["id"], dataset_id=dataset["id"])
    assert (scoped["workspace_id"], scoped["dataset_id"]) == (workspace["id"], dataset["id"])
    message = await _error(
        api,
        {"url": "http://127.0.0.1:9/x", "events": ["record.created"], "workspace_id": other["id"], "dataset_id": dataset["id"]},
    )  # fmt: skip
    assert "is not in workspace" in message
    url = f"/api/v1/webhooks/{scoped['id']}"
    assert "is not in workspace" in await _error(api, {"workspace_id": other["id"]}, method="PATCH", url=url)
    unscoped = await api.ok("PATCH", url, json={"workspace_id": None, "dataset_id": None})
    assert (unscoped["workspace_id"], unscoped["dataset_id"]) == (None, None)


async def test_cap_on_event_webhooks(api: Api, app: Any) -> None:
    async with app_database(app).transaction() as session:
        for n in range(MAX_WEBHOOKS - 1):
            session.add(
                Webhook(
                    url=f"http://127.0.0.1:9/{n}", secret="whsec_AAAA", events=["record.created"],
                    policy={}, kind="events",
                )
            )  # fmt: skip
        # webhooks of automation rules neither count nor show
        session.add(
            Webhook(url="http://127.0.0.1:9/rule", secret="whsec_AAAA", events=[], policy={}, kind="rule")
        )
    await create_webhook(api)
    assert "Maximum number of webhooks reached (100)" in await _error(
        api, {"url": "http://127.0.0.1:9/x", "events": ["record.created"]}
    )
    listed = (await api.ok("GET", "/api/v1/webhooks"))["items"]
    assert len(listed) == MAX_WEBHOOKS and all(w["url"] != "http://127.0.0.1:9/rule" for w in listed)


async def test_rule_webhooks_are_not_managed_here(api: Api, app: Any) -> None:
    rule_id = uuid.uuid4()
    async with app_database(app).transaction() as session:
        session.add(
            Webhook(
                id=rule_id, url="http://127.0.0.1:9/r", secret="whsec_AAAA", events=[], policy={}, kind="rule"
            )
        )
    for method, suffix in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/enable"),
        ("GET", "/deliveries"),
    ):
        response = await api.client.request(method, f"/api/v1/webhooks/{rule_id}{suffix}", json={})
        assert response.status_code == 404, (method, suffix)
