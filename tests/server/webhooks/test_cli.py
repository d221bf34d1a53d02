"""`quire webhooks list|deliveries|redeliver|replay` on both databases (synchronous tests: the
commands run their own event loop)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from quire.cli import main
from quire.server.db import Database
from quire.server.events.outbox import NewEvent, publish
from quire.server.migrate import migrate
from quire.server.models import Delivery, Webhook
from quire.server.webhooks import service
from quire.server.webhooks.cli import webhooks


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"QUIRE_DATABASE_URL": database_url, "QUIRE_HOME": str(tmp_path / "home")}


def seed(database_url: str) -> tuple[Webhook, datetime]:
    """A webhook with three record.created deliveries, the first one failed."""

    async def work() -> tuple[Webhook, datetime]:
        database = Database(database_url)
        try:
            await migrate(database)
            start = datetime.now(UTC)
            async with database.transaction() as session:
                webhook = await service.create_webhook(
                    session, url="http://127.0.0.1:9/cli", events=["record.created"], headers={"X-Key": "v"}
                )
                await publish(session, [NewEvent("record.created", {"n": n}) for n in range(3)])
            async with database.transaction() as session:
                first = await session.scalar(select(Delivery.id).order_by(Delivery.id).limit(1))
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id == first)
                    .values(status="failed", attempts=4, last_status_code=502)
                )
            return webhook, start
        finally:
            await database.dispose()

    return asyncio.run(work())


def statuses(database_url: str) -> list[str]:
    async def work() -> list[str]:
        database = Database(database_url)
        try:
            async with database.session(write=False) as session:
                return sorted(await session.scalars(select(Delivery.status)))
        finally:
            await database.dispose()

    return asyncio.run(work())


def test_list_deliveries_redeliver_replay(database_url: str, env: dict[str, str]) -> None:
    webhook, start = seed(database_url)
    runner = CliRunner()

    listed = runner.invoke(main, ["webhooks", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert str(webhook.id) in listed.output and "http://127.0.0.1:9/cli" in listed.output
    assert (
        "record.created" in listed.output and "v" not in listed.output.split("events:")[1].split("scope")[0]
    )
    as_json = json.loads(runner.invoke(webhooks, ["list", "--json"], env=env).output)
    assert as_json[0]["headers"] == {"X-Key": "***"} and as_json[0]["policy"] == "argilla"

    shown = runner.invoke(webhooks, ["deliveries", str(webhook.id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("3 deliveries") and "last: HTTP 502" in shown.output
    failed = json.loads(
        runner.invoke(
            webhooks, ["deliveries", str(webhook.id), "--status", "failed", "--json"], env=env
        ).output
    )
    assert failed["total"] == 1
    delivery_id = failed["items"][0]["id"]

    again = runner.invoke(webhooks, ["redeliver", str(webhook.id), delivery_id], env=env)
    assert again.exit_code == 0, again.output
    assert "pending again" in again.output and failed["items"][0]["msg_id"] in again.output
    assert statuses(database_url) == ["pending"] * 3

    since = (start - timedelta(minutes=1)).isoformat()
    replayed = runner.invoke(
        webhooks, ["replay", str(webhook.id), "--since", since, "--types", "record.created"], env=env
    )
    assert replayed.exit_code == 0, replayed.output
    assert "queued 3 deliveries (0 new, 3 again)" in replayed.output


def test_errors_are_one_line(database_url: str, env: dict[str, str]) -> None:
    webhook, _ = seed(database_url)
    runner = CliRunner()
    missing = runner.invoke(webhooks, ["deliveries", str(uuid.uuid4())], env=env)
    assert missing.exit_code == 1 and missing.output.startswith("error: Webhook with id")
    assert "Traceback" not in missing.output
    unknown = runner.invoke(webhooks, ["redeliver", str(webhook.id), str(uuid.uuid4())], env=env)
    assert unknown.exit_code == 1 and "Delivery with id" in unknown.output
    bad_type = runner.invoke(
        webhooks, ["replay", str(webhook.id), "--since", "2024-01-01", "--types", "x.y"], env=env
    )
    assert bad_type.exit_code == 2 and "allowed: dataset.created" in bad_type.output
    bad_date = runner.invoke(webhooks, ["replay", str(webhook.id), "--since", "yesterday"], env=env)
    assert bad_date.exit_code == 2 and "ISO 8601" in bad_date.output
    backwards = runner.invoke(
        webhooks, ["replay", str(webhook.id), "--since", "2024-01-02", "--until", "2024-01-01"], env=env
    )
    assert backwards.exit_code == 1 and "must be after" in backwards.output
