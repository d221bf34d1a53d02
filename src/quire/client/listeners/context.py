"""What a listener's function gets besides the records: `ctx`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quire.client.datasets import Dataset
    from quire.client.listeners.listener import Listener
    from quire.client.listeners.metrics import ListenerMetrics
    from quire.client.receiver.events import WebhookEvent
    from quire.client.records.iterator import SearchPage

__all__ = ["ListenerContext"]


class ListenerContext:
    """`ctx` of a listener run.

    - `ctx.__listener__`: the listener (`ctx.__listener__.dataset` is the dataset's name);
    - `ctx.query`: the query of this run, formatted with the query parameters;
    - `ctx.query_params`: the listener's query parameters; change them and the next run formats
      the query with the new values;
    - `ctx.search`: the search of this run (`ctx.search.total` records match the query); None for
      an `on=` listener without a `condition`;
    - `ctx.metrics`: the metrics asked for with `metrics=[...]` (None without);
    - `ctx.event`: the event an `on=` listener reacts to (a `WebhookEvent`; None when polling);
    - `ctx.dataset`: the dataset (an `rg.Dataset`).
    """

    def __init__(
        self,
        listener: Listener,
        *,
        dataset: Dataset,
        query: str | None,
        query_params: dict[str, Any],
        search: SearchPage | None = None,
        metrics: ListenerMetrics | None = None,
        event: WebhookEvent | None = None,
    ) -> None:
        self.__listener__ = listener
        self.dataset = dataset
        self.query = query
        self.query_params = query_params
        self.search = search
        self.metrics = metrics
        self.event = event

    @property
    def listener(self) -> Listener:
        return self.__listener__

    def __repr__(self) -> str:
        total = self.search.total if self.search is not None else None
        event = self.event.type if self.event is not None else None
        return (
            f"ListenerContext(dataset={self.dataset.name!r}, query={self.query!r}, "
            f"query_params={self.query_params!r}, total={total}, event={event!r})"
        )
