"""Alembic environment. Migrations always run on a connection handed in by `quire.server.migrate`
(`config.attributes["connection"]`), inside its transaction and lock."""

from __future__ import annotations

from alembic import context

from quire.server.migrate import managed_by_models
from quire.server.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded usage
    raise RuntimeError("run migrations with `quire db migrate`, not the alembic command line")


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_name=managed_by_models,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
context.run_migrations()
