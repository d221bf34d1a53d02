"""Test fixtures. Every store-touching test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `QUIRE_TEST_POSTGRES_URL` (an admin URL, e.g.
`postgresql://postgres@127.0.0.1:5432/postgres`). Without it the PostgreSQL half is skipped, unless
`QUIRE_TEST_REQUIRE_POSTGRES=1` (set by `.ci/run`), which turns the skip into a failure.

Each test gets a fresh database copied from a template migrated once per session (a file copy on
SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL), so tests never depend on order.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from quire.server.app import create_app
from quire.server.bootstrap import ensure_owner
from quire.server.db import Database
from quire.server.migrate import migrate
from quire.server.settings import Settings

OWNER_KEY = "owner.apikey.for.tests"
BACKENDS = ("sqlite", "postgresql")


def postgres_admin_url() -> str | None:
    url = os.environ.get("QUIRE_TEST_POSTGRES_URL")
    if not url and os.environ.get("QUIRE_TEST_REQUIRE_POSTGRES") == "1":
        raise RuntimeError("QUIRE_TEST_REQUIRE_POSTGRES=1 but QUIRE_TEST_POSTGRES_URL is not set")
    return url


def _pg_url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


async def _pg_exec(admin_url: str, *statements: str) -> None:
    url = make_url(admin_url)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await migrate(database)
    finally:
        await database.dispose()


@dataclass
class Templates:
    sqlite_file: Path
    pg_admin_url: str | None
    pg_template: str | None


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Templates]:
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite:///{sqlite_file}"))
    admin = postgres_admin_url()
    pg_template = None
    if admin:
        pg_template = f"quire_tpl_{worker_id}_{os.getpid()}"
        asyncio.run(
            _pg_exec(admin, f'DROP DATABASE IF EXISTS "{pg_template}"', f'CREATE DATABASE "{pg_template}"')
        )
        asyncio.run(_migrate(_pg_url(admin, pg_template)))
    yield Templates(sqlite_file=sqlite_file, pg_admin_url=admin, pg_template=pg_template)
    if admin and pg_template:
        asyncio.run(_pg_exec(admin, f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, templates: Templates, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database for this test."""
    if backend == "sqlite":
        target = tmp_path / "quire.db"
        shutil.copyfile(templates.sqlite_file, target)
        yield f"sqlite:///{target}"
        return
    if not templates.pg_admin_url or not templates.pg_template:
        pytest.skip("PostgreSQL tests need QUIRE_TEST_POSTGRES_URL")
    name = f"quire_t_{uuid.uuid4().hex[:16]}"
    admin = templates.pg_admin_url
    asyncio.run(_pg_exec(admin, f'CREATE DATABASE "{name}" TEMPLATE "{templates.pg_template}"'))
    yield _pg_url(admin, name)
    asyncio.run(_pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        owner_username="owner",
        owner_api_key=OWNER_KEY,
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.resolved_database_url)
    await ensure_owner(db, settings)
    yield db
    await db.dispose()


class Api:
    """An HTTP client on the app, authenticated as the owner, with helpers that create things
    through the API (so fixtures exercise the same code as users)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def as_user(self, api_key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.client._transport,
            base_url=self.client.base_url,
            headers={"X-Argilla-Api-Key": api_key},
        )

    async def ok(self, method: str, url: str, *, status: int | None = None, **kwargs: Any) -> Any:
        response = await self.client.request(method, url, **kwargs)
        expected = status or (201 if method == "POST" else 200)
        assert response.status_code == expected, f"{method} {url} -> {response.status_code}: {response.text}"
        return response.json() if response.content else None

    async def default_workspace(self) -> dict[str, Any]:
        items = (await self.ok("GET", "/api/v1/me/workspaces"))["items"]
        return next(w for w in items if w["name"] == "default")

    async def create_user(
        self, role: str = "annotator", *, workspace_id: str | None = None
    ) -> dict[str, Any]:
        username = f"{role}-{uuid.uuid4().hex[:8]}"
        user = await self.ok(
            "POST",
            "/api/v1/users",
            json={"username": username, "first_name": username, "password": "secret-password", "role": role},
        )
        if workspace_id:
            await self.ok("POST", f"/api/v1/workspaces/{workspace_id}/users", json={"user_id": user["id"]})
        return dict(user)


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: Any) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://quire.test", headers={"X-Argilla-Api-Key": OWNER_KEY}
    ) as client:
        yield Api(client)
