"""How quire sets up its database connections."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from quire.server.db import Database


async def test_postgresql_connections_do_not_jit_compile(database: Database) -> None:
    """Sorts by suggestion or response values are costed past PostgreSQL's `jit_above_cost` and
    spent about half their time compiling (benchmarks/search_shapes.py)."""
    if database.dialect != "postgresql":
        pytest.skip("PostgreSQL's setting")
    for write in (False, True):
        async with database.session(write=write) as session:
            assert await session.scalar(text("SHOW jit")) == "off"
