"""Serving the signed URLs of large payload values (see `urls`)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.service import get_dataset
from quire.server.errors import Forbidden, NotFound, QuireError
from quire.server.models import Rule
from quire.server.rules import payload, urls


class ValueChanged(QuireError):
    """410: the record changed since the payload was built; the value it referred to is gone."""

    status_code = 410

    def body(self) -> dict[str, Any]:
        return {"detail": self.message}


async def signed_value(
    session: AsyncSession,
    *,
    rule_id: uuid.UUID,
    record_id: uuid.UUID,
    name: str,
    expires: int,
    digest: str,
    signature: str,
) -> bytes:
    """The JSON of the value the URL names, once the URL checks out."""
    key = await urls.signing_key(session, create=False)
    problem = urls.verify(
        key, rule_id=rule_id, record_id=record_id, name=name, expires=expires, digest=digest, given=signature
    )
    if problem is not None:
        raise Forbidden(problem)
    rule = await session.get(Rule, rule_id)
    if rule is None:
        raise NotFound(f"Rule with id `{rule_id}` not found")
    dataset = await get_dataset(session, rule.dataset_id)
    runs = await payload.load_runs(session, dataset, [record_id])
    run = runs.get(record_id)
    if run is None:
        raise NotFound(f"Record with id `{record_id}` not found")
    if name == urls.ROOT:
        value: Any = run
    elif isinstance(run["fields"], dict) and name in run["fields"]:
        value = run["fields"][name]
    else:
        raise NotFound(f"Record `{record_id}` has no field {name!r}")
    if urls.digest_of(value) != digest:
        raise ValueChanged(
            f"the record changed since this URL was made: {name!r} is not the value it referred to"
        )
    return orjson.dumps(value)
