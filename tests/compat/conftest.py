"""A real `quire server` process for the compatibility suite, on SQLite and on PostgreSQL.

One server per backend for the whole session (starting a process costs a second or two); tests
stay independent by creating their own workspaces, users and datasets under unique names.

The argilla SDK keeps a process-wide *default client* (the last `rg.Argilla(...)` built) and every
resource created without `client=` uses it. With two servers alive, tests therefore build their
client per test and pass it explicitly to `rg.Dataset`, `rg.User` and `rg.Workspace`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import argilla as rg
import httpx
import pytest

from tests.conftest import BACKENDS, OWNER_KEY, _pg_exec, _pg_url, postgres_admin_url

QUIRE_BIN = Path(sys.executable).with_name("quire")
STARTUP_TIMEOUT_SECONDS = 60.0
SHUTDOWN_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class LiveServer:
    backend: str
    url: str
    api_key: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")

    def fail_if_dead(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(
                f"quire server ({self.backend}) died with status {self.process.returncode}:\n"
                f"{self.log.read_text(errors='replace')}"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    """True once the server answers; False if it exited because its port was taken meanwhile."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            if "already in use" in output:
                return False
            pytest.fail(f"quire server exited with {process.returncode} before serving:\n{output}")
        try:
            if httpx.get(f"{url}/api/v1/status", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    pytest.fail(
        f"quire server did not answer /api/v1/status in {STARTUP_TIMEOUT_SECONDS}s:\n{log.read_text()}"
    )


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `quire server` on a free port (another one if the port is taken before it binds)."""
    for _ in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(QUIRE_BIN), "server", "--port", str(port), "--log-level", "warning"],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            if _wait_until_ready(process, url, log):
                return process, url
        except BaseException:
            if process.poll() is None:
                _stop(process)
            raise
    pytest.fail(f"quire server could not find a free port:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def live_server(backend: str, home: Path) -> Iterator[LiveServer]:
    """`quire server` on a free port with an empty store (in `home`, or a scratch PostgreSQL
    database); migrated and bootstrapped by the CLI itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUIRE_", "ARGILLA_"))}
    env.update(QUIRE_HOME=str(home), QUIRE_OWNER_API_KEY=OWNER_KEY, QUIRE_OWNER_USERNAME="owner")
    pg_admin: str | None = None
    pg_database: str | None = None
    if backend == "postgresql":
        pg_admin = postgres_admin_url()
        if not pg_admin:
            pytest.skip("PostgreSQL compat tests need QUIRE_TEST_POSTGRES_URL")
        pg_database = f"quire_compat_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_exec(pg_admin, f'CREATE DATABASE "{pg_database}"'))
        env["QUIRE_DATABASE_URL"] = _pg_url(pg_admin, pg_database)

    log = home / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        process, url = _start(env, log)
        server = LiveServer(backend=backend, url=url, api_key=OWNER_KEY, log=log, process=process)
        yield server
        server.fail_if_dead()
    finally:
        if process is not None and process.poll() is None:
            _stop(process)
        if pg_admin and pg_database:
            asyncio.run(_pg_exec(pg_admin, f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=BACKENDS)
def quire_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per backend for the session."""
    backend = str(request.param)
    with live_server(backend, tmp_path_factory.mktemp(f"quire-home-{backend}")) as server:
        yield server


@contextlib.contextmanager
def no_server_errors(server: LiveServer) -> Iterator[None]:
    """Fails if the server died or logged an unhandled exception meanwhile (a 500 is a bug even
    when the client's call looked fine)."""
    server.fail_if_dead()
    offset = server.log_size()
    yield
    server.fail_if_dead()
    logged = server.log_since(offset)
    if any(marker in logged for marker in ("Traceback", "Exception in ASGI", "unhandled error")):
        pytest.fail(f"quire server ({server.backend}) logged an error during the test:\n{logged[-5000:]}")


@pytest.fixture(autouse=True)
def server_errors_fail_the_test(quire_server: LiveServer) -> Iterator[None]:
    """Every compat test runs on both backends, under `no_server_errors`."""
    with no_server_errors(quire_server):
        yield


@pytest.fixture
def client(quire_server: LiveServer) -> rg.Argilla:
    """An argilla SDK client logged in as the owner (also made the SDK's default client)."""
    return rg.Argilla(api_url=quire_server.url, api_key=quire_server.api_key)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workspace(client: rg.Argilla) -> rg.Workspace:
    """A fresh workspace for one test."""
    return rg.Workspace(name=unique("ws"), client=client).create()


def user_with_key(client: rg.Argilla, role: str = "annotator") -> tuple[rg.User, str]:
    """A new user and its API key. The SDK's `User` never exposes keys, and quire stores them hashed,
    so the key is chosen here and passed with quire's `api_key` extension on `POST /users`."""
    username = unique(role)
    key = f"key.{uuid.uuid4().hex}"
    response = client.http_client.post(
        "/api/v1/users",
        json={
            "username": username,
            "first_name": username,
            "role": role,
            "password": "secret-pass",
            "api_key": key,
        },
    )
    assert response.status_code == 201, response.text
    user = client.users(id=response.json()["id"])
    assert user is not None
    return user, key
