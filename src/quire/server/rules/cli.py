"""`quire rules list|trigger|logs`, straight on the database (like `quire webhooks …`).

Only click is imported at module level, so `quire --help` stays fast.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from quire.server.db import Database

T = TypeVar("T")


def _run(work: Callable[[Database, Any], Awaitable[T]]) -> T:
    """Migrate if needed and run `work(database, settings)`; domain errors and database trouble end
    as one line on stderr."""
    from quire import cli as base
    from quire.server.errors import QuireError
    from quire.server.migrate import migrate

    settings = base._settings()
    if settings.database_url is None:
        base._ensure_home(settings)
    database = base._database(settings)

    async def unit() -> T:
        await migrate(database)
        return await work(database, settings)

    try:
        return base._run_db(database, unit)
    except QuireError as exc:
        base.fail(exc.message)


def _stamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _rule_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise click.BadParameter(f"not a rule id: {value!r}", param_hint="RULE_ID") from None


def _run_line(run: dict[str, Any]) -> str:
    parts = []
    for action in run["actions"]:
        if action.get("type") == "webhook":
            parts.append(
                f"webhook {action.get('batches', 0)} batches "
                f"({action.get('delivered', 0)} delivered, {action.get('failed', 0)} failed, "
                f"{action.get('pending', 0)} pending)"
            )
        else:
            parts.append(f"add_to_dataset {action.get('copied', 0)} copied")
    outcome = f"error: {run['error']}" if run["error"] else "; ".join(parts) or "no actions"
    return (
        f"#{run['id']}  {run['trigger']:<8}  [{_stamp(run['start_time'])}, {_stamp(run['end_time'])})  "
        f"changed {run['changed']}  matched {run['matched']}  sampled {run['sampled']}  "
        f"{run['duration_ms']:.0f} ms  {outcome}"
    )


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
def rules() -> None:
    """Automation rules (reads and writes the database directly)."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def list_rules(as_json: bool) -> None:
    """Every rule, oldest first."""
    from quire.server.rules import service

    async def work(database: Database, _settings: Any) -> list[dict[str, Any]]:
        async with database.session(write=False) as session:
            return [
                {
                    "id": str(rule.id),
                    "name": rule.name,
                    "dataset_id": str(rule.dataset_id),
                    "enabled": rule.enabled,
                    "filter": rule.filter,
                    "sampling_rate": rule.sampling_rate,
                    "interval_seconds": rule.interval_seconds,
                    "actions": [a.type for a in rule.actions],
                    "next_window_start": rule.next_window_start,
                    "next_run_at": rule.next_run_at,
                }
                for rule in await service.list_rules(session, workspace_ids=None, dataset_id=None)
            ]

    found = _run(work)
    if as_json:
        _echo_json(found)
        return
    for rule in found:
        state = "on " if rule["enabled"] else "off"
        click.echo(
            f"{rule['id']}  {state}  every {rule['interval_seconds']}s  rate {rule['sampling_rate']:g}  "
            f"{','.join(rule['actions'])}  {rule['name']!r}  filter {rule['filter']!r}  "
            f"next window from {_stamp(rule['next_window_start'])}"
        )
    if not found:
        click.echo("no rules")


@rules.command("trigger")
@click.argument("rule_id")
@click.option("--json", "as_json", is_flag=True)
def trigger_rule(rule_id: str, as_json: bool) -> None:
    """Run the rule's next window now (as `POST /rules/{id}/trigger`) and print its log."""
    from quire.server.errors import NotFound
    from quire.server.rules import logs, runner

    wanted = _rule_id(rule_id)

    async def work(database: Database, settings: Any) -> dict[str, Any]:
        result = await runner.run_rule(database, settings, wanted, trigger="manual")
        async with database.session(write=False) as session:
            run = None if result is None else await logs.get_run(session, result.run_id)
        if run is None:
            raise NotFound(f"no rule with id {wanted}")
        return run

    run = _run(work)
    if as_json:
        _echo_json(run)
    else:
        click.echo(_run_line(run))


@rules.command("logs")
@click.argument("rule_id")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
def rule_logs(rule_id: str, limit: int, as_json: bool) -> None:
    """The rule's runs, newest first."""
    from quire.server.errors import NotFound
    from quire.server.models import Rule
    from quire.server.rules import logs

    wanted = _rule_id(rule_id)

    async def work(database: Database, _settings: Any) -> list[dict[str, Any]]:
        async with database.session(write=False) as session:
            if await session.get(Rule, wanted) is None:
                raise NotFound(f"no rule with id {wanted}")
            items, _total = await logs.list_runs(session, wanted, offset=0, limit=limit)
            return items

    items = _run(work)
    if as_json:
        _echo_json(items)
        return
    for run in items:
        click.echo(_run_line(run))
    if not items:
        click.echo("no runs yet")
