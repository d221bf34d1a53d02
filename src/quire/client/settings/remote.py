"""Reading and writing a dataset's settings on the server (one request per setting, as the REST API
is shaped)."""

from __future__ import annotations

import uuid
from typing import Any

from quire.client.http import HTTPClient
from quire.client.settings.base import Property
from quire.client.settings.fields import field_from_wire
from quire.client.settings.metadata import metadata_from_wire, vector_from_wire
from quire.client.settings.questions import question_from_wire
from quire.client.settings.settings import Settings, TaskDistribution


def _groups(settings: Settings) -> list[list[Property]]:
    return [list(settings.fields), list(settings.questions), list(settings.vectors), list(settings.metadata)]


def dataset_patch(settings: Settings) -> dict[str, Any]:
    """The dataset-level part: guidelines, extra metadata, distribution."""
    body: dict[str, Any] = {
        "allow_extra_metadata": settings.allow_extra_metadata,
        "distribution": settings.distribution.to_wire(),
    }
    if settings.guidelines is not None:
        body["guidelines"] = settings.guidelines
    return body


def create_properties(http: HTTPClient, dataset_id: uuid.UUID, settings: Settings) -> None:
    """POST every setting that has no server id yet (fields first: span questions refer to them)."""
    for group in _groups(settings):
        for prop in group:
            if prop.id is None:
                wire = http.post(f"/api/v1/datasets/{dataset_id}/{prop.create_path}", json=prop.to_wire())
                prop._bind(wire)


def update_properties(http: HTTPClient, dataset_id: uuid.UUID, settings: Settings) -> None:
    """PATCH the settings that exist on the server, create the new ones."""
    for group in _groups(settings):
        for prop in group:
            if prop.id is None:
                wire = http.post(f"/api/v1/datasets/{dataset_id}/{prop.create_path}", json=prop.to_wire())
            else:
                wire = http.patch(f"/api/v1/{prop.update_path}/{prop.id}", json=prop.update_wire())
            prop._bind(wire)


def fetch_settings(http: HTTPClient, dataset_wire: dict[str, Any], mapping: Any = None) -> Settings:
    dataset_id = dataset_wire["id"]
    base = f"/api/v1/datasets/{dataset_id}"
    fields = [field_from_wire(w) for w in http.get(f"{base}/fields")["items"]]
    questions = [question_from_wire(w) for w in http.get(f"{base}/questions")["items"]]
    vectors = [vector_from_wire(w) for w in http.get(f"{base}/vectors-settings")["items"]]
    metadata = [
        metadata_from_wire(w)
        for w in http.get(f"/api/v1/me/datasets/{dataset_id}/metadata-properties")["items"]
    ]
    return Settings(
        fields=fields,
        questions=questions,
        vectors=vectors,
        metadata=metadata,
        guidelines=dataset_wire.get("guidelines"),
        allow_extra_metadata=bool(dataset_wire.get("allow_extra_metadata", False)),
        distribution=TaskDistribution.from_wire(dataset_wire.get("distribution")),
        mapping=mapping,
    )
