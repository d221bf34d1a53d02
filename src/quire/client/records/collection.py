"""`dataset.records`: iterate, search, log, delete and export the records of a dataset."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from quire.client.records.ingest import DEFAULT_BATCH_SIZE, PROGRESS_MIN_RECORDS, Ingest, OnError
from quire.client.records.iterator import (
    RecordsIterator,
    SearchPage,
    VectorsOption,
    include_params,
    search_page,
)
from quire.client.records.query import Filter, Query
from quire.client.records.record import Record

if TYPE_CHECKING:
    from quire.client.datasets import Dataset

__all__ = ["DatasetRecords"]

logger = logging.getLogger("quire.client")

MAX_DELETE = 100


class DatasetRecords:
    """The records of a dataset on the server.

    for record in dataset.records(query=rg.Query(query="hello"), with_vectors=True, limit=10): …
    dataset.records.log([{"text": "…", "label": "positive"}], mapping={…})
    dataset.records.delete(records)
    """

    DEFAULT_BATCH_SIZE = DEFAULT_BATCH_SIZE
    DEFAULT_DELETE_BATCH_SIZE = 64

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def __repr__(self) -> str:
        return f"DatasetRecords(dataset={self._dataset.name!r})"

    def __call__(
        self,
        query: str | Query | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        start_offset: int = 0,
        with_suggestions: bool = True,
        with_responses: bool = True,
        with_vectors: VectorsOption = None,
        limit: int | None = None,
    ) -> RecordsIterator:
        """The records, fetched `batch_size` at a time (at most 1000). A `query` string is
        `rg.Query(query=...)`. `with_vectors`: True for all, or a vector name or list of names."""
        if isinstance(query, str):
            query = Query(query=query)
        return RecordsIterator(
            self._dataset._ensure_settings(),
            query=query,
            batch_size=batch_size,
            start_offset=start_offset,
            with_suggestions=with_suggestions,
            with_responses=with_responses,
            with_vectors=with_vectors,
            limit=limit,
        )

    def __iter__(self) -> Iterator[Record]:
        return iter(self())

    def search(
        self,
        query: str | Query | None = None,
        *,
        offset: int = 0,
        limit: int = 50,
        with_suggestions: bool = False,
        with_responses: bool = False,
        with_vectors: VectorsOption = None,
    ) -> SearchPage:
        """One page of search results plus `total`, the number of records matching (`limit=0`:
        only count)."""
        dataset = self._dataset._ensure_settings()
        if isinstance(query, str):
            query = Query(query=query)
        include = include_params(
            with_suggestions, with_responses, with_vectors, dataset.settings.vectors.names
        )
        return search_page(dataset, query, offset=offset, limit=limit, include=include)

    def count(self, query: str | Query | None = None) -> int:
        """How many records match `query` (all of them without one)."""
        if query is None:
            page = self._dataset.client.http.get(
                f"/api/v1/datasets/{self._dataset._require_id()}/records", params={"limit": 1}
            )
            return int(page["total"])
        return self.search(query, limit=0).total

    # ------------------------------------------------------------ writing

    def log(
        self,
        records: Iterable[Record | Mapping[str, Any]] | Any,
        mapping: Mapping[str, str | Sequence[str]] | None = None,
        user_id: uuid.UUID | str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_error: OnError = "raise",
        show_progress: bool | None = None,
    ) -> DatasetRecords:
        """Create or update records (matched by `id`, the caller's id, then the server id).

        `records`: `rg.Record` objects, dicts (keys routed by `mapping`, see `quire.client.records.
        mapping`), dicts in `Record.to_dict()` shape, or a Hugging Face dataset. `user_id` owns
        responses given through the mapping (default: the client's user). Batches of `batch_size`
        (at most 500) go one after the other; the first failure stops the upload, and the batches
        before it stay written. `on_error="warn"` / `"ignore"` skip the rows the SDK itself refuses
        (unknown questions, nothing to log) instead of raising. `show_progress`: a progress bar;
        by default for 1,000 records or more.
        """
        dataset = self._dataset._ensure_settings()
        if isinstance(records, Record | Mapping):
            records = [records]
        total = len(records) if isinstance(records, Sized) else None
        if total == 0:
            raise ValueError("records.log got no records")
        ingest = Ingest(
            dataset,
            mapping=mapping if mapping is not None else dataset.settings.mapping or None,
            user_id=user_id,
            batch_size=batch_size,
            on_error=on_error,
        )
        show = show_progress if show_progress is not None else (total or 0) >= PROGRESS_MIN_RECORDS
        bar = None
        if show:
            tqdm = importlib.import_module("tqdm.auto").tqdm
            bar = tqdm(total=total, unit="records", desc=f"Logging to {dataset.name}")
        try:
            result = ingest.run(records, bar.update if bar is not None else _ignore)
        finally:
            if bar is not None:
                bar.close()
        logger.info("dataset %r: %d records added, %d updated", dataset.name, result.created, result.updated)
        return self

    def delete(
        self, records: Iterable[Record | str | uuid.UUID], batch_size: int = DEFAULT_DELETE_BATCH_SIZE
    ) -> list[Record | str | uuid.UUID]:
        """Delete records: `Record` objects (by server id, or by their `id` when they have none),
        or ids (a `uuid.UUID` is a server id, a string the caller's id). Unknown ids are skipped."""
        items = list(records)
        server_ids: list[str] = []
        by_external: list[str] = []
        for item in items:
            if isinstance(item, Record):
                if item._server_id is not None:
                    server_ids.append(str(item._server_id))
                elif item.id is not None:
                    by_external.append(item.id)
            elif isinstance(item, uuid.UUID):
                server_ids.append(str(item))
            else:
                by_external.append(str(item))
        server_ids.extend(self._server_ids(by_external))
        size = max(1, min(batch_size, MAX_DELETE))
        path = f"/api/v1/datasets/{self._dataset._require_id()}/records"
        for start in range(0, len(server_ids), size):
            chunk = server_ids[start : start + size]
            self._dataset.client.http.request("DELETE", path, params={"ids": ",".join(chunk)})
        return items

    def _server_ids(self, external_ids: list[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(external_ids), 250):
            chunk = external_ids[start : start + 250]
            query = Query(filter=Filter([("id", "in", chunk)]))
            for record in self(query=query, with_suggestions=False, with_responses=False):
                found.append(str(record._server_id))
        return found

    # ------------------------------------------------------------ exports

    def to_list(self, flatten: bool = False) -> list[dict[str, Any]]:
        return self().to_list(flatten=flatten)

    def to_dict(self, flatten: bool = False, orient: Literal["names", "index"] = "names") -> dict[str, Any]:
        return self().to_dict(flatten=flatten, orient=orient)

    def to_json(self, path: str | Path) -> Path:
        return self().to_json(path)

    def to_jsonl(self, path: str | Path) -> Path:
        return self().to_jsonl(path)

    def to_datasets(self) -> Any:
        return self().to_datasets()

    def from_jsonl(self, path: str | Path, **log_kwargs: Any) -> DatasetRecords:
        """Log the records of a file written by `to_jsonl` (ids kept, so it updates on re-run)."""
        import json

        with Path(path).open(encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        for row in rows:
            row.pop("_server_id", None)
        return self.log(rows, **log_kwargs)


def _ignore(_: int) -> None:
    return None
