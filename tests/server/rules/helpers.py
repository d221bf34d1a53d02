"""Helpers of the rule tests: a receiver that also keeps query strings, and builders that go
through the HTTP API."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import Api
from tests.server.delivery.receiver import Received, Receiver
from tests.server.helpers import make_dataset

RULE_QUESTIONS: dict[str, dict[str, Any]] = {
    "label": {"type": "label_selection", "options": [{"value": v, "text": v} for v in ("pos", "neg")]},
    "topics": {
        "type": "multi_label_selection",
        "options": [{"value": v, "text": v} for v in ("a", "b", "c")],
    },
    "rating": {"type": "rating", "options": [{"value": v} for v in range(1, 6)]},
    "comment": {"type": "text", "use_markdown": False},
}
RULE_METADATA: dict[str, dict[str, Any]] = {
    "lang": {"type": "terms", "values": ["en", "es"]},
    "n": {"type": "integer", "min": 0, "max": 1_000_000},
}


@dataclass
class RuleReceiver(Receiver):
    queries: dict[str, str] = field(default_factory=dict)
    """`webhook-id` -> the query string its first request came with."""

    async def wait_for(self, count: int, *, path_prefix: str = "/", within: float = 60.0) -> list[Received]:
        """As the delivery receiver's, with a deadline for a loaded machine (it returns as soon as
        the requests are in)."""
        return await super().wait_for(count, path_prefix=path_prefix, within=within)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.queries.setdefault(request.headers.get("webhook-id", ""), request.query_string)
        return await super()._handle(request)

    def payloads(self, path_prefix: str = "/") -> list[dict[str, Any]]:
        """Verified bodies, once per `webhook-id` (a redelivery is the same message)."""
        seen: dict[str, dict[str, Any]] = {}
        for r in self.on(path_prefix):
            assert r.verified, f"unverified request {r.msg_id}"
            seen.setdefault(r.msg_id, r.payload)
        return list(seen.values())


async def rules_dataset(api: Api, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("questions", RULE_QUESTIONS)
    kwargs.setdefault("metadata", RULE_METADATA)
    kwargs.setdefault("required", ("label",))
    return await make_dataset(api, **kwargs)


async def upsert(api: Api, dataset_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(items), 500):
        page = await api.ok(
            "PUT", f"/api/v1/datasets/{dataset_id}/records/bulk", json={"items": items[start : start + 500]}
        )
        out.extend(page["items"])
    return out


def texts(count: int, *, prefix: str = "r", lang: str = "en") -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"{prefix}{i}",
            "fields": {"text": f"text {prefix}{i}"},
            "metadata": {"lang": lang, "n": i},
        }
        for i in range(count)
    ]


async def create_rule(api: Api, dataset_id: str, url: str | None = None, **body: Any) -> dict[str, Any]:
    actions = body.pop("actions", None)
    if actions is None:
        actions = [{"type": "webhook", "url": url}]
    payload = {"name": f"rule-{uuid.uuid4().hex[:6]}", "dataset_id": dataset_id, "actions": actions, **body}
    return dict(await api.ok("POST", "/api/v1/rules", json=payload))


async def trigger(api: Api, rule_id: str) -> dict[str, Any]:
    return dict(await api.ok("POST", f"/api/v1/rules/{rule_id}/trigger"))


async def run_logs(api: Api, rule_id: str) -> list[dict[str, Any]]:
    return list((await api.ok("GET", f"/api/v1/rules/{rule_id}/logs?limit=1000"))["items"])


def webhook_secret(rule: dict[str, Any]) -> str:
    return str(next(a for a in rule["actions"] if a["type"] == "webhook")["secret"])


def assert_contiguous(logs: list[dict[str, Any]]) -> None:
    runs = sorted(logs, key=lambda r: r["id"])
    assert all(r["error"] is None for r in runs), [r["error"] for r in runs]
    for before, after in itertools.pairwise(runs):
        assert after["start_time"] == before["end_time"], (before, after)
        assert after["start_time"] <= after["end_time"]


def sent_by_window(receiver: RuleReceiver) -> dict[str, list[str]]:
    windows: dict[str, list[str]] = defaultdict(list)
    for body in receiver.payloads():
        windows[body["start_time"]].extend(r["id"] for r in body["runs"])
    return windows


async def settled(
    api: Api, rule_id: str, receiver: RuleReceiver, *, path: str = "/", within: float = 60.0
) -> list[dict[str, Any]]:
    """Wait until every batch the rule queued arrived (at `path`); returns the logs."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        logs = await run_logs(api, rule_id)
        batches = sum(a.get("batches", 0) for r in logs for a in r["actions"])
        if len(set(receiver.msg_ids(path))) >= batches:
            return logs
        outcomes = [
            {k: a.get(k) for k in ("delivered", "failed", "pending")} for r in logs for a in r["actions"]
        ]
        assert asyncio.get_running_loop().time() < deadline, (
            f"{batches} batches queued, not all arrived: {outcomes}"
        )
        await asyncio.sleep(0.05)
