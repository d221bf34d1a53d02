"""Fixtures of the SDK suite: the compat suite's live `quire server` (SQLite and PostgreSQL, one
process per backend for the session) and a `quire` client logged in as its owner.

The server fixture is imported from `tests/compat/conftest.py` so both suites share one way of
starting servers. Every test that uses the server also fails if the server died or logged an
unhandled error meanwhile (as the compat suite's autouse fixture does; that one is not imported
because it would make the SDK's offline tests start servers too).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import quire as rg
from tests.compat.conftest import LiveServer, quire_server

__all__ = ["LiveServer", "quire_server"]

SERVER_ERROR_MARKERS = ("Traceback", "Exception in ASGI", "unhandled error")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def server(quire_server: LiveServer) -> Iterator[LiveServer]:
    """The live server, checked to be alive and error-free around the test."""
    quire_server.fail_if_dead()
    offset = quire_server.log_size()
    yield quire_server
    quire_server.fail_if_dead()
    logged = quire_server.log_since(offset)
    if any(marker in logged for marker in SERVER_ERROR_MARKERS):
        pytest.fail(f"quire server ({quire_server.backend}) logged an error during the test:\n{logged}")


@pytest.fixture
def client(server: LiveServer) -> Iterator[rg.Quire]:
    """An SDK client for the owner; also the default client while the test runs."""
    with rg.Quire(api_url=server.url, api_key=server.api_key) as sdk:
        yield sdk


@pytest.fixture
def workspace(client: rg.Quire) -> rg.Workspace:
    return rg.Workspace(name=unique("ws"), client=client).create()


def seed_settings() -> rg.Settings:
    """The dataset seed 003's examples assume: a `text` and a `prompt` field (the examples use
    both), a `label` question, and one question of every other type under the seed's names."""
    return rg.Settings(
        fields=[rg.TextField(name="text", required=False), rg.TextField(name="prompt", required=False)],
        questions=[
            rg.LabelQuestion(name="label", labels=["positive", "negative"]),
            rg.MultiLabelQuestion(name="multi-label", labels=["positive", "negative"], required=False),
            rg.RankingQuestion(name="rank", values=["1", "2", "3"], required=False),
            rg.RatingQuestion(name="rating", values=[1, 2, 3, 4, 5], required=False),
            rg.SpanQuestion(name="span", field="text", labels=["MISC", "PER"], required=False),
            rg.TextQuestion(name="text-q", required=False),
        ],
    )


@pytest.fixture
def dataset(client: rg.Quire, workspace: rg.Workspace) -> rg.Dataset:
    """A published dataset with seed 003's settings."""
    return rg.Dataset(
        name=unique("seed003"), workspace=workspace, settings=seed_settings(), client=client
    ).create()
