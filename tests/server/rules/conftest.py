"""Rule fixtures: delivery schedules and timeouts shortened through the scale settings (never by
mocking time), no settle margin, and no scheduler in the app (tests trigger runs, or start a
scheduler themselves). `@pytest.mark.rule_settings(name=value, …)` changes settings for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quire.server.settings import Settings
from tests.conftest import OWNER_KEY
from tests.server.rules.helpers import RuleReceiver

PUBLIC_URL = "http://quire.test"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rule_settings(**values): settings of this rule test")


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("rule_settings")
    values = {
        "home": tmp_path / "home",
        "database_url": database_url,
        "owner_username": "owner",
        "owner_api_key": OWNER_KEY,
        "delivery_schedule_scale": 0.001,  # langsmith: 2 ms, 4 ms
        # langsmith's 5 s as is: the receiver shares the test's event loop, which a loaded machine
        # can stall for a while; test_delivery shortens it where a timeout is the point
        "delivery_timeout_scale": 1.0,
        "delivery_poll_seconds": 0.2,
        "delivery_lease_seconds": 5.0,
        "rules_enabled": False,
        "rules_settle_seconds": 0.0,
        "public_url": PUBLIC_URL,
        **(marker.kwargs if marker else {}),
    }
    return Settings(**values)


@pytest.fixture
async def receiver() -> AsyncIterator[RuleReceiver]:
    r = RuleReceiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def postgres_only(backend: str) -> None:
    """List it first: the test is skipped on SQLite before the app starts."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")


@pytest.fixture
def sqlite_only(backend: str) -> None:
    """List it first: the test is skipped on PostgreSQL before the app starts."""
    if backend != "sqlite":
        pytest.skip("SQLite only")
