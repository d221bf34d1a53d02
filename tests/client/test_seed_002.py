"""Every code block of seed 002 (listeners) runs as written against a live server.

The blocks are kept in the seed's own words (argilla imports); `port()` makes the only changes
allowed: the import lines. The two "conditional execution" blocks are bare decorators in the seed
(not valid Python on their own), so a function is appended to each.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import quire as rg
from tests.client.conftest import LiveServer
from tests.client.listener_helpers import fresh_dataset, text_label_settings, wait_for

BASICS = """
import argilla as rg
from argilla.listeners import listener

@listener(
    dataset="my_dataset", # dataset to get record from
    query="lucene query", # https://docs.v1.argilla.com.cn/en/latest/guides/query_datasets.html
    execution_interval_in_seconds=3, # interval to check execution of `update_records`
)
def update_records(records, ctx):
    # records get the records that adhere to the query
    for rec in records:
        # do something ,e.g., train a model, change records
        rec.metadata = {"updated": True}

    # ctx hold the listener info
    name = ctx.__listener__.dataset
    rg.log(name, records)
"""

START_STOP = """
update_records.start()
update_records.stop()
"""

CONDITION_EQUALS = """
@listener(
    dataset="my_dataset", # dataset to get record from
    condition=lambda search: search.total == 10, # only executes if `query` results in 10 records
)
"""

CONDITION_GREATER = """
@listener(
    dataset="my_dataset", # dataset to get record from
    condition=lambda search: search.total > 10, #  only executes if `query` results in more than 10 records
)
"""

QUERY_PARAMS = """
@listener(
    dataset="uber-reviews", # dataset to get record from
    query="metadata.batch_id:{batch_id}",
    batch_id=0
)
def update_records(records, ctx):
    # next iteration the query is executed with batch_id = 1
    ctx.query_params["batch_id"] += 1
"""

METRICS = """
@listener(
    dataset="my_dataset", # dataset to get record from
    metrics=["F1"]
)
def update_records(records, ctx):
    # next iteration the query is executed with batch_id = 1
    print(ctx.metrics)
"""

NO_RECORDS = """
@listener(
    dataset="my_dataset", # dataset to get record from
    query_records=False
)
def update_records(ctx):
    # Don`t load the records
    pass
"""

APPENDED_FUNCTION = """
def update_records(records, ctx):
    calls.append(ctx.search.total)
"""


def port(code: str) -> str:
    """The seed's code for quire: only the import lines change."""
    ported = code.replace("import argilla as rg", "import quire as rg")
    ported = ported.replace("from argilla.listeners import listener", "from quire.listeners import listener")
    assert "argilla" not in ported.replace("docs.v1.argilla.com.cn", "")
    return textwrap.dedent(ported)


