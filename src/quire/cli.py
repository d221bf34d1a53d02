"""The `quire` command: server, database, users.

Failures a user can fix (port taken, bad database URL, unwritable home, unreachable database) end
with one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from quire.server.rules.cli import rules as rules_group
from quire.server.webhooks.cli import webhooks as webhooks_group

T = TypeVar("T")


class UserFacingError(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def fail(message: str) -> NoReturn:
    raise UserFacingError(message)


def _settings() -> Any:
    from pydantic import ValidationError

    from quire.server.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        fail(f"invalid QUIRE_* environment: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")


def _ensure_home(settings: Any) -> None:
    """The home holds the SQLite file (by default) and must be writable."""
    home: Path = settings.home.expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail(f"QUIRE_HOME {home} is not writable ({reason}); set QUIRE_HOME to a writable directory")


def _database(settings: Any) -> Any:
    from quire.server.db import Database, DatabaseURLError

    try:
        return Database(settings.resolved_database_url)
    except DatabaseURLError as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:  # pragma: no cover - driver missing from a partial install
        fail(f"database driver not installed: {exc.name}; install quire[server]")


def _display_url(database: Any) -> str:
    rendered: str = database.url.render_as_string(hide_password=True)
    return rendered.replace("+aiosqlite", "").replace("+asyncpg", "")


def _run_db(database: Any, work: Callable[[], Awaitable[T]]) -> T:
    """Run database work; turn connection problems into one line."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    async def runner() -> T:
        try:
            return await work()
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"cannot use the database at {_display_url(database)}: {reason}")


def _prepare_store(settings: Any, database: Any) -> Any:
    from quire.server.bootstrap import ensure_owner
    from quire.server.migrate import migrate

    async def work() -> Any:
        await migrate(database)
        return await ensure_owner(database, settings)

    return _run_db(database, work)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is already in use; stop the other process or pick another with --port"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            fail(f"not allowed to listen on {host}:{port} ({exc.strerror}); pick a port above 1024")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.group()
@click.version_option(package_name="quire")
def main() -> None:
    """quire: a human-feedback data platform that speaks Argilla's REST API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=6900, show_default=True, type=int)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--dispatch/--no-dispatch",
    default=None,
    help="Deliver webhooks from this process [default: on, QUIRE_DELIVERY_ENABLED]; "
    "with --no-dispatch, run `quire worker` to deliver.",
)
def server(host: str, port: int, access_log: bool, log_level: str, dispatch: bool | None) -> None:
    """Migrate the store, create the first owner if needed, and serve the API."""
    settings = _settings()
    if dispatch is not None:
        settings = settings.model_copy(update={"delivery_enabled": dispatch})
    _ensure_home(settings)
    database = _database(settings)
    sock = _bind(host, port)
    created = _prepare_store(settings, database)

    import uvicorn

    from quire import __version__
    from quire.server.app import create_app
    from quire.server.gc_tuning import tune_for_service

    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"quire {__version__}: http://{shown_host}:{port}  (store: {_display_url(database)})")
    if created is not None:
        if created.generated:
            click.echo(
                f"created owner {created.username!r} with API key {created.api_key}  (shown only once)"
            )
        else:
            click.echo(f"created owner {created.username!r} with the API key from QUIRE_OWNER_API_KEY")
    sys.stdout.flush()
    app = create_app(settings)
    tune_for_service()  # after start-up built the app: see gc_tuning
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])


@main.command()
@click.option(
    "--concurrency",
    "-c",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Dispatcher processes (on SQLite one dispatches at a time, the others stand by).",
)
@click.option("--metrics-port", type=int, default=None, help="Serve /metrics here (process i: port + i).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--log-level", default="info", show_default=True)
def worker(concurrency: int, metrics_port: int | None, metrics_host: str, log_level: str) -> None:
    """Deliver webhooks outside the API server (scale-out; see `quire server --no-dispatch`)."""
    from quire.server.migrate import migrate

    settings = _settings()
    if settings.database_url is None:
        _ensure_home(settings)
    database = _database(settings)
    _run_db(database, lambda: migrate(database))
    from quire.server.delivery import worker as delivery_worker

    click.echo(f"quire worker: {concurrency} dispatcher process(es) on {_display_url(database)}")
    sys.stdout.flush()
    delivery_worker.serve(
        settings.model_copy(update={"delivery_enabled": True}),
        processes=concurrency,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        log_level=log_level,
    )


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply all pending migrations."""
    from quire.server.migrate import current_revision, migrate

    settings = _settings()
    if settings.database_url is None:
        _ensure_home(settings)
    database = _database(settings)

    async def work() -> str | None:
        await migrate(database)
        return await current_revision(database)

    revision = _run_db(database, work)
    click.echo(f"database at {_display_url(database)} is at revision {revision}")


@db.command("revision", hidden=True)
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """(developers) Autogenerate a migration against the current database."""
    from quire.server.migrate import autogenerate_revision

    settings = _settings()
    database = _database(settings)
    _run_db(database, lambda: autogenerate_revision(database, message))


@main.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.option("--username", required=True)
@click.option(
    "--role", type=click.Choice(["owner", "admin", "annotator"]), default="annotator", show_default=True
)
@click.option("--password", default=None, help="Optional; at least 8 characters.")
@click.option("--api-key", default=None, help="Use this API key instead of generating one.")
@click.option("--first-name", default=None)
@click.option("--last-name", default=None)
@click.option(
    "--workspace", "workspaces", multiple=True, help="Add the user to this workspace (created if missing)."
)
def users_create(
    username: str,
    role: str,
    password: str | None,
    api_key: str | None,
    first_name: str | None,
    last_name: str | None,
    workspaces: tuple[str, ...],
) -> None:
    """Create a user and print its API key."""
    from quire.server.accounts import service
    from quire.server.errors import QuireError
    from quire.server.migrate import migrate
    from quire.server.models import UserRole, WorkspaceUser

    if password is not None and not 8 <= len(password) <= 100:
        fail("--password must be 8 to 100 characters long")
    settings = _settings()
    if settings.database_url is None:
        _ensure_home(settings)
    database = _database(settings)

    async def work() -> str:
        await migrate(database)
        async with database.transaction() as session:
            user, key = await service.create_user(
                session,
                username=username,
                role=UserRole(role),
                password=password,
                api_key=api_key,
                first_name=first_name,
                last_name=last_name,
            )
            for name in workspaces:
                workspace = await service.get_workspace_by_name(session, name)
                if workspace is None:
                    workspace = await service.create_workspace(session, name=name)
                session.add(WorkspaceUser(workspace_id=workspace.id, user_id=user.id))
        return key

    try:
        key = _run_db(database, work)
    except QuireError as exc:
        fail(exc.message)
    click.echo(f"created {role} {username!r}; API key: {key}")


main.add_command(webhooks_group)
main.add_command(rules_group)

if __name__ == "__main__":  # pragma: no cover
    main()
