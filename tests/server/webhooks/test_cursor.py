"""Stream cursors: what is sent as `id:` parses back to the same position, on both dialects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quire.server.streams.cursor import MAX_ID, Cursor, CursorError, parse

ids = st.integers(min_value=0, max_value=MAX_ID)


@given(txid=ids, event_id=ids)
def test_round_trip(txid: int, event_id: int) -> None:
    assert parse(Cursor(txid, event_id).encode("postgresql"), "postgresql") == Cursor(txid, event_id)
    assert parse(Cursor(0, event_id).encode("sqlite"), "sqlite") == Cursor(0, event_id)


def test_bare_ids_and_garbage() -> None:
    assert parse(" 42 ", "postgresql") == 42  # a bare id: the caller looks its txid up
    assert parse("42", "sqlite") == Cursor(0, 42)
    for bad in ("", "abc", "-1", "1-", "-", "1-2-3", str(MAX_ID + 1), f"1-{MAX_ID + 1}", "1.5"):
        with pytest.raises(CursorError):
            parse(bad, "postgresql")
    for bad in ("", "abc", "-1", "1-2", str(MAX_ID + 1)):
        with pytest.raises(CursorError):
            parse(bad, "sqlite")


def test_order_is_txid_then_id() -> None:
    assert Cursor(1, 99) < Cursor(2, 1) < Cursor(2, 5)
