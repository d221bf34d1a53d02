"""The rows that make records searchable, derived from a record's fields and metadata.

`record_metadata`: one row per scalar metadata value (list members each get one), under the
number of its name in the dataset (`metadata_keys`). Strings and booleans go to `value_text`
(strings cut to 255 characters), numbers to `value_num`; the rows of a list of several members
are marked `multi`. Every key is indexed, declared as a metadata property or not, so a property
added later filters at once.

`record_texts`: one row per field with searchable text (text fields; the contents of chat messages;
the string leaves of custom fields). Image fields hold URLs and are not indexed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

INDEXED_TEXT_MAX = 255
# The longest metadata property name (settings names): longer keys of extra metadata stay in the
# record's JSON but get no index rows, as no filter or sort can name them.
INDEXED_NAME_MAX = 200


def metadata_values(value: Any) -> Iterator[tuple[str | None, float | None]]:
    """(value_text, value_num) pairs for one metadata value."""
    if isinstance(value, bool):
        yield ("true" if value else "false", None)
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return
        yield (None, float(value))
    elif isinstance(value, str):
        yield (value[:INDEXED_TEXT_MAX], None)
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, list | dict):
                yield from metadata_values(item)


def indexed_names(metadata: Mapping[str, Any]) -> Iterator[str]:
    """The names of a record's metadata that get index rows (`metadata_entries` skips the others)."""
    return (name for name in metadata if len(name) <= INDEXED_NAME_MAX)


def metadata_entries(
    metadata: Mapping[str, Any] | None,
) -> list[tuple[str, str | None, float | None, bool]]:
    """(name, value_text, value_num, multi) for every indexed value of a record's metadata; `multi`
    when the name holds several values (search relies on it to know a property is single-valued)."""
    entries: list[tuple[str, str | None, float | None, bool]] = []
    for name, value in (metadata or {}).items():
        if len(name) > INDEXED_NAME_MAX:  # as `indexed_names`, inline: bulk writes call this a lot
            continue
        kind = type(value)
        if kind is str:  # the usual scalars first, without a generator (bulk writes call this a lot)
            entries.append((name, value[:INDEXED_TEXT_MAX], None, False))
        elif kind is int or (kind is float and math.isfinite(value)):
            entries.append((name, None, float(value), False))
        elif kind is not float:
            values = list(metadata_values(value))
            multi = len(values) > 1
            entries.extend((name, text, num, multi) for text, num in values)
    return entries


def metadata_rows(
    record_id: uuid.UUID, keys: Mapping[str, int], metadata: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The `record_metadata` rows of a record; `keys` numbers its metadata names (`metadata_keys`)."""
    return [
        {"record_id": record_id, "key_id": keys[name], "value_text": text, "value_num": num, "multi": multi}
        for name, text, num, multi in metadata_entries(metadata)
    ]


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _string_leaves(item)


def searchable_text(field_type: str, value: Any) -> str | None:
    if value is None or field_type == "image":
        return None
    if field_type == "text":
        return value if isinstance(value, str) and value else None
    if field_type == "chat" and isinstance(value, list):
        text = "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict))
        return text or None
    text = "\n".join(_string_leaves(value))
    return text or None


def text_entries(fields: Mapping[str, Any], field_types: Mapping[str, str]) -> list[tuple[str, str]]:
    """(field name, body) for every field of a record with searchable text."""
    entries: list[tuple[str, str]] = []
    for name, value in fields.items():
        kind = field_types.get(name, "text")
        if kind == "text":  # the usual field, without a call (bulk writes call this a lot)
            if isinstance(value, str) and value:
                entries.append((name, value))
        elif (body := searchable_text(kind, value)) is not None:
            entries.append((name, body))
    return entries


def text_rows(
    record_id: uuid.UUID, dataset_id: uuid.UUID, fields: Mapping[str, Any], field_types: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [
        {"record_id": record_id, "dataset_id": dataset_id, "field_name": name, "body": body}
        for name, body in text_entries(fields, field_types)
    ]
