"""`@rg.listener(...)`: turn a function into a `Listener`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from quire.client.client import Quire
from quire.client.listeners.listener import Listener
from quire.client.webhooks import EVENT_TYPES

__all__ = ["listener"]


def listener(
    dataset: str,
    query: str | None = None,
    execution_interval_in_seconds: float = 30,
    condition: Callable[..., Any] | None = None,
    metrics: Sequence[str] | None = None,
    query_records: bool = True,
    *,
    on: str | Sequence[str] | None = None,
    workspace: str | None = None,
    client: Quire | None = None,
    **query_params: Any,
) -> Callable[[Callable[..., Any]], Listener]:
    """Decorator: run the function on the records of `dataset` that match `query`.

        @rg.listener(dataset="my_dataset", query="metadata.batch_id:{batch_id}", batch_id=0,
                     execution_interval_in_seconds=3, condition=lambda search: search.total > 10)
        def update_records(records, ctx):
            ctx.query_params["batch_id"] += 1

        update_records.start(); …; update_records.stop()

    - `dataset`: the dataset's name (in `workspace`, default the client's default workspace).
    - `query`: a query string (docs/search.md), formatted with `query_params` (`{batch_id}`)
      before every run; None matches every record.
    - `execution_interval_in_seconds`: the time between the starts of two runs (fixed rate).
    - `condition(search)` or `condition(search, metrics)`: the function runs only when it is true;
      `search.total` is the number of records matching the query.
    - `metrics`: names of dataset metrics for `ctx.metrics` (`"F1"`, `"accuracy"`, `"agreement"`,
      `"progress"`, … or a question's name); see `quire.client.listeners.metrics`.
    - `query_records=False`: do not fetch the records; the function takes `(ctx)`.
    - `on`: an event type or a list of them (`"record.completed"`, …): instead of polling, run once
      per such event of the dataset, as the server streams it (`ctx.event`; `records` is the
      event's record, fetched again; with a `query`, events whose record does not match are
      skipped).
    - `client`: the `rg.Quire` to use (default: the default client when the listener starts).
    - any other keyword: an initial query parameter (`ctx.query_params`).
    """
    if not isinstance(dataset, str) or not dataset:
        raise TypeError("listener(dataset=...) is the name of a dataset")
    if execution_interval_in_seconds <= 0:
        raise ValueError(f"execution_interval_in_seconds must be > 0, got {execution_interval_in_seconds}")
    if condition is not None and not callable(condition):
        raise TypeError("condition must be a function of the search, e.g. lambda search: search.total > 10")
    if isinstance(metrics, str):
        metrics = [metrics]
    events: tuple[str, ...] = ()
    if on is not None:
        events = (on,) if isinstance(on, str) else tuple(on)
        unknown = [e for e in events if e not in EVENT_TYPES]
        if unknown or not events:
            raise ValueError(f"unknown event type(s) {unknown} for on=: use some of {list(EVENT_TYPES)}")
    if query is not None and query_params:
        try:
            query.format(**query_params)
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"the query {query!r} uses {exc} but no such query parameter was given "
                f"(pass it as a keyword: listener(..., {str(exc).strip(chr(39))}=...))"
            ) from None

    def decorate(function: Callable[..., Any]) -> Listener:
        return Listener(
            function,
            dataset=dataset,
            workspace=workspace,
            query=query,
            execution_interval_in_seconds=execution_interval_in_seconds,
            condition=condition,
            metrics=metrics,
            query_records=query_records,
            query_params=query_params,
            on=events,
            client=client,
        )

    return decorate
