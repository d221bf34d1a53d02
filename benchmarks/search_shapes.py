"""A catalogue of search shapes on SQLite or PostgreSQL, each timed over HTTP, to find the
pathologically slow ones.

    .venv/bin/python -m benchmarks.search_shapes [--records 50000] [--keep-db /tmp/shapes.db]
    .venv/bin/python -m benchmarks.search_shapes --database-url postgresql://postgres@127.0.0.1:5432/postgres

What happens:

1. A real `quire server` (SQLite, fresh home; with `--database-url postgresql://…` a scratch
   database created beside the one named, dropped at the end) gets a dataset shaped like the
   ingest benchmark's (`create_dataset`: a text field, a label and a rating question, a terms and a
   float metadata property) plus a 16-dimension vector setting `emb`, and `--records` records through
   `PUT …/records/bulk` (the ingest benchmark's records, each with a vector). Every tenth record
   then gets a response from the owner through `POST /api/v1/me/responses/bulk` (8 in 10 submitted,
   1 draft, 1 discarded). On PostgreSQL the scratch database is then `ANALYZE`d, as autovacuum
   would eventually do, so the planner has statistics.
2. Each shape of the catalogue goes to `POST …/records/search` (or `/me/…`): one warm-up call, then
   the median of three, each with a 30 s timeout. After a timeout the server keeps working on the
   query, so the next shape waits until its CPU (on PostgreSQL: the scratch database) is idle again.
3. One line per shape (name, HTTP status, total, median ms), then the shapes over 500 ms.
4. For each slow shape: the server's database is copied to `--keep-db`, the same request runs
   in-process over it (the endpoint's own code, `_search`) with every SQL statement timed, and the
   slow statements are printed with their `EXPLAIN QUERY PLAN` (plain `sqlite3`, same file).
   On PostgreSQL the same in-process run goes to the scratch database before it is dropped, and
   the slow statements get `EXPLAIN (ANALYZE, BUFFERS)`; `--keep-pg-database NAME` keeps a copy.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import make_url

from benchmarks import search_shapes_pg as pg
from benchmarks.ingest import (
    LABELS,
    Server,
    create_dataset,
    make_items,
    request_bodies,
    run_server,
    scratch_database,
)
from quire.server.db import dialect_of

TIMEOUT_S = 30.0
SLOW_MS = 500.0
REPEATS = 3
DIMENSIONS = 16
SLOW_STATEMENT_MS = 50.0

Body = dict[str, Any]


# ---------------------------------------------------------------- the shapes


@dataclass(frozen=True)
class Shape:
    name: str
    body: Body | None
    offset: int = 0
    limit: int = 50
    include: tuple[str, ...] = ()
    me: bool = False  # `/me/datasets/{id}/records/search`: the owner's own responses only


def meta(name: str) -> Body:
    return {"entity": "metadata", "metadata_property": name}


def suggestion(question: str, prop: str = "value") -> Body:
    return {"entity": "suggestion", "question": question, "property": prop}


def response(question: str) -> Body:
    return {"entity": "response", "question": question}


RESPONSE_STATUS: Body = {"entity": "response", "property": "status"}
RECORD_STATUS: Body = {"entity": "record", "property": "status"}
INSERTED_AT: Body = {"entity": "record", "property": "inserted_at"}


def terms(scope: Body, *values: str | int) -> Body:
    return {"type": "terms", "scope": scope, "values": list(values)}


def between(scope: Body, ge: float | str | None = None, le: float | str | None = None) -> Body:
    bounds = {k: v for k, v in (("ge", ge), ("le", le)) if v is not None}
    return {"type": "range", "scope": scope, **bounds}


def search(
    text: str | None = None,
    *filters: Body,
    field: str | None = None,
    qs: str | None = None,
    sort: list[tuple[Body, str]] | None = None,
    vector: Body | None = None,
) -> Body:
    query: Body = {}
    if text is not None:
        query["text"] = {"q": text, **({"field": field} if field else {})}
    if qs is not None:
        query["query_string"] = qs
    if vector is not None:
        query["vector"] = vector
    body: Body = {}
    if query:
        body["query"] = query
    if filters:
        body["filters"] = {"and": list(filters)}
    if sort:
        body["sort"] = [{"scope": scope, "order": order} for scope, order in sort]
    return body


def catalogue(vector: list[float] | None, record_id: str) -> list[Shape]:
    news, score_band = terms(meta("category"), "news"), between(meta("score"), 0.2, 0.4)
    pending_responses = terms(RESPONSE_STATUS, "pending")
    by_score: list[tuple[Body, str]] = [(meta("score"), "desc")]
    by_inserted: list[tuple[Body, str]] = [(INSERTED_AT, "desc")]
    by_suggestion_score: list[tuple[Body, str]] = [(suggestion("label", "score"), "desc")]
    by_rating: list[tuple[Body, str]] = [(response("rating"), "desc")]
    shapes = [
        # full text alone
        Shape("text: 'late refund'", search("late refund")),
        Shape("text: 'refund'", search("refund")),
        Shape("text: 'late refund' field=text", search("late refund", field="text")),
        Shape("text: no match 'zebra'", search("zebra")),
        # text + one filter of each kind
        Shape("text + metadata terms", search("late refund", news)),
        Shape("text + metadata range", search("late refund", score_band)),
        Shape("text + record status pending", search("late refund", terms(RECORD_STATUS, "pending"))),
        Shape("text + record status completed", search("late refund", terms(RECORD_STATUS, "completed"))),
        Shape("text + response status submitted", search("late refund", terms(RESPONSE_STATUS, "submitted"))),
        Shape("text + response status pending", search("late refund", pending_responses)),
        Shape(
            "text + response status draft|discarded",
            search("late refund", terms(RESPONSE_STATUS, "draft", "discarded")),
        ),
        Shape("text + suggestion value", search("late refund", terms(suggestion("label"), "positive"))),
        Shape("text + suggestion score range", search("late refund", between(suggestion("label", "score"), 0.8))),
        Shape("text + suggestion agent (all)", search("late refund", terms(suggestion("label", "agent"), "bench-model"))),
        Shape("text + suggestion rating range", search("late refund", between(suggestion("rating"), 4, 5))),
        Shape("text + response value label", search("late refund", terms(response("label"), "positive"))),
        Shape("text + response rating range", search("late refund", between(response("rating"), 4, 5))),
        Shape("text + inserted_at range (all)", search("late refund", between(INSERTED_AT, "2000-01-01"))),
        Shape("text + metadata terms + range + suggestion", search("late", news, score_band, terms(suggestion("label"), "negative"))),
        Shape("text + response status pending + metadata", search("late refund", pending_responses, news)),
        # filters without text
        Shape("filter: metadata terms + range", search(None, news, score_band)),
        Shape("filter: response status pending", search(None, pending_responses)),
        Shape("filter: response status submitted", search(None, terms(RESPONSE_STATUS, "submitted"))),
        Shape("filter: response value label", search(None, terms(response("label"), "negative"))),
        Shape("filter: response rating range", search(None, between(response("rating"), 1, 2))),
        Shape("filter: suggestion score + metadata terms", search(None, between(suggestion("label", "score"), 0.9), news)),
        Shape("filter: record status completed", search(None, terms(RECORD_STATUS, "completed"))),
        Shape("filter: pending responses + record status", search(None, pending_responses, terms(RECORD_STATUS, "pending"))),
        Shape("/me filter: response status pending", search(None, pending_responses), me=True),
        Shape("/me text + response status submitted", search("late refund", terms(RESPONSE_STATUS, "submitted")), me=True),
        # query strings
        Shape("qs: late AND refund AND status:pending", search(qs="late AND refund AND status:pending")),
        Shape('qs: fields.text:"late order" (phrase)', search(qs='fields.text:"late order"')),
        Shape('qs: "late order" (phrase, any field)', search(qs='"late order"')),
        Shape("qs: refu* (prefix)", search(qs="refu*")),
        Shape("qs: fields.text:re* (short prefix)", search(qs="fields.text:re*")),
        Shape("qs: late AND metadata terms AND range", search(qs="late AND metadata.category:news AND metadata.score:[0.2 TO 0.4]")),
        Shape("qs: metadata.score:[0.2 TO 0.4]", search(qs="metadata.score:[0.2 TO 0.4]")),
        Shape("qs: late OR metadata.category:news", search(qs="late OR metadata.category:news")),
        Shape("qs: zebra OR metadata.category:news", search(qs="zebra OR metadata.category:news")),
        Shape("qs: late AND NOT refund", search(qs="late AND NOT refund")),
        Shape("qs: NOT refund", search(qs="NOT refund")),
        Shape("qs: NOT late AND metadata.category:news", search(qs="NOT late AND metadata.category:news")),
        Shape("qs: (late OR refund) AND suggestions.label:positive", search(qs="(late OR refund) AND suggestions.label:positive")),
        Shape("qs: refund AND responses.status:submitted", search(qs="refund AND responses.status:submitted")),
        Shape("qs: refund AND NOT responses.status:pending", search(qs="refund AND NOT responses.status:pending")),
        Shape("qs: late OR responses.rating:[4 TO 5]", search(qs="late OR responses.rating:[4 TO 5]")),
        Shape("qs: metadata range AND NOT metadata terms", search(qs="metadata.score:[0.2 TO 0.4] AND NOT metadata.category:news")),
        Shape("qs: metadata.category:(news OR legal) AND sugg score", search(qs="metadata.category:(news OR legal) AND suggestions.label.score:[0.9 TO *]")),
        Shape("qs: status:completed OR metadata.category:news", search(qs="status:completed OR metadata.category:news")),
        Shape("qs: late AND inserted_at:[2000-01-01 TO *]", search(qs="late AND inserted_at:[2000-01-01 TO *]")),
        Shape('qs: phrase AND metadata terms', search(qs='fields.text:"late order" AND metadata.category:news')),
        Shape("qs: late AND suggestions.label.agent:bench-model", search(qs="late AND suggestions.label.agent:bench-model")),
        Shape("qs: external_id:bench-0001234", search(qs="external_id:bench-0001234")),
        Shape("qs: late AND external_id:bench-0001234", search(qs="late AND external_id:bench-0001234")),
        Shape("qs: late AND id:<uuid>", search(qs=f"late AND id:{record_id}")),
        Shape("qs: late refund delivery order customer (5 words)", search(qs="late refund delivery order customer")),
        Shape("qs: (late OR refund) AND (slow OR rude)", search(qs="(late OR refund) AND (slow OR rude)")),
        Shape("qs: late AND responses.label:positive", search(qs="late AND responses.label:positive")),
        # sorts
        Shape("sort metadata score", search(sort=by_score)),
        Shape("sort metadata score + metadata terms", search(None, news, sort=by_score)),
        Shape("sort metadata score + terms + range", search(None, news, score_band, sort=by_score)),
        Shape("sort metadata score + text", search("late refund", sort=by_score)),
        Shape("sort metadata category asc + range", search(None, score_band, sort=[(meta("category"), "asc")])),
        Shape("sort inserted_at", search(sort=by_inserted)),
        Shape("sort inserted_at + text", search("late refund", sort=by_inserted)),
        Shape("sort inserted_at + metadata terms", search(None, news, sort=by_inserted)),
        Shape("sort suggestion score", search(sort=by_suggestion_score)),
        Shape("sort suggestion score + metadata terms", search(None, news, sort=by_suggestion_score)),
        Shape("sort suggestion score + text", search("late refund", sort=by_suggestion_score)),
        Shape("sort suggestion label value asc", search(sort=[(suggestion("label"), "asc")])),
        Shape("sort response rating", search(sort=by_rating)),
        Shape("sort response rating + text", search("late refund", sort=by_rating)),
        Shape("sort response status", search(sort=[(RESPONSE_STATUS, "asc")])),
        Shape("sort metadata score + suggestion score (2 keys)", search(sort=[*by_score, *by_suggestion_score])),
        # sorts on a terms (text) property, record columns, /me
        Shape("sort metadata category desc", search(sort=[(meta("category"), "desc")])),
        Shape("sort metadata category asc + text", search("late refund", sort=[(meta("category"), "asc")])),
        Shape("sort metadata category + category terms", search(None, news, sort=[(meta("category"), "asc")])),
        Shape("sort metadata category + suggestion value", search(None, terms(suggestion("label"), "positive"), sort=[(meta("category"), "asc")])),
        Shape("sort suggestion label value + text", search("late refund", sort=[(suggestion("label"), "desc")])),
        Shape("sort external_id", search(sort=[({"entity": "record", "property": "external_id"}, "desc")])),
        Shape("sort record status + text", search("late refund", sort=[(RECORD_STATUS, "asc")])),
        Shape("sort updated_at + metadata range", search(None, score_band, sort=[({"entity": "record", "property": "updated_at"}, "asc")])),
        Shape("/me sort response rating", search(sort=by_rating), me=True),
        # more query strings
        Shape("qs: metadata.category:5 (number on terms)", search(qs="metadata.category:5")),
        Shape("qs: NOT metadata.category:news", search(qs="NOT metadata.category:news")),
        Shape("qs: NOT responses.label:positive", search(qs="NOT responses.label:positive")),
        Shape("qs: responses.status:(submitted OR pending)", search(qs="responses.status:(submitted OR pending)")),
        Shape("qs: suggestions.rating:[4 TO 5] AND metadata.category:news", search(qs="suggestions.rating:[4 TO 5] AND metadata.category:news")),
        Shape("qs: suggestions.label.type:model AND late", search(qs="suggestions.label.type:model AND late")),
        Shape("qs: updated_at:[2000-01-01 TO *] AND NOT late", search(qs="updated_at:[2000-01-01 TO *] AND NOT late")),
        Shape("qs: late OR refund OR delivery OR slow (4 ORs)", search(qs="late OR refund OR delivery OR slow")),
        # paging far
        Shape("no body, offset 1000", None, offset=1000),
        Shape("no body, offset 40000", None, offset=40_000),
        Shape("text, offset 1000", search("late refund"), offset=1000),
        Shape("sort metadata score, offset 1000", search(sort=by_score), offset=1000),
        Shape("sort metadata score + terms, offset 1000", search(None, news, sort=by_score), offset=1000),
        Shape("sort suggestion score, offset 1000", search(sort=by_suggestion_score), offset=1000),
        Shape("qs late AND status:pending, offset 1000", search(qs="late AND status:pending"), offset=1000),
        Shape("response status pending, offset 1000", search(None, pending_responses), offset=1000),
        Shape("text + metadata terms, offset past the end", search("late refund", news), offset=100_000),
        # nothing / everything
        Shape("nothing: metadata terms 'nope'", search(None, terms(meta("category"), "nope"))),
        Shape("nothing: metadata score >= 2", search(None, between(meta("score"), 2))),
        Shape("nothing: text + metadata score >= 2", search("late refund", between(meta("score"), 2))),
        Shape("nothing: suggestion agent 'nobody'", search(None, terms(suggestion("label", "agent"), "nobody"))),
        Shape("nothing: record status + text 'zebra'", search("zebra", terms(RECORD_STATUS, "pending"))),
        Shape("everything: no body", None),
        Shape("everything: metadata score [0, 1]", search(None, between(meta("score"), 0, 1))),
        Shape("everything: suggestion agent", search(None, terms(suggestion("label", "agent"), "bench-model"))),
        Shape("everything: qs *", search(qs="*")),
        Shape("everything: 2 filters", search(None, between(meta("score"), 0, 1), terms(suggestion("label", "agent"), "bench-model"))),
        # bigger pages
        Shape("limit 1000 + include responses,suggestions", search("late"), limit=1000, include=("responses", "suggestions")),
    ]  # fmt: skip
    if vector is not None:
        similar: Body = {"name": "emb", "value": vector, "order": "most_similar"}
        shapes += [
            Shape("vector", search(vector=similar)),
            Shape("vector + metadata terms", search(None, news, vector=similar)),
            Shape("vector + text", search("late refund", vector=similar)),
            Shape("vector + response status pending", search(None, pending_responses, vector=similar)),
            Shape("vector + qs metadata range", search(qs="metadata.score:[0.2 TO 0.4]", vector=similar)),
            Shape(
                "vector by record_id + suggestion",
                search(None, terms(suggestion("label"), "positive"), vector={"name": "emb", "record_id": record_id}),
            ),
            Shape("vector, offset 900", search(vector=similar), offset=900),
        ]  # fmt: skip
    return shapes


# ---------------------------------------------------------------- loading


@dataclass
class Loaded:
    dataset_id: str
    user_id: str
    record_ids: list[str]
    vector: list[float] | None


def load(client: httpx.Client, records: int) -> Loaded:
    dataset_id, questions = create_dataset(client)
    user_id = str(client.get("/api/v1/me").json()["id"])
    created = client.post(
        f"/api/v1/datasets/{dataset_id}/vectors-settings",
        json={"name": "emb", "title": "emb", "dimensions": DIMENSIONS},
    )
    with_vectors = created.status_code == 201
    if not with_vectors:
        print(f"no vectors: vector settings -> {created.status_code} {created.text[:300]}")
    rng = random.Random(11)
    items = make_items(records, text_chars=200)
    record_ids: list[str] = []
    started = time.perf_counter()
    for body in request_bodies(items, 500, questions):
        if with_vectors:
            parsed = orjson.loads(body)
            for record in parsed["items"]:
                record["vectors"] = {"emb": [rng.uniform(-1, 1) for _ in range(DIMENSIONS)]}
            body = orjson.dumps(parsed)
        reply = client.put(
            f"/api/v1/datasets/{dataset_id}/records/bulk",
            content=body,
            headers={"content-type": "application/json"},
        )
        reply.raise_for_status()
        record_ids += [str(item["id"]) for item in reply.json()["items"]]
    print(f"loaded {len(record_ids):,} records in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    statuses = ["submitted"] * 8 + ["draft", "discarded"]
    answers = [
        {
            "record_id": record_ids[index],
            "status": statuses[(index // 10) % 10],
            "values": {"label": {"value": rng.choice(LABELS)}, "rating": {"value": rng.randint(1, 5)}},
        }
        for index in range(0, len(record_ids), 10)
    ]
    failed = 0
    for start in range(0, len(answers), 100):
        reply = client.post("/api/v1/me/responses/bulk", json={"items": answers[start : start + 100]})
        reply.raise_for_status()
        errors = [item["error"] for item in reply.json()["items"] if item["error"]]
        if errors and not failed:
            print(f"response error: {errors[0]}")
        failed += len(errors)
    print(
        f"responded to {len(answers) - failed:,} records ({failed} failed) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    vector = [rng.uniform(-1, 1) for _ in range(DIMENSIONS)] if with_vectors else None
    return Loaded(dataset_id, user_id, record_ids, vector)


# ---------------------------------------------------------------- timing


@dataclass
class Outcome:
    shape: Shape
    status: int | None = None  # None: timed out
    total: int | None = None
    times_ms: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("inf")

    @property
    def slow(self) -> bool:
        return self.status is None or self.median_ms > SLOW_MS


def url_of(dataset_id: str, shape: Shape) -> str:
    prefix = "/api/v1/me" if shape.me else "/api/v1"
    return f"{prefix}/datasets/{dataset_id}/records/search"


def params_of(shape: Shape) -> list[tuple[str, str | int | float | bool | None]]:
    return [("offset", shape.offset), ("limit", shape.limit), *(("include", i) for i in shape.include)]


def wait_until_idle(server: Server, limit_s: float = 600.0) -> str:
    """After a client timeout the server still runs the query: wait until it uses < 5% of a CPU."""
    started = time.monotonic()

    def cpu() -> float:
        return sum(used for used, _ in server.thread_times().values())

    before = cpu()
    while time.monotonic() - started < limit_s:
        time.sleep(1.0)
        now = cpu()
        if now - before < 0.05:
            break
        before = now
    return f"the server stayed busy {time.monotonic() - started:.0f} s more"


def measure(client: httpx.Client, settle: Callable[[], str], dataset_id: str, shape: Shape) -> Outcome:
    """`settle`: after a timeout, waits until the query the server still runs is over; says how long."""
    outcome = Outcome(shape)
    url, params = url_of(dataset_id, shape), params_of(shape)
    for attempt in range(REPEATS + 1):
        started = time.perf_counter()
        try:
            reply = client.post(url, params=params, json=shape.body)
        except httpx.TimeoutException:
            outcome.status, outcome.times_ms = None, []
            outcome.error = f"timed out; {settle()}"
            return outcome
        elapsed = (time.perf_counter() - started) * 1000
        outcome.status = reply.status_code
        if reply.status_code != 200:
            outcome.error = reply.text[:500]
            return outcome
        outcome.total = int(reply.json()["total"])
        if attempt:  # the first call warms up
            outcome.times_ms.append(elapsed)
    return outcome


def row(outcome: Outcome) -> str:
    status = "-" if outcome.status is None else str(outcome.status)
    total = "-" if outcome.total is None else f"{outcome.total:,}"
    timing = f">{TIMEOUT_S:.0f} s" if outcome.status is None else f"{outcome.median_ms:9.1f} ms"
    if outcome.status not in (None, 200):
        timing = "error"
    return f"{outcome.shape.name:<55} {status:>4} {total:>8} {timing:>12}"


# ---------------------------------------------------------------- SQL and plans of slow shapes


@dataclass
class Statement:
    sql: str
    parameters: tuple[Any, ...]
    ms: float | None = None  # None: interrupted


async def trace(database_url: str, loaded: Loaded, shape: Shape) -> tuple[list[Statement], str | None]:
    """Run the endpoint's search code in-process over `database_url`; every statement with its time.
    A statement still running after the timeout is interrupted (SQLite) or cancelled by
    `statement_timeout` (PostgreSQL); its `ms` stays None."""
    from sqlalchemy import event, text

    from quire.server.datasets.service import get_dataset
    from quire.server.db import Database
    from quire.server.records.search_endpoints import _search
    from quire.server.search import SearchRecordsBody

    db = Database(database_url)
    statements: list[Statement] = []
    raw: list[sqlite3.Connection] = []
    started: list[float] = []

    @event.listens_for(db.engine.sync_engine, "connect")
    def _connected(dbapi_connection: Any, _record: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)
        connection = getattr(driver, "_conn", None)
        if isinstance(connection, sqlite3.Connection):
            raw.append(connection)

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _before(_c: Any, _cur: Any, sql: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        statements.append(Statement(sql, tuple(parameters or ())))
        started.append(time.perf_counter())

    @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
    def _after(_c: Any, _cur: Any, _sql: str, _parameters: Any, _ctx: Any, _many: bool) -> None:
        statements[-1].ms = (time.perf_counter() - started[-1]) * 1000

    def interrupt() -> None:
        for connection in raw:
            connection.interrupt()

    watchdog = threading.Timer(TIMEOUT_S, interrupt)
    error = None
    try:
        async with db.session(write=False) as session:
            if db.dialect == "postgresql":
                await session.execute(text(f"SET statement_timeout = {int(TIMEOUT_S * 1000)}"))
            dataset = await get_dataset(session, uuid.UUID(loaded.dataset_id), with_settings=True)
            body = SearchRecordsBody.model_validate(shape.body) if shape.body is not None else None
            statements.clear()  # only the search's own statements from here
            watchdog.start()
            await _search(
                session,
                dataset,
                body,
                include=list(shape.include) or None,
                offset=shape.offset,
                limit=shape.limit,
                only_user=uuid.UUID(loaded.user_id) if shape.me else None,
            )
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        watchdog.cancel()
        await db.dispose()
    return statements, error


def plan(db_file: Path, statement: Statement) -> list[str]:
    """`EXPLAIN QUERY PLAN` as an indented tree."""
    connection = sqlite3.connect(db_file)
    try:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters).fetchall()
    except sqlite3.Error as exc:
        return [f"(no plan: {exc})"]
    finally:
        connection.close()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


_PLACEHOLDERS = re.compile(r"(\?|\$\d+(?:::\w+)?)(?:, (?:\?|\$\d+(?:::\w+)?)){6,}, (\?|\$\d+(?:::\w+)?)")


def abridged(text: str, limit: int | None = None) -> str:
    """Long lists of placeholders as their first and last; with `limit`, cut to that many characters."""
    text = _PLACEHOLDERS.sub(r"\1, …, \2", text)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def explain_slow(database_url: str, loaded: Loaded, slow: list[Outcome]) -> None:
    postgres = dialect_of(database_url) == "postgresql"
    for outcome in slow:
        shape = outcome.shape
        print(
            f"\n=== {shape.name}  (offset {shape.offset}, limit {shape.limit}{', /me' if shape.me else ''})"
        )
        print(f"body: {orjson.dumps(shape.body).decode()[:400]}")
        statements, error = asyncio.run(trace(database_url, loaded, shape))
        if error:
            print(f"in-process run: {error}")
        total = sum(s.ms or TIMEOUT_S * 1000 for s in statements)
        print(f"in-process: {len(statements)} statements, {total:.0f} ms; each: " + ", ".join(
            "interrupted" if s.ms is None else f"{s.ms:.0f}" for s in statements
        ))  # fmt: skip
        worst = [s for s in statements if s.ms is None or s.ms >= SLOW_STATEMENT_MS]
        if not worst and statements:
            worst = [max(statements, key=lambda s: s.ms or 0.0)]
        for statement in worst:
            took = "interrupted after 30 s" if statement.ms is None else f"{statement.ms:.0f} ms"
            print(f"\n--- statement ({took}):")
            print(abridged(re.sub(r"\s+", " ", statement.sql).strip()))
            print(f"parameters: {abridged(str(statement.parameters), 1000)}")
            if postgres:
                print("EXPLAIN (ANALYZE, BUFFERS):")
                lines = pg.explain(database_url, statement.sql, statement.parameters, TIMEOUT_S)
            else:
                print("plan:")
                lines = plan(Path(str(make_url(database_url).database)), statement)
            for line in lines:
                print(f"  {abridged(line, 1000)}")


# ---------------------------------------------------------------- main


def copy_database(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


def run_catalogue(home: Path, database_url: str, records: int) -> tuple[Loaded, list[Outcome]]:
    """A server on `database_url`, the records loaded, every shape timed."""
    postgres = dialect_of(database_url) == "postgresql"
    with run_server(home, database_url) as server:
        client = httpx.Client(
            base_url=server.base_url, headers={"X-Argilla-Api-Key": server.api_key}, timeout=300
        )
        loaded = load(client, records)
        if postgres:
            took = pg.analyze(database_url)
            print(f"ANALYZE of the scratch database, as autovacuum would eventually: {took:.1f} s")
        settle = partial(pg.wait_until_idle, database_url) if postgres else partial(wait_until_idle, server)
        client.timeout = httpx.Timeout(TIMEOUT_S)
        shapes = catalogue(loaded.vector, loaded.record_ids[len(loaded.record_ids) // 2])
        print(f"\n{'shape':<55} {'HTTP':>4} {'total':>8} {'median':>12}")
        outcomes = []
        for shape in shapes:
            outcome = measure(client, settle, loaded.dataset_id, shape)
            outcomes.append(outcome)
            print(row(outcome), flush=True)
            if outcome.error:
                print(f"    {outcome.error}")
        client.close()
    return loaded, outcomes


def summarize(outcomes: list[Outcome], records: int, store: str) -> list[Outcome]:
    """Print the errors and the slow shapes; returns the slow ones."""
    errors = [o for o in outcomes if o.status not in (None, 200)]
    slow = [o for o in outcomes if o.status in (None, 200) and o.slow]
    print(f"\n{len(outcomes)} shapes on {records:,} records ({store}); {len(errors)} errors")
    for outcome in errors:
        print(f"  error {outcome.status}: {outcome.shape.name}: {outcome.error}")
    print(f"slower than {SLOW_MS:.0f} ms: {len(slow)}")
    for outcome in slow:
        print(f"  {row(outcome)}")
    return slow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument(
        "--keep-db",
        type=Path,
        default=Path("/tmp/shapes.db"),
        help="SQLite: where the database is copied",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://… to run in a scratch database on that server (default: SQLite)",
    )
    parser.add_argument(
        "--keep-pg-database",
        default=None,
        metavar="NAME",
        help="PostgreSQL: copy the scratch database to NAME (replacing it) before it is dropped",
    )
    args = parser.parse_args(argv)
    if args.database_url is not None and dialect_of(args.database_url) != "postgresql":
        parser.error("--database-url takes a postgresql:// URL (SQLite is the default)")

    with tempfile.TemporaryDirectory(prefix="quire-shapes-bench-") as tmp:
        home = Path(tmp)
        if args.database_url is None:
            db_file = home / "quire.db"
            loaded, outcomes = run_catalogue(home, f"sqlite:///{db_file}", args.records)
            copy_database(db_file, args.keep_db)
            slow = summarize(outcomes, args.records, "SQLite")
            print(f"database kept at {args.keep_db}")
            explain_slow(f"sqlite:///{args.keep_db}", loaded, slow)
            return 0
        with scratch_database(args.database_url, home) as database_url:
            loaded, outcomes = run_catalogue(home, database_url, args.records)
            slow = summarize(outcomes, args.records, "PostgreSQL")
            explain_slow(database_url, loaded, slow)  # before the scratch database is dropped
            if args.keep_pg_database:
                kept = pg.keep_copy(args.database_url, database_url, args.keep_pg_database)
                print(f"\ndatabase kept: {kept}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