def run(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    exec(compile(code, "seed_002", "exec"), namespace)
    return namespace


def seed_namespace() -> dict[str, Any]:
    """What the blocks after the first have in scope: the first block's imports."""
    return run("import quire as rg\nfrom quire.listeners import listener\n", {})


@pytest.fixture
def my_dataset(server: LiveServer, client: rg.Quire) -> Iterator[rg.Dataset]:
    dataset = fresh_dataset(client, "my_dataset", text_label_settings())
    yield dataset
    dataset.delete()


def test_basics_update_records_and_log_them_back(my_dataset: rg.Dataset) -> None:
    my_dataset.records.log(
        [{"id": f"q{i}", "text": f"a lucene query about item {i}"} for i in range(4)]
        + [{"id": "other", "text": "nothing to see"}]
    )
    namespace = run(port(BASICS), {})
    update_records = namespace["update_records"]
    assert isinstance(update_records, rg.listeners.Listener)
    start, stop = port(START_STOP).strip().splitlines()
    run(start, namespace)
    try:
        wait_for(lambda: update_records.runs >= 1, "the first run of update_records")
    finally:
        run(stop, namespace)
    assert not update_records.is_running and update_records.last_error is None
    metadata = {record.id: record.metadata for record in my_dataset.records()}
    assert metadata == {"q0": {"updated": True}, "q1": {"updated": True}, "q2": {"updated": True},
                        "q3": {"updated": True}, "other": {}}  # fmt: skip
    assert my_dataset.records.count() == 5  # logged back by id: updated, not duplicated


def test_start_then_stop_at_once_as_the_seed_does(my_dataset: rg.Dataset) -> None:
    namespace = run(port(BASICS), {})
    run(port(START_STOP), namespace)  # stop right after start: returns, nothing left running
    assert not namespace["update_records"].is_running


@pytest.mark.parametrize(("block", "runs_at"), [(CONDITION_EQUALS, {10}), (CONDITION_GREATER, {11, 12})])
def test_conditional_execution(my_dataset: rg.Dataset, block: str, runs_at: set[int]) -> None:
    calls: list[int] = []
    namespace = seed_namespace()
    namespace["calls"] = calls
    update_records = run(port(block) + APPENDED_FUNCTION, namespace)["update_records"]
    ran_at = set()
    for total in range(1, 13):
        my_dataset.records.log([{"id": f"r{total}", "text": f"record {total}"}])
        if update_records.run_once():
            ran_at.add(total)
    assert ran_at == runs_at
    assert calls == sorted(runs_at)


def test_query_params_progress_from_run_to_run(server: LiveServer, client: rg.Quire) -> None:
    dataset = fresh_dataset(client, "uber-reviews", text_label_settings())
    try:
        dataset.records.log(
            [
                {"id": f"b{batch}-{i}", "text": f"review {i}", "batch_id": batch}
                for batch in range(3)
                for i in range(2)
            ],
            mapping={"batch_id": "batch_id.metadata"},
        )
        update_records = run(port(QUERY_PARAMS), seed_namespace())["update_records"]
        assert update_records.formatted_query == "metadata.batch_id:0"
        update_records.execution_interval_in_seconds = 0.2  # the default 30 s would make a slow test
        update_records.start()
        try:
            wait_for(lambda: update_records.query_params["batch_id"] >= 3, "three runs")
        finally:
            update_records.stop()
        assert update_records.last_error is None
        assert (
            update_records.formatted_query == f"metadata.batch_id:{update_records.query_params['batch_id']}"
        )
    finally:
        dataset.delete()


def test_metrics(my_dataset: rg.Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    me = my_dataset.client.me
    my_dataset.records.log(
        [
            rg.Record(
                id=f"m{i}",
                fields={"text": f"text {i}"},
                suggestions=[rg.Suggestion("label", "positive", agent="model")],
                responses=[rg.Response("label", label, user_id=me.id, status="submitted")],
            )
            for i, label in enumerate(["positive", "positive", "negative", "positive"])
        ]
    )
    update_records = run(port(METRICS), seed_namespace())["update_records"]
    assert update_records.run_once()
    printed = capsys.readouterr().out
    assert "'F1': {'label':" in printed
    metrics = update_records.last_context.metrics
    assert metrics is not None and set(metrics) == {"F1"}
    # the macro F1 of the label question's suggestions against the submitted responses
    assert metrics["F1"]["label"] == metrics.server["questions"]["label"]["suggestions"]["macro"]["f1"]
    assert 0 < metrics["F1"]["label"] < 1
    assert metrics.server["progress"]["completed"] == 4


def test_without_loading_records(my_dataset: rg.Dataset, caplog: pytest.LogCaptureFixture) -> None:
    my_dataset.records.log([{"id": "x", "text": "x"}])
    update_records = run(port(NO_RECORDS), seed_namespace())["update_records"]
    with caplog.at_level(logging.INFO, logger="httpx"):
        assert update_records.run_once()
    paths = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert not any("include=" in p for p in paths), paths  # counted, never fetched
    update_records.start()
    try:
        wait_for(lambda: update_records.runs >= 2, "a scheduled run")
    finally:
        update_records.stop()
    assert update_records.last_error is None
