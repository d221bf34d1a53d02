"""`quire webhooks …`: list webhooks, read deliveries, redeliver, replay, straight on the database
(like `quire users create`), through the same service functions as the API.

Only click is imported at module level: `quire --help` stays fast, and the server's modules load when
a command runs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
STATUSES = ("pending", "delivering", "succeeded", "failed")


def _moment(value: str | None, option: str) -> datetime | None:
    """ISO 8601; no offset means UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date/time: {value!r}", param_hint=option) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _run(work: Callable[[AsyncSession], Awaitable[T]], *, write: bool) -> T:
    """Migrate if needed, run `work` in one unit of work (committed when `write`), and turn domain
    errors and database trouble into one line on stderr."""
    from quire import cli as base
    from quire.server.errors import QuireError
    from quire.server.migrate import migrate

    settings = base._settings()
    if settings.database_url is None:
        base._ensure_home(settings)
    database = base._database(settings)

    async def unit() -> T:
        await migrate(database)
        async with database.session(write=write) as session:
            result = await work(session)
            if write:
                await database.commit(session)
            return result

    try:
        return base._run_db(database, unit)
    except QuireError as exc:
        base.fail(exc.message)


def _stamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
def webhooks() -> None:
    """Webhooks and their deliveries (reads and writes the database directly)."""


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def list_webhooks(as_json: bool) -> None:
    """Every event webhook, oldest first."""
    from quire.server.webhooks import service

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": str(w.id), "url": w.url, "events": list(w.events), "enabled": w.enabled,
                "description": w.description, "workspace_id": w.workspace_id, "dataset_id": w.dataset_id,
                "disabled_reason": w.disabled_reason, "consecutive_failures": w.consecutive_failures,
                "headers": service.masked_headers(w), "policy": service.policy_of(w).name,
            }
            for w in await service.list_webhooks(session)
        ]  # fmt: skip

    rows = _run(work, write=False)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no webhooks")
    for row in rows:
        scope = f"dataset {row['dataset_id']}" if row["dataset_id"] else (
            f"workspace {row['workspace_id']}" if row["workspace_id"] else "all"
        )  # fmt: skip
        state = "enabled" if row["enabled"] else f"disabled ({row['disabled_reason'] or 'no reason'})"
        click.echo(
            f"{row['id']}  {state}  {row['url']}\n"
            f"    events: {', '.join(row['events'])}  scope: {scope}  policy: {row['policy']}"
            f"  failures in a row: {row['consecutive_failures']}"
        )


@webhooks.command("deliveries")
@click.argument("webhook_id", type=click.UUID)
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--event-type", default=None, help="e.g. record.created")
@click.option("--since", default=None, help="Inserted at or after (ISO 8601, UTC if no offset).")
@click.option("--until", default=None, help="Inserted before (ISO 8601).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def list_deliveries(
    webhook_id: uuid.UUID,
    status: str | None,
    event_type: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """A webhook's deliveries, newest first."""
    from quire.server.models import DeliveryStatus
    from quire.server.webhooks import deliveries, service

    where = deliveries.DeliveryFilter(
        status=DeliveryStatus(status) if status else None,
        event_type=event_type,
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
    )

    async def work(session: AsyncSession) -> tuple[list[dict[str, Any]], int]:
        webhook = await service.get_webhook(session, webhook_id)
        rows, total = await deliveries.list_deliveries(
            session, webhook, where=where, offset=offset, limit=limit
        )
        return [
            {
                "id": str(d.id), "event_id": d.event_id, "event_type": d.event_type, "status": d.status,
                "attempts": d.attempts, "last_status_code": d.last_status_code, "last_error": d.last_error,
                "msg_id": d.msg_id, "inserted_at": d.inserted_at, "next_attempt_at": d.next_attempt_at,
            }
            for d in rows
        ], total  # fmt: skip

    rows, total = _run(work, write=False)
    if as_json:
        _echo_json({"items": rows, "total": total})
        return
    click.echo(f"{total} deliveries" + (f" (showing {offset + 1}-{offset + len(rows)})" if rows else ""))
    for row in rows:
        last = row["last_error"] or (f"HTTP {row['last_status_code']}" if row["last_status_code"] else "")
        click.echo(
            f"{row['id']}  {_stamp(row['inserted_at'])}  {row['event_type']:<18} {row['status']:<10}"
            f" attempts={row['attempts']}" + (f"  last: {last}" if last else "")
        )


@webhooks.command("redeliver")
@click.argument("webhook_id", type=click.UUID)
@click.argument("delivery_id", type=click.UUID)
def redeliver(webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    """Put one delivery back to pending now (same webhook-id; its attempts are kept)."""
    from quire.server.webhooks import deliveries, service

    async def work(session: AsyncSession) -> str:
        webhook = await service.get_webhook(session, webhook_id)
        delivery = await deliveries.get_delivery(session, webhook, delivery_id)
        return (await deliveries.redeliver(session, delivery)).msg_id

    msg_id = _run(work, write=True)
    click.echo(f"delivery {delivery_id} is pending again ({msg_id}); a running dispatcher sends it now")


@webhooks.command("replay")
@click.argument("webhook_id", type=click.UUID)
@click.option("--since", required=True, help="Events that happened at or after (ISO 8601, UTC if no offset).")
@click.option("--until", default=None, help="…and before (default: now).")
@click.option("--types", default=None, help="Only these event types (comma-separated).")
def replay(webhook_id: uuid.UUID, since: str, until: str | None, types: str | None) -> None:
    """Queue again the stored events of a time window for a webhook (see `POST …/replay`)."""
    from quire.server.webhooks import deliveries, service
    from quire.server.webhooks.schemas import check_events

    event_types = None
    if types:
        try:
            event_types = check_events(list(dict.fromkeys(t.strip() for t in types.split(",") if t.strip())))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--types") from None
    start, end = _moment(since, "--since"), _moment(until, "--until")
    assert start is not None

    async def work(session: AsyncSession) -> deliveries.ReplayOutcome:
        webhook = await service.get_webhook(session, webhook_id, for_update=True)
        return await deliveries.replay(session, webhook, since=start, until=end, event_types=event_types)

    outcome = _run(work, write=True)
    click.echo(f"queued {outcome.queued} deliveries ({outcome.created} new, {outcome.reset} again)")
