"""Refuse text that not every store can hold, on every store alike: NUL characters (U+0000) and
unpaired UTF-16 surrogates (U+D800–U+DFFF on their own).

PostgreSQL cannot store U+0000 in `text` or `jsonb` (it fails the whole transaction with an
encoding error), SQLite can. A lone surrogate is not a character at all: JSON lets a body write one
as an escape (`\\ud800`), Python decodes it, and then the JSON encoder and PostgreSQL refuse it.
Rather than a 500 on one store and a silent success on the other, every `/api/v1` request whose
query string or path holds `%00`, or whose JSON body holds the escape `\\u0000` or an escaped
surrogate that is not half of a pair, is a 422 that says where. Bodies are scanned as bytes
(a backslash-escaped backslash before `u0000` is not an escape), without parsing them again; the
exact scans only run on bodies where one regex pass found a candidate (most bodies have none).
"""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError

_ESCAPE = b"\\u0000"
_BACKSLASH = 0x5C
_NUL_MESSAGE = "text may not contain the NUL character (\\u0000)"
_SURROGATE_MESSAGE = (
    "text may not contain an unpaired surrogate escape (\\ud800 to \\udfff not forming a high-low pair)"
)
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Either escape, escaped or not: one regex pass rules most bodies out, several times faster than
# the exact scans below (and a body without a backslash needs only a single-byte search).
_CANDIDATE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _escaped(raw: bytes, at: int) -> bool:
    """Whether the backslash at `at` starts an escape (an even number of backslashes before it)."""
    before = at
    while before > 0 and raw[before - 1] == _BACKSLASH:
        before -= 1
    return (at - before) % 2 == 0


def nul_escape_at(raw: bytes) -> int | None:
    """Offset of the first `\\u0000` escape of a JSON document, if any."""
    start = 0
    while (found := raw.find(_ESCAPE, start)) != -1:
        if _escaped(raw, found):  # not itself escaped: `\\u0000` is a backslash and "u0000"
            return found
        start = found + 1
    return None


def lone_surrogate_at(raw: bytes) -> int | None:
    """Offset of the first escaped surrogate of a JSON document that is not half of a pair: a high
    one (`\\ud800`–`\\udbff`) not followed at once by a low one (`\\udc00`–`\\udfff`), or a low
    one not preceded by a high one."""
    if b"\\ud" not in raw and b"\\uD" not in raw:
        return None
    expect_low_at = -1  # where the low half of the last high surrogate must start
    for match in _SURROGATE.finditer(raw):
        at = match.start()
        if not _escaped(raw, at):
            continue
        high = raw[at + 3] in b"89abAB"
        if expect_low_at != -1:
            if at != expect_low_at or high:
                return expect_low_at - 6  # the high half before stands alone
            expect_low_at = -1
            continue
        if not high:
            return at
        expect_low_at = at + 6
    return None if expect_low_at == -1 else expect_low_at - 6


def _refuse(location: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": location, "msg": message, "input": None}])


async def refuse_unstorable_text(request: Request) -> None:
    """A dependency of every API route."""
    if b"%00" in request.scope.get("query_string", b""):
        raise _refuse(("query",), _NUL_MESSAGE)
    if "\x00" in request.url.path:
        raise _refuse(("path",), _NUL_MESSAGE)
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            raw = await request.body()
            if b"\\" not in raw or _CANDIDATE.search(raw) is None:
                return
            position = nul_escape_at(raw)
            if position is not None:
                raise _refuse(("body", position), _NUL_MESSAGE)
            position = lone_surrogate_at(raw)
            if position is not None:
                raise _refuse(("body", position), _SURROGATE_MESSAGE)
