"""Builders for test datasets, going through the HTTP API like the SDK does."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api

LABEL_OPTIONS = [{"value": "pos", "text": "Positive"}, {"value": "neg", "text": "Negative"}]
QUESTIONS: dict[str, dict[str, Any]] = {
    "label": {"type": "label_selection", "options": LABEL_OPTIONS},
    "topics": {
        "type": "multi_label_selection",
        "options": [{"value": v, "text": v.upper()} for v in ("a", "b", "c")],
    },
    "rating": {"type": "rating", "options": [{"value": v} for v in range(1, 6)]},
    "rank": {"type": "ranking", "options": [{"value": v, "text": v} for v in ("r1", "r2", "r3")]},
    "comment": {"type": "text", "use_markdown": False},
    "spans": {"type": "span", "field": "text", "options": [{"value": v, "text": v} for v in ("PER", "ORG")]},
}
METADATA: dict[str, dict[str, Any]] = {
    "lang": {"type": "terms", "values": ["en", "es", "fr"]},
    "n": {"type": "integer", "min": 0, "max": 1000},
    "score": {"type": "float"},
}


async def make_dataset(
    api: Api,
    *,
    name: str | None = None,
    workspace_id: str | None = None,
    questions: dict[str, dict[str, Any]] | None = None,
    required: tuple[str, ...] = ("label",),
    metadata: dict[str, dict[str, Any]] | None = None,
    vectors: dict[str, int] | None = None,
    fields: tuple[str, ...] = ("text",),
    publish: bool = True,
    min_submitted: int = 1,
    allow_extra_metadata: bool = False,
) -> dict[str, Any]:
    """Create a dataset the way the argilla SDK does: POST, PATCH, one POST per setting, publish."""
    workspace_id = workspace_id or (await api.default_workspace())["id"]
    dataset = await api.ok(
        "POST",
        "/api/v1/datasets",
        json={"name": name or f"ds-{uuid.uuid4().hex[:8]}", "workspace_id": workspace_id},
    )
    dataset_id = dataset["id"]
    await api.ok(
        "PATCH",
        f"/api/v1/datasets/{dataset_id}",
        json={
            "allow_extra_metadata": allow_extra_metadata,
            "distribution": {"strategy": "overlap", "min_submitted": min_submitted},
        },
    )
    for field in fields:
        await api.ok(
            "POST",
            f"/api/v1/datasets/{dataset_id}/fields",
            json={
                "name": field,
                "title": field,
                "required": field == fields[0],
                "settings": {"type": "text"},
            },
        )
    for qname, settings in (QUESTIONS if questions is None else questions).items():
        await api.ok(
            "POST",
            f"/api/v1/datasets/{dataset_id}/questions",
            json={"name": qname, "title": qname, "required": qname in required, "settings": settings},
        )
    for mname, settings in (METADATA if metadata is None else metadata).items():
        await api.ok(
            "POST",
            f"/api/v1/datasets/{dataset_id}/metadata-properties",
            json={"name": mname, "title": mname, "settings": settings},
        )
    for vname, dims in (vectors or {}).items():
        await api.ok(
            "POST",
            f"/api/v1/datasets/{dataset_id}/vectors-settings",
            json={"name": vname, "title": vname, "dimensions": dims},
        )
    if publish:
        await api.ok("PUT", f"/api/v1/datasets/{dataset_id}/publish")
    return dict(await api.ok("GET", f"/api/v1/datasets/{dataset_id}"))


async def question_ids(api: Api, dataset_id: str) -> dict[str, str]:
    items = (await api.ok("GET", f"/api/v1/datasets/{dataset_id}/questions"))["items"]
    return {q["name"]: q["id"] for q in items}
