"""Refuse NUL characters (U+0000) in request text, on every store alike.

PostgreSQL cannot store U+0000 in `text` or `jsonb` (it fails the whole transaction with an
encoding error), SQLite can. Rather than a 500 on one store and a silent success on the other,
every `/api/v1` request whose query string or path holds `%00`, or whose JSON body holds the
escape `\\u0000`, is a 422 that says where the character is. Bodies are scanned as bytes (a
backslash-escaped backslash before `u0000` is not an escape), without parsing them again.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

_ESCAPE = b"\\u0000"
_BACKSLASH = 0x5C
_MESSAGE = "text may not contain the NUL character (\\u0000)"


def nul_escape_at(raw: bytes) -> int | None:
    """Offset of the first `\\u0000` escape of a JSON document, if any."""
    start = 0
    while (found := raw.find(_ESCAPE, start)) != -1:
        before = found
        while before > 0 and raw[before - 1] == _BACKSLASH:
            before -= 1
        if (found - before) % 2 == 0:  # not itself escaped: `\\u0000` is a backslash and "u0000"
            return found
        start = found + 1
    return None


def _refuse(location: tuple[str | int, ...]) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": location, "msg": _MESSAGE, "input": None}])


async def refuse_nul_characters(request: Request) -> None:
    """A dependency of every API route."""
    if b"%00" in request.scope.get("query_string", b""):
        raise _refuse(("query",))
    if "\x00" in request.url.path:
        raise _refuse(("path",))
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            position = nul_escape_at(await request.body())
            if position is not None:
                raise _refuse(("body", position))
