"""Event data builders: pure functions from rows to the dicts of seed 000.

dataset: id, name, guidelines, allow_extra_metadata, status, distribution, workspace, questions,
fields, metadata_properties, vectors_settings, last_activity_at, inserted_at, updated_at.
record: id, status, fields, metadata, external_id, dataset, inserted_at, updated_at.
response: id, values, status, record, user, inserted_at, updated_at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quire.server.models import Dataset, Response, User
from quire.server.wire import wire_datetime


def _stamps(row: Any) -> dict[str, str]:
    return {"inserted_at": wire_datetime(row.inserted_at), "updated_at": wire_datetime(row.updated_at)}


def dataset_data(dataset: Dataset) -> dict[str, Any]:
    """`dataset` must have its workspace and settings loaded."""
    workspace = dataset.workspace
    return {
        "id": str(dataset.id),
        "name": dataset.name,
        "guidelines": dataset.guidelines,
        "allow_extra_metadata": dataset.allow_extra_metadata,
        "status": str(dataset.status),
        "distribution": dataset.distribution,
        "workspace": {"id": str(workspace.id), "name": workspace.name, **_stamps(workspace)},
        "questions": [
            {
                "id": str(q.id), "name": q.name, "title": q.title, "description": q.description,
                "required": q.required, "settings": q.settings, **_stamps(q),
            }
            for q in dataset.questions
        ],
        "fields": [
            {"id": str(f.id), "name": f.name, "title": f.title, "required": f.required, "settings": f.settings, **_stamps(f)}
            for f in dataset.fields
        ],
        "metadata_properties": [
            {
                "id": str(p.id), "name": p.name, "title": p.title, "settings": p.settings,
                "visible_for_annotators": p.visible_for_annotators, **_stamps(p),
            }
            for p in dataset.metadata_properties
        ],
        "vectors_settings": [
            {"id": str(v.id), "name": v.name, "title": v.title, "dimensions": v.dimensions, **_stamps(v)}
            for v in dataset.vectors_settings
        ],
        "last_activity_at": wire_datetime(dataset.last_activity_at),
        "inserted_at": wire_datetime(dataset.inserted_at),
        "updated_at": wire_datetime(dataset.updated_at),
    }  # fmt: skip


def record_data(record: Mapping[str, Any]) -> dict[str, Any]:
    """From a record wire dict (`records.serialize.record_dict`); the dataset is added on delivery."""
    return {
        "id": str(record["id"]),
        "status": str(record["status"]),
        "fields": record["fields"],
        "metadata": record["metadata"],
        "external_id": record["external_id"],
        "inserted_at": record["inserted_at"],
        "updated_at": record["updated_at"],
    }


def user_data(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "role": str(user.role),
        **_stamps(user),
    }


def response_data(
    response: Response | Mapping[str, Any], user: Mapping[str, Any], record: Mapping[str, Any]
) -> dict[str, Any]:
    """`record` from `record_data` (its dataset is added on delivery), `user` from `user_data`."""
    get = response.get if isinstance(response, Mapping) else lambda key: getattr(response, key)
    return {
        "id": str(get("id")),
        "values": get("values"),
        "status": str(get("status")),
        "record": dict(record),
        "user": dict(user),
        "inserted_at": _wire(get("inserted_at")),
        "updated_at": _wire(get("updated_at")),
    }


def _wire(value: Any) -> str:
    return value if isinstance(value, str) else wire_datetime(value)
