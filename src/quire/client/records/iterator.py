"""Paging through a dataset's records: `GET …/records` without a query, `POST …/records/search` with
one. Pages are fetched as the iteration needs them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from quire.client.records import export
from quire.client.records.codec import RecordCodec
from quire.client.records.query import Query
from quire.client.records.record import Record

if TYPE_CHECKING:
    from quire.client.datasets import Dataset

__all__ = ["RecordsIterator", "SearchPage", "VectorsOption", "include_params"]

MAX_PAGE = 1000
VectorsOption = bool | str | list[str] | None


def include_params(
    with_suggestions: bool, with_responses: bool, with_vectors: VectorsOption, vector_names: list[str]
) -> list[str]:
    """The `include` query parameters for a page of records."""
    include = []
    if with_suggestions:
        include.append("suggestions")
    if with_responses:
        include.append("responses")
    if with_vectors is True:
        include.append("vectors")
    elif with_vectors:
        names = [with_vectors] if isinstance(with_vectors, str) else list(with_vectors)
        unknown = [n for n in names if n not in vector_names]
        if unknown:
            raise ValueError(f"unknown vector field(s) {unknown}: the dataset has {vector_names}")
        include.append("vectors:" + ",".join(names))
    return include


@dataclass
class SearchPage:
    """One page of a search: the records (with their score for similarity searches) and the
    number of records matching in total."""

    records: list[Record]
    scores: list[float | None]
    total: int


class RecordsIterator:
    """The records of `dataset(…)`: iterate it (again and again), or export it with `to_list()`,
    `to_dict()`, `to_json()`, `to_jsonl()`, `to_datasets()`. With a `Similar` query it yields
    `(record, score)` pairs."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        query: Query | None = None,
        batch_size: int = 256,
        start_offset: int = 0,
        with_suggestions: bool = True,
        with_responses: bool = True,
        with_vectors: VectorsOption = None,
        limit: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self._dataset = dataset
        self._query = query if query is not None and query.has_search() else None
        self._batch_size = min(batch_size, MAX_PAGE)
        self._start = start_offset
        self._limit = limit
        self._include = include_params(
            with_suggestions, with_responses, with_vectors, dataset.settings.vectors.names
        )
        self._live: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        return self._pages()

    def __next__(self) -> Any:
        if self._live is None:
            self._live = self._pages()
        return next(self._live)

    def _pages(self) -> Iterator[Any]:
        dataset = self._dataset
        codec = RecordCodec(dataset, dataset.settings)
        similar = self._query is not None and self._query.has_similar()
        offset, remaining = self._start, self._limit
        while remaining is None or remaining > 0:
            size = self._batch_size if remaining is None else min(self._batch_size, remaining)
            items, scores = self._fetch(offset, size)
            for wire, score in zip(items, scores, strict=True):
                record = codec.record_from_wire(wire)
                yield (record, score) if similar else record
            offset += len(items)
            if remaining is not None:
                remaining -= len(items)
            if len(items) < size:
                return

    def _fetch(self, offset: int, size: int) -> tuple[list[dict[str, Any]], list[float | None]]:
        http = self._dataset.client.http
        dataset_id = self._dataset._require_id()
        params: dict[str, Any] = {"offset": offset, "limit": size, "include": self._include}
        if self._query is None:
            page = http.get(f"/api/v1/datasets/{dataset_id}/records", params=params)
            items = page["items"]
            return items, [None] * len(items)
        body = self._query.to_wire()
        page = http.post(
            f"/api/v1/datasets/{dataset_id}/records/search", params=params, json=body, idempotent=True
        )
        hits = page["items"]
        return [hit["record"] for hit in hits], [hit.get("query_score") for hit in hits]

    # ------------------------------------------------------------ exports

    def to_list(self, flatten: bool = False) -> list[dict[str, Any]]:
        return export.to_list(self, flatten=flatten)

    def to_dict(self, flatten: bool = False, orient: Literal["names", "index"] = "names") -> dict[str, Any]:
        return export.to_dict(self, flatten=flatten, orient=orient)

    def to_json(self, path: str | Path) -> Path:
        return export.to_json(self, path)

    def to_jsonl(self, path: str | Path) -> Path:
        return export.to_jsonl(self, path)

    def to_datasets(self) -> Any:
        return export.to_datasets(self, self._dataset.settings)


def search_page(
    dataset: Dataset,
    query: Query | None,
    *,
    offset: int = 0,
    limit: int = 50,
    include: list[str] | None = None,
) -> SearchPage:
    """One page of a search, with the total number of matches (`limit=0` only counts)."""
    http = dataset.client.http
    body = query.to_wire() if query is not None else {}
    params: dict[str, Any] = {"offset": offset, "limit": max(limit, 1), "include": include or []}
    page = http.post(
        f"/api/v1/datasets/{dataset._require_id()}/records/search", params=params, json=body, idempotent=True
    )
    codec = RecordCodec(dataset, dataset.settings)
    hits = page["items"][:limit] if limit > 0 else []
    return SearchPage(
        records=[codec.record_from_wire(hit["record"]) for hit in hits],
        scores=[hit.get("query_score") for hit in hits],
        total=int(page["total"]),
    )
