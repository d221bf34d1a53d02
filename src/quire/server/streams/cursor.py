"""Positions in the event stream, sent as SSE `id:` and read back from `Last-Event-ID`.

SQLite serializes writers, so `events.id` follows commit order and the position is the id (`"42"`).
PostgreSQL assigns ids out of commit order (a transaction that started first may commit last), so
the stream reads only events of transactions older than every running one (`txid` below the snapshot
`xmin`) and orders them by `(txid, id)`: the position is `"<txid>-<id>"`. Clients treat it as opaque.
"""

from __future__ import annotations

from dataclasses import dataclass

from quire.server.db import Dialect

MAX_ID = 2**63 - 1


class CursorError(ValueError):
    """A `Last-Event-ID` this server did not send."""


@dataclass(frozen=True, order=True)
class Cursor:
    txid: int
    id: int

    def encode(self, dialect: Dialect) -> str:
        return str(self.id) if dialect == "sqlite" else f"{self.txid}-{self.id}"


def parse(value: str, dialect: Dialect) -> Cursor | int:
    """A cursor, or (PostgreSQL) a bare event id whose txid the caller must look up."""
    text = value.strip()
    try:
        parts = [int(part) for part in text.split("-", 1)] if dialect == "postgresql" else [int(text)]
        if any(not 0 <= part <= MAX_ID for part in parts):
            raise ValueError("out of range")
    except ValueError:
        raise CursorError(f"invalid Last-Event-ID {value!r}: send back an `id:` this stream sent") from None
    if dialect == "sqlite":
        return Cursor(0, parts[0])
    return Cursor(parts[0], parts[1]) if len(parts) == 2 else parts[0]
