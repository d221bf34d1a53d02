"""Listeners beyond the seed's blocks: query parameters, conditions, stopping, failures, and
`on=` listeners fed by the server's event stream. No assertion on speed: waits are generous and
only a hang reaches them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import quire as rg
from quire.client.listeners.sse import _shutdown
from tests.client.conftest import LiveServer, unique
from tests.client.listener_helpers import text_label_settings, wait_for


@pytest.fixture
def dataset(server: LiveServer, client: rg.Quire, workspace: rg.Workspace) -> Iterator[rg.Dataset]:
    dataset = rg.Dataset(
        name=unique("listen"), workspace=workspace, settings=text_label_settings(), client=client
    )
    yield dataset.create()


def submit(dataset: rg.Dataset, record_id: str, label: str = "positive") -> None:
    record = rg.Record(
        id=record_id,
        responses=[rg.Response("label", label, user_id=dataset.client.me.id, status="submitted")],
    )
    dataset.records.log([record])


def test_query_params_progression_changes_the_records(dataset: rg.Dataset) -> None:
    dataset.records.log(
        [{"id": f"b{b}-{i}", "text": "t", "batch_id": b} for b in range(3) for i in range(b + 1)],
        mapping={"batch_id": "batch_id.metadata"},
    )
    seen: list[tuple[str | None, list[str], int]] = []

    @rg.listener(
        dataset=dataset.name,
        workspace=dataset.workspace.name,
        query="metadata.batch_id:{batch_id}",
        batch_id=0,
    )
    def by_batch(records: list[rg.Record], ctx: Any) -> None:
        seen.append((ctx.query, sorted(str(r.id) for r in records), ctx.search.total))
        ctx.query_params["batch_id"] += 1

    for _ in range(4):
        assert by_batch.run_once()
    assert seen == [
        ("metadata.batch_id:0", ["b0-0"], 1),
        ("metadata.batch_id:1", ["b1-0", "b1-1"], 2),
        ("metadata.batch_id:2", ["b2-0", "b2-1", "b2-2"], 3),
        ("metadata.batch_id:3", [], 0),
    ]
    assert by_batch.query_params == {"batch_id": 4}


def test_condition_with_search_and_metrics(dataset: rg.Dataset) -> None:
    dataset.records.log([{"id": f"r{i}", "text": "t"} for i in range(3)])
    seen: list[Any] = []

    @rg.listener(
        dataset=dataset.name,
        workspace=dataset.workspace.name,
        metrics=["progress"],
        query_records=False,
        condition=lambda search, metrics: metrics["progress"]["completed"] >= 2,
    )
    def when_two_done(ctx: Any) -> None:
        seen.append(ctx.metrics["progress"])

    assert not when_two_done.run_once()
    submit(dataset, "r0")
    assert not when_two_done.run_once()
    submit(dataset, "r1")
    assert when_two_done.run_once()
    assert seen == [{"total": 3, "completed": 2, "pending": 1}]


def test_stop_wakes_the_sleep_at_once(dataset: rg.Dataset) -> None:
    @rg.listener(dataset=dataset.name, workspace=dataset.workspace.name, execution_interval_in_seconds=3600)
    def hourly(records: list[rg.Record], ctx: Any) -> None:
        pass

    hourly.start()
    wait_for(lambda: hourly.runs == 1, "the first run")
    stopper = threading.Thread(target=hourly.stop)
    stopper.start()
    stopper.join(60)  # an hour-long sleep that stop() did not interrupt would hang here
    assert not stopper.is_alive() and not hourly.is_running


def test_an_exception_is_logged_and_the_schedule_goes_on(
    dataset: rg.Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    @rg.listener(dataset=dataset.name, workspace=dataset.workspace.name, execution_interval_in_seconds=0.1)
    def flaky(records: list[rg.Record], ctx: Any) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("boom on the first run")

    with caplog.at_level(logging.ERROR, logger="quire.listeners"):
        flaky.start()
        try:
            wait_for(lambda: flaky.runs >= 2, "two good runs after the failure")
        finally:
            flaky.stop()
    assert flaky.failures == 1 and isinstance(flaky.last_error, RuntimeError)
    failure = [r for r in caplog.records if r.name == "quire.listeners"]
    assert (
        failure and failure[0].exc_info is not None and "boom on the first run" in str(failure[0].exc_info[1])
    )


def test_on_record_completed_reacts_to_the_event(dataset: rg.Dataset) -> None:
    dataset.records.log([{"id": "a", "text": "first"}, {"id": "b", "text": "second"}])
    got: list[tuple[str, list[str], str | None]] = []

    @rg.listener(dataset=dataset.name, workspace=dataset.workspace.name, on="record.completed")
    def completed(records: list[rg.Record], ctx: Any) -> None:
        got.append((ctx.event.type, [str(r.id) for r in records], records[0].responses["label"][0].value))

    completed.start()
    try:
        submit(dataset, "b", "negative")
        wait_for(lambda: got, "the record.completed event")
    finally:
        completed.stop()
    assert got == [("record.completed", ["b"], "negative")]
    assert not completed.is_running


def test_on_with_a_query_skips_records_that_do_not_match(dataset: rg.Dataset) -> None:
    dataset.records.log([{"id": "keep", "text": "urgent ticket"}, {"id": "skip", "text": "routine ticket"}])
    got: list[str] = []

    @rg.listener(
        dataset=dataset.name, workspace=dataset.workspace.name, on=["record.completed"], query="urgent"
    )
    def urgent(records: list[rg.Record], ctx: Any) -> None:
        got.extend(str(r.id) for r in records)

    urgent.start()
    try:
        submit(dataset, "skip")
        submit(dataset, "keep")
        wait_for(lambda: got, "the matching record")
        wait_for(lambda: urgent.last_context is not None, "the context")
    finally:
        urgent.stop()
    assert got == ["keep"]


def test_on_reconnects_with_last_event_id_and_misses_nothing(dataset: rg.Dataset) -> None:
    dataset.records.log([{"id": f"r{i}", "text": "t"} for i in range(3)])
    got: list[str] = []

    @rg.listener(
        dataset=dataset.name, workspace=dataset.workspace.name, on="record.completed", query_records=False
    )
    def completed(ctx: Any) -> None:
        got.append(str(ctx.event.record["external_id"]))

    completed.start()
    try:
        submit(dataset, "r0")
        wait_for(lambda: got == ["r0"], "the first event")
        stream = completed._stream
        assert stream is not None and stream.connections == 1 and stream.last_event_id
        response = stream._response
        assert response is not None
        _shutdown(response)  # the connection drops (not a stop): the listener reconnects
        submit(dataset, "r1")  # committed while the listener may still be disconnected
        submit(dataset, "r2")
        wait_for(lambda: len(got) >= 3, "the events committed around the drop")
    finally:
        completed.stop()
    assert got == ["r0", "r1", "r2"]
    assert stream.connections >= 2


def test_start_refuses_what_cannot_work(server: LiveServer, client: rg.Quire) -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        rg.listener(dataset="d", on="record.exploded")
    with pytest.raises(ValueError, match="batch_id"):
        rg.listener(dataset="d", query="metadata.batch_id:{batch_id}", other=1)
    with pytest.raises(ValueError, match="execution_interval_in_seconds"):
        rg.listener(dataset="d", execution_interval_in_seconds=0)

    @rg.listener(dataset=unique("missing"), on="record.completed")
    def nothing(records: list[rg.Record], ctx: Any) -> None:
        pass

    with pytest.raises(rg.NotFoundError):
        nothing.start()
    assert not nothing.is_running

    @rg.listener(dataset="d")
    def three(a: int, b: int, c: int) -> None:
        pass

    with pytest.raises(TypeError, match=r"\(records, ctx\) or \(ctx\)"):
        three.start()


def test_unknown_metric_names_the_known_ones(dataset: rg.Dataset) -> None:
    @rg.listener(dataset=dataset.name, workspace=dataset.workspace.name, metrics=["bleu"])
    def scored(records: list[rg.Record], ctx: Any) -> None:
        pass

    with pytest.raises(ValueError, match=r"unknown metric.*'f1'.*'label'"):
        scored.run_once()
