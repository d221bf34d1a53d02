"""`Listener`: a function run on a schedule (polling) or on server events, in a background thread.

Polling: every run searches the dataset with the query (formatted with the query parameters),
checks the condition against the search, fetches the metrics and the records as asked, and calls
the function. Runs start `execution_interval_in_seconds` apart (fixed rate: the time a run takes is
not added to the pause; a run that takes longer than the interval is followed at once), until
`stop()`. The first run starts at once.

Events (`on=`): the listener follows the server's event stream for the dataset and runs once per
event of the given types, with the event's record, soon after the change commits.

An exception raised by the function (or by a run's requests) is logged on the `quire.listeners`
logger with its traceback and kept in `last_error`; the listener keeps its schedule.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from quire.client.client import Quire, default_client
from quire.client.errors import NotFoundError
from quire.client.listeners.context import ListenerContext
from quire.client.listeners.metrics import ListenerMetrics, check_names, select
from quire.client.listeners.sse import EventStream
from quire.client.receiver.events import WebhookEvent, parse_event
from quire.client.records.query import Query

if TYPE_CHECKING:
    from quire.client.datasets import Dataset
    from quire.client.records.iterator import SearchPage
    from quire.client.records.record import Record

__all__ = ["Listener"]

logger = logging.getLogger("quire.listeners")

CONNECT_TIMEOUT = 30.0
"""How long `start()` of an `on=` listener waits for the event stream to open."""


def _binds(function: Callable[..., Any], count: int, kwargs: dict[str, Any]) -> bool:
    try:
        inspect.signature(function).bind(*([None] * count), **kwargs)
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume it fits
        return True
    return True


def next_run_start(previous_start: float, interval: float, now: float) -> float:
    """Fixed rate: runs start `interval` apart, so a change waits at most one interval (plus the
    run that sees it); a run that took longer than the interval is followed at once."""
    return max(previous_start + interval, now)


class Listener:
    """A listener made by `@rg.listener(...)`. Call it like the function it wraps; run it with
    `start()` and `stop()`. See `quire.client.listeners.decorator.listener` for the options."""

    def __init__(
        self,
        action: Callable[..., Any],
        *,
        dataset: str,
        workspace: str | None = None,
        query: str | None = None,
        execution_interval_in_seconds: float = 30,
        condition: Callable[..., Any] | None = None,
        metrics: Sequence[str] | None = None,
        query_records: bool = True,
        query_params: dict[str, Any] | None = None,
        on: Sequence[str] = (),
        client: Quire | None = None,
    ) -> None:
        self.action = action
        self.dataset = dataset
        self.workspace = workspace
        self.query = query
        self.execution_interval_in_seconds = execution_interval_in_seconds
        self.condition = condition
        self.metrics = list(metrics) if metrics else []
        self.query_records = query_records
        self.query_params: dict[str, Any] = dict(query_params or {})
        self.on = tuple(on)
        self.client = client
        self.runs = 0
        """How many times the function was called."""
        self.failures = 0
        """How many runs raised (logged, then the schedule went on)."""
        self.last_error: BaseException | None = None
        self.last_context: ListenerContext | None = None
        """The `ctx` of the last call of the function."""
        self._dataset: Dataset | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stream: EventStream | None = None
        self._args: tuple[Any, ...] = ()
        self._kwargs: dict[str, Any] = {}
        self._style = "records"
        self._startup_error: BaseException | None = None
        self.__name__ = getattr(action, "__name__", "listener")
        self.__doc__ = getattr(action, "__doc__", None)

    def __repr__(self) -> str:
        how = f"on={list(self.on)}" if self.on else f"every {self.execution_interval_in_seconds}s"
        state = "running" if self.is_running else "stopped"
        return f"Listener({self.__name__}, dataset={self.dataset!r}, query={self.query!r}, {how}, {state})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly."""
        return self.action(*args, **kwargs)

    # ------------------------------------------------------------ state

    @property
    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def formatted_query(self) -> str | None:
        """The query with the current query parameters filled in (`str.format`)."""
        if self.query is None:
            return None
        return self.query.format(**self.query_params) if self.query_params else self.query

    def _client(self) -> Quire:
        return self.client if self.client is not None else default_client()

    def _resolve_dataset(self) -> Dataset:
        if self._dataset is None:
            found = self._client().datasets(self.dataset, workspace=self.workspace)
            if found is None:
                raise NotFoundError(f"listener: dataset {self.dataset!r} not found", status_code=404)
            self._dataset = found
        return self._dataset

    # ------------------------------------------------------------ start / stop

    def start(self, *action_args: Any, **action_kwargs: Any) -> Listener:
        """Run in a background thread until `stop()`; `action_args` / `action_kwargs` are passed to
        the function after `records, ctx`. An `on=` listener returns once the event stream is open
        (changes committed after `start()` returns reach it); it raises if the dataset cannot be
        found or the stream is refused."""
        if self.is_running:
            raise RuntimeError(f"listener {self.__name__!r} is already running: stop() it first")
        self._prepare(action_args, action_kwargs)
        self._stopping = threading.Event()
        self._startup_error = None
        if self.on:
            dataset = self._resolve_dataset()
            check_names(self.metrics, [q.name for q in dataset.questions])
            self._stream = EventStream(self._client(), types=self.on, dataset_id=dataset.id)
            target: Callable[[], None] = self._follow_events
        else:
            target = self._poll
        self._thread = threading.Thread(target=target, name=f"quire-listener-{self.__name__}", daemon=True)
        self._thread.start()
        if self._stream is not None:
            self._wait_connected(self._stream)
        return self

    def _wait_connected(self, stream: EventStream) -> None:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not stream.connected.wait(0.05):
            if self._startup_error is not None or not self.is_running:
                self.stop()
                raise self._startup_error or RuntimeError("the event stream closed before it opened")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the event stream did not open within {CONNECT_TIMEOUT:g}s")

    def stop(self, timeout: float | None = None) -> None:
        """Stop: a sleeping or waiting listener stops at once; a run in progress is finished first
        (waits at most `timeout` seconds for it, None = as long as it takes). Called from inside
        the function, it stops after the current run."""
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("listener %r: still finishing its run after %ss", self.__name__, timeout)
            return
        self._thread = None
        self._stream = None

    # ------------------------------------------------------------ running

    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._args, self._kwargs = args, kwargs
        self._style = self._call_style()

    def _call_style(self) -> str:
        """Whether the function takes `(records, ctx, …)` or `(ctx, …)`."""
        extra = len(self._args)
        if self.query_records and _binds(self.action, 2 + extra, self._kwargs):
            return "records"
        if _binds(self.action, 1 + extra, self._kwargs):
            return "ctx"
        if _binds(self.action, 2 + extra, self._kwargs):
            return "records"
        raise TypeError(
            f"listener {self.__name__!r}: the function must take (records, ctx) or (ctx)"
            + (f" plus the {extra} argument(s) given to start()" if extra else "")
        )

    def _poll(self) -> None:
        interval = self.execution_interval_in_seconds
        next_start = time.monotonic()
        while not self._stopping.is_set():
            self._guarded(self._run)
            next_start = next_run_start(next_start, interval, time.monotonic())
            if self._stopping.wait(max(0.0, next_start - time.monotonic())):
                return

    def _follow_events(self) -> None:
        stream = self._stream
        assert stream is not None
        try:
            for message in stream.events():
                if self._stopping.is_set():
                    return
                try:
                    event = parse_event(message.data, msg_id=message.id)
                except Exception as exc:
                    logger.warning("listener %r: skipped an unreadable event: %s", self.__name__, exc)
                    continue
                self._guarded(functools.partial(self._on_event, event))
        except Exception as exc:
            self._startup_error = exc
            if stream.connected.is_set():
                self.last_error = exc
                logger.exception("listener %r: the event stream failed; the listener stopped", self.__name__)

    def _guarded(self, run: Callable[[], Any]) -> None:
        try:
            run()
        except Exception as exc:
            self.failures += 1
            self.last_error = exc
            if isinstance(exc, NotFoundError):
                self._dataset = None  # deleted or renamed: find it again next time
            logger.exception("listener %r: run failed (the listener keeps running)", self.__name__)

    def _condition_holds(self, search: SearchPage | None, metrics: ListenerMetrics | None) -> bool:
        if self.condition is None:
            return True
        if _binds(self.condition, 2, {}):
            return bool(self.condition(search, metrics))
        return bool(self.condition(search))

    def _metrics(self, dataset: Dataset) -> ListenerMetrics | None:
        if not self.metrics:
            return None
        payload = dataset.client.http.get(f"/api/v1/datasets/{dataset._require_id()}/metrics")
        return select(self.metrics, payload)

    def _invoke(self, records: list[Record], ctx: ListenerContext) -> None:
        self.last_context = ctx
        if self._style == "records":
            self.action(records, ctx, *self._args, **self._kwargs)
        else:
            self.action(ctx, *self._args, **self._kwargs)
        self.runs += 1

    def run_once(self, *action_args: Any, **action_kwargs: Any) -> bool:
        """One polling run now, in this thread (exceptions propagate): search, condition, metrics,
        records, function. True if the function ran (False: the condition did not hold)."""
        if not self.is_running:
            self._prepare(action_args, action_kwargs)
        return self._run()

    def _run(self) -> bool:
        dataset = self._resolve_dataset()
        query = self.formatted_query
        search = dataset.records.search(query, limit=0)
        metrics = self._metrics(dataset)
        if not self._condition_holds(search, metrics):
            return False
        records: list[Record] = []
        if self._style == "records" and self.query_records:
            records = list(dataset.records(query=query))
        ctx = ListenerContext(
            self, dataset=dataset, query=query, query_params=self.query_params, search=search, metrics=metrics
        )
        self._invoke(records, ctx)
        return True

    def _on_event(self, event: WebhookEvent) -> bool:
        dataset = self._resolve_dataset()
        query = self.formatted_query
        metrics = self._metrics(dataset)
        search = dataset.records.search(query, limit=0) if self.condition is not None else None
        if not self._condition_holds(search, metrics):
            return False
        records: list[Record] = []
        record_id = event.record_id
        wants_records = self._style == "records" and self.query_records
        if record_id is not None and (wants_records or query):
            wanted = Query(query=query, filter=[("_server_id", "in", [str(record_id)])])
            records = list(dataset.records(query=wanted))
            if query and not records:
                return False  # the record does not match the query (or is gone)
        ctx = ListenerContext(
            self,
            dataset=dataset,
            query=query,
            query_params=self.query_params,
            search=search,
            metrics=metrics,
            event=event,
        )
        self._invoke(records, ctx)
        return True
