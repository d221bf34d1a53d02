"""`quire rules list|trigger|logs`, straight on the database the app uses. The commands run their
own event loop, so they are invoked from a thread while the app (and its dispatcher) keep running."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner, Result

from quire.cli import main
from quire.server.settings import Settings
from tests.conftest import Api
from tests.server.rules.helpers import (
    RuleReceiver,
    create_rule,
    rules_dataset,
    run_logs,
    texts,
    upsert,
    webhook_secret,
)


async def test_list_trigger_logs(
    api: Api, settings: Settings, receiver: RuleReceiver, tmp_path: Path
) -> None:
    env = {
        "QUIRE_DATABASE_URL": settings.resolved_database_url,
        "QUIRE_HOME": str(tmp_path / "cli"),
        "QUIRE_RULES_SETTLE_SECONDS": "0",  # as the app of the tests: the window closes now
    }

    async def quire(*args: str) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, main, ["rules", *args], env=env)

    dataset = await rules_dataset(api)
    assert (await quire("list")).output.strip() == "no rules"
    rule = await create_rule(
        api, dataset["id"], receiver.url("/cli"), name="from the cli", filter="metadata.lang:en"
    )
    receiver.secrets.append(webhook_secret(rule))
    await upsert(api, dataset["id"], texts(3) + texts(2, prefix="es", lang="es"))

    listed = await quire("list")
    assert listed.exit_code == 0, listed.output
    assert rule["id"] in listed.output and "'from the cli'" in listed.output
    assert "filter 'metadata.lang:en'" in listed.output and "webhook" in listed.output
    (as_json,) = json.loads((await quire("list", "--json")).output)
    assert as_json["id"] == rule["id"] and as_json["actions"] == ["webhook"]

    triggered = await quire("trigger", rule["id"])
    assert triggered.exit_code == 0, triggered.output
    assert "manual" in triggered.output and "changed 5  matched 3  sampled 3" in triggered.output
    (received,) = await receiver.wait_for(1, path_prefix="/cli")
    assert received.verified and len(received.payload["runs"]) == 3
    (logged,) = await run_logs(api, rule["id"])  # the API sees the run the CLI made
    assert logged["trigger"] == "manual" and logged["sampled"] == 3

    logs = await quire("logs", rule["id"])
    assert logs.exit_code == 0 and logs.output.startswith(f"#{logged['id']}  manual"), logs.output
    (entry,) = json.loads((await quire("logs", rule["id"], "--json")).output)
    assert entry["id"] == logged["id"] and entry["actions"][0]["batches"] == 1

    unknown = await quire("trigger", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code != 0 and "no rule with id" in unknown.output
    malformed = await quire("logs", "not-a-uuid")
    assert malformed.exit_code == 2 and "not a rule id" in malformed.output
