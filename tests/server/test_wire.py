"""`wire.dumps`: the JSON of hot-path responses."""

from __future__ import annotations

import uuid

import orjson
import pytest

from quire.server.wire import dumps


class _DriverUUID(uuid.UUID):
    """Stands for asyncpg's UUID subclass, which orjson does not serialize natively."""


def test_string_keys_and_uuids() -> None:
    value = {"id": uuid.UUID(int=1), "other": _DriverUUID(int=2), "n": [1, 2.5, None]}
    assert orjson.loads(dumps(value)) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "other": "00000000-0000-0000-0000-000000000002",
        "n": [1, 2.5, None],
    }


def test_keys_that_are_not_strings_are_written_as_strings() -> None:
    value = {"counts": {1: "one", uuid.UUID(int=3): "three"}, "plain": {"a": 1}}
    assert orjson.loads(dumps(value)) == {
        "counts": {"1": "one", "00000000-0000-0000-0000-000000000003": "three"},
        "plain": {"a": 1},
    }


def test_what_json_cannot_hold_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        dumps({"x": object()})
