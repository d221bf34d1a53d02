"""Records as plain Python, JSON, JSON Lines or a Hugging Face `datasets.Dataset`.

Nested form (default): `Record.to_dict()`. Flat form (`flatten=True`, what `to_datasets` uses):
fields, metadata and vectors become top-level keys, and each question gives `<q>.suggestion`,
`<q>.suggestion.score`, `<q>.suggestion.agent` and `<q>.responses`, `<q>.responses.users`,
`<q>.responses.status`. Results of a similarity search carry their `score`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from quire.client.records.record import Record

if TYPE_CHECKING:
    from quire.client.settings import Settings

__all__ = ["to_datasets", "to_dict", "to_json", "to_jsonl", "to_list"]

Item = Record | tuple[Record, float]


def record_dict(item: Item, *, flatten: bool = False) -> dict[str, Any]:
    record, score = item if isinstance(item, tuple) else (item, None)
    data = record.to_dict()
    if flatten:
        flat: dict[str, Any] = {"id": data["id"], "status": data["status"], "_server_id": data["_server_id"]}
        flat.update(data["fields"])
        flat.update(data["metadata"])
        flat.update(data["vectors"])
        for suggestion in record.suggestions:
            key = f"{suggestion.question_name}.suggestion"
            flat[key] = suggestion.value
            flat[f"{key}.score"] = suggestion.score
            flat[f"{key}.agent"] = suggestion.agent
        for response in record.responses:
            key = f"{response.question_name}.responses"
            flat.setdefault(key, []).append(response.value)
            flat.setdefault(f"{key}.users", []).append(str(response.user_id))
            flat.setdefault(f"{key}.status", []).append(response.status.value if response.status else None)
        data = flat
    if isinstance(item, tuple):
        data["score"] = score
    return data


def to_list(items: Iterable[Item], *, flatten: bool = False) -> list[dict[str, Any]]:
    """Every record as a dict; all dicts get the same keys (missing ones are None)."""
    rows = [record_dict(item, flatten=flatten) for item in items]
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    for row in rows:
        for key in keys:
            row.setdefault(key, None)
    return rows


def to_dict(
    items: Iterable[Item], *, flatten: bool = False, orient: Literal["names", "index"] = "names"
) -> dict[str, Any]:
    """Columns (`orient="names"`: key -> list of values) or rows by record id (`orient="index"`)."""
    if orient == "names":
        columns: dict[str, list[Any]] = {}
        rows = to_list(items, flatten=flatten)
        for row in rows:
            for key, value in row.items():
                columns.setdefault(key, []).append(value)
        return columns
    if orient == "index":
        out: dict[str, Any] = {}
        for item in items:
            row = record_dict(item, flatten=flatten)
            out[str(row["id"])] = row
        return out
    raise ValueError(f"orient must be 'names' or 'index', got {orient!r}")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def to_json(items: Iterable[Item], path: str | Path) -> Path:
    """A JSON array of nested records (refuses to overwrite an existing file)."""
    target = Path(path)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    with target.open("w", encoding="utf-8") as out:
        json.dump(to_list(items), out, ensure_ascii=False, default=_json_default)
    return target


def to_jsonl(items: Iterable[Item], path: str | Path) -> Path:
    """One nested record per line, written as the records arrive (refuses to overwrite)."""
    target = Path(path)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    with target.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(record_dict(item), ensure_ascii=False, default=_json_default))
            out.write("\n")
    return target


def to_datasets(items: Iterable[Item], settings: Settings | None = None) -> Any:
    """A Hugging Face `datasets.Dataset` of flat records (needs `pip install "quire[datasets]"`)."""
    try:
        datasets = importlib.import_module("datasets")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'to_datasets() needs the Hugging Face datasets library: pip install "quire[datasets]"'
        ) from exc
    rows = to_list(items, flatten=True)
    if not rows and settings is not None:
        columns = ["id", "status", "_server_id", *settings.fields.names, *settings.metadata.names]
        return datasets.Dataset.from_dict({name: [] for name in columns})
    return datasets.Dataset.from_list(rows)
