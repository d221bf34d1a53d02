"""A bound on how deeply the JSON values quire stores may nest.

Record fields of custom type, metadata values and a dataset's `metadata` take any JSON. Stored
documents wrap them a few levels deeper still (a record inside an event inside its envelope), and
the encoder refuses documents deeper than 254 levels, PostgreSQL's `jsonb` and SQLite's JSON
functions have limits of their own. A value that nests deeper than `MAX_JSON_DEPTH` levels is
refused where it comes in, with the place and the limit in the message; anything deeper that
reaches the encoder elsewhere is still a 422 (`errors.py`), never a 500.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 64
"""Objects and arrays inside one another, counting the outermost (`{"a": [1]}` is 2 deep)."""


def depth_beyond(value: Any, limit: int = MAX_JSON_DEPTH) -> int | None:
    """How deep `value` nests, when that is more than `limit`; None otherwise. Scalars are 0 deep.
    Iterative, so that no input can exhaust Python's own recursion limit."""
    if not isinstance(value, dict | list):
        return None
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None


def too_deep_message(what: str, depth: int, limit: int = MAX_JSON_DEPTH) -> str:
    return f"{what} nests objects and arrays at least {depth} levels deep; at most {limit} are allowed"


def bounded_depth(value: Any) -> Any:
    """A pydantic `AfterValidator`: `value` unchanged, or a ValueError naming the limit."""
    depth = depth_beyond(value)
    if depth is not None:
        raise ValueError(too_deep_message("the value", depth))
    return value
