"""A rule's filter over a window's records: the same answer as a search, and (SQLite, which plans
without statistics) a plan that starts from the candidates, never from the dataset's records."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from quire.server.datasets.service import get_dataset
from quire.server.db import Database
from quire.server.rules import matching
from tests.conftest import Api
from tests.server.rules.helpers import rules_dataset, texts, upsert

SEARCH = "/api/v1/datasets/{}/records/search"
FILTERS = [
    "",
    "metadata.lang:en",
    "NOT metadata.lang:en",
    "status:completed AND responses.rating.value:[1 TO 2]",
    "suggestions.label.score:[0.5 TO 1] OR metadata.n:[10 TO 100]",
    "responses.label.value:pos AND metadata.lang:es",
]


async def _compiled(database: Database, dataset_id: str, filter_text: str) -> list[object]:
    async with database.session(write=False) as session:
        dataset = await get_dataset(session, uuid.UUID(dataset_id), with_settings=True)
        return list(matching.compiled_filter(dataset, filter_text, database.dialect))


async def test_a_window_matches_as_the_search_does(api: Api, database: Database) -> None:
    dataset = await rules_dataset(api)
    owner = (await api.ok("GET", "/api/v1/me"))["id"]
    items = texts(30) + texts(30, prefix="es", lang="es")
    for i, item in enumerate(items):
        if i % 3 == 0:
            values = {"label": {"value": "pos" if i % 2 else "neg"}, "rating": {"value": 1 + i % 5}}
            item["responses"] = [{"user_id": owner, "status": "submitted", "values": values}]
        if i % 4 == 0:
            item["suggestions"] = [{"question_name": "label", "value": "pos", "score": (i % 10) / 10}]
    written = await upsert(api, dataset["id"], items)
    window = [uuid.UUID(r["id"]) for r in written][::2]  # the candidates: every other record
    for filter_text in [*FILTERS, "text r1*"]:
        body = {"query": {"query_string": filter_text}} if filter_text else {}
        page = await api.ok("POST", f"{SEARCH.format(dataset['id'])}?limit=1000", json=body, status=200)
        searched = {uuid.UUID(item["record"]["id"]) for item in page["items"]}
        assert page["total"] == len(searched) and (filter_text == "" or 0 < len(searched) < 60)
        where = await _compiled(database, dataset["id"], filter_text)
        async with database.session(write=False) as session:
            found = await matching.matching_records(session, where, window)
        assert found == searched & set(window), filter_text


async def test_sqlite_plans_start_from_the_candidates(
    sqlite_only: None, api: Api, database: Database
) -> None:
    """(PostgreSQL plans with statistics.)"""
    dataset = await rules_dataset(api)
    for filter_text in [*FILTERS, "fox"]:
        where = await _compiled(database, dataset["id"], filter_text)
        statement = matching.candidate_statement(where, [uuid.uuid4() for _ in range(3)], sqlite=True)
        async with database.session(write=False) as session:
            compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            plan = [row[-1] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
        assert plan[0].startswith("SEARCH records USING INDEX sqlite_autoindex_records_1 (id=?)"), plan
        # (a metadata name's number is one lookup by dataset and name, once per statement)
        scans = [step for step in plan if "dataset_id=?" in step and "SEARCH metadata_keys" not in step]
        assert scans == [], (filter_text, plan)
