"""`records.log`: turn the caller's rows into bulk-upsert bodies and send them in batches.

Bodies are built on the calling thread while the previous batch is in flight on a sender thread,
so the SDK's own work overlaps the server's; batches still go one after the other, in order, and
the first failure stops the upload. A 422 for one record is raised as a `RecordValidationError`
that names the record's position in the caller's input (not in its batch).
"""

from __future__ import annotations

import logging
import re
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from quire.client.errors import QuireError, RecordError, RecordValidationError, ValidationError
from quire.client.http import dumps, loads
from quire.client.records.codec import RecordCodec
from quire.client.records.mapping import RowMapper
from quire.client.records.record import Record

if TYPE_CHECKING:
    from quire.client.datasets import Dataset

logger = logging.getLogger("quire.client")

DEFAULT_BATCH_SIZE = 256
MAX_BATCH_SIZE = 500
PROGRESS_MIN_RECORDS = 1000
OnError = Literal["raise", "warn", "ignore"]
_POSITION = re.compile(r"(?<=position )(\d+)")
_ITEM = re.compile(r"\bitems\[(\d+)\]")


@dataclass
class Batch:
    start: int  # input position of the first row
    rows: list[Any] = field(default_factory=list)  # the caller's rows (for error messages)
    positions: list[int] = field(default_factory=list)  # input position of each item
    items: list[dict[str, Any]] = field(default_factory=list)
    records: list[tuple[int, Record]] = field(default_factory=list)  # (item index, Record) to update


@dataclass
class LogResult:
    created: int = 0
    updated: int = 0


def _nested_dict_record(row: Mapping[str, Any], codec: RecordCodec) -> bool:
    """A row in `Record.to_dict()` shape (e.g. read back from `to_jsonl`) rather than a flat row."""
    value = row.get("fields")
    return isinstance(value, Mapping) and "fields" not in codec.settings.schema


class Ingest:
    """One `records.log` call."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        mapping: Mapping[str, str | Sequence[str]] | None,
        user_id: uuid.UUID | str | None,
        batch_size: int,
        on_error: OnError,
    ) -> None:
        if on_error not in ("raise", "warn", "ignore"):
            raise ValueError(f"on_error must be 'raise', 'warn' or 'ignore', got {on_error!r}")
        self.dataset = dataset
        self.codec = RecordCodec(dataset, dataset.settings)
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH_SIZE))
        self.on_error = on_error
        self._mapping = mapping
        self._user_id = user_id
        self._mapper: RowMapper | None = None

    def _current_user(self) -> uuid.UUID:
        if self._user_id is not None:
            return self._user_id if isinstance(self._user_id, uuid.UUID) else uuid.UUID(str(self._user_id))
        user_id = self.dataset.client.me.id
        assert user_id is not None
        return user_id

    @property
    def mapper(self) -> RowMapper:
        if self._mapper is None:
            self._mapper = RowMapper(self.codec, self._mapping, self._current_user)
        return self._mapper

    def _item(self, row: Any, index: int) -> tuple[dict[str, Any], Record | None]:
        if isinstance(row, Record):
            return self.codec.record_wire(row, index), row
        if isinstance(row, Mapping):
            if _nested_dict_record(row, self.codec):
                record = Record.from_dict(row)
                return self.codec.record_wire(record, index), None
            return self.mapper.item(row, index), None
        raise RecordError(
            f"record {index} of the input is a {type(row).__name__}: records.log takes rg.Record objects or dicts",
            index=index,
        )

    def batches(self, rows: Iterable[Any]) -> Iterable[Batch]:
        batch = Batch(start=0)
        for index, row in enumerate(rows):
            try:
                item, record = self._item(row, index)
            except QuireError as exc:
                if self.on_error == "raise":
                    raise
                if self.on_error == "warn":
                    warnings.warn(f"skipped: {exc}", stacklevel=4)
                continue
            if not batch.items:
                batch.start = index
            if record is not None:
                batch.records.append((len(batch.items), record))
            batch.rows.append(row)
            batch.positions.append(index)
            batch.items.append(item)
            if len(batch.items) >= self.batch_size:
                yield batch
                batch = Batch(start=index + 1)
        if batch.items:
            yield batch
        if self._mapper is not None and self._mapper.unknown_keys:
            warnings.warn(
                f"keys {sorted(self._mapper.unknown_keys)} of the records are not fields, questions, metadata or "
                f"vectors of dataset {self.dataset.name!r} and were ignored (route them with mapping=...)",
                stacklevel=4,
            )

    def send(self, body: bytes) -> bytes:
        """PUT one batch body (runs on the sender thread); returns the response body."""
        response = self.dataset.client.http.request(
            "PUT",
            f"/api/v1/datasets/{self.dataset._require_id()}/records/bulk",
            content=body,
            idempotent=True,
        )
        return response.content

    def absorb(self, batch: Batch, content: bytes, result: LogResult) -> None:
        """Count what the server did; give `Record` objects their server id. The response is only
        decoded when there is something to do with it."""
        if not batch.records and not logger.isEnabledFor(logging.INFO):
            result.created += len(batch.items)
            return
        answer = loads(content) if content else {}
        updated = len(answer.get("updated_item_ids") or [])
        result.updated += updated
        result.created += len(batch.items) - updated
        by_external = {item.get("external_id"): item for item in answer.get("items") or []}
        for _, record in batch.records:
            wire = by_external.get(record.id)
            if wire is not None:
                record._server_id = wire["id"]  # parsed when first read
                record.status = wire.get("status")
            record.dataset = self.dataset

    def run(self, rows: Iterable[Any], progress: Callable[[int], None]) -> LogResult:
        """Send the batches in order, one in flight at a time. While batch k is in flight, batch k+1
        is built and serialized here; as soon as k is answered, k+1 goes out, and k's answer is
        looked at while k+1 is in flight."""
        result = LogResult()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quire-log")
        in_flight: tuple[Future[bytes], Batch] | None = None
        try:
            for batch in self.batches(rows):
                body = dumps({"items": batch.items})
                answered = self._wait(*in_flight) if in_flight is not None else None
                in_flight = (executor.submit(self.send, body), batch)
                if answered is not None:
                    self._absorb_and_report(*answered, result, progress)
            if in_flight is not None:
                answered = self._wait(*in_flight)
                in_flight = None
                self._absorb_and_report(*answered, result, progress)
        finally:
            # a batch still in flight (the caller's rows failed meanwhile) is let finish, so that
            # what was written is settled when this returns or raises
            executor.shutdown(wait=True, cancel_futures=True)
        return result

    @staticmethod
    def _wait(future: Future[bytes], batch: Batch) -> tuple[Batch, bytes]:
        try:
            return batch, future.result()
        except ValidationError as exc:
            raise pointed_error(exc, batch) from None

    def _absorb_and_report(
        self, batch: Batch, content: bytes, result: LogResult, progress: Callable[[int], None]
    ) -> None:
        self.absorb(batch, content, result)
        progress(len(batch.items))


def pointed_error(exc: ValidationError, batch: Batch) -> ValidationError:
    """The server's 422 for a batch, re-aimed at the caller's input: positions in the message
    become input positions, and the error carries the offending row."""
    message = exc.message
    position: int | None = None
    if (match := _POSITION.search(message)) or (match := _ITEM.search(message)):
        position = int(match.group(1))
    translate = batch.positions

    def at(pos: int) -> int:
        return translate[pos] if 0 <= pos < len(translate) else batch.start + pos

    message = _POSITION.sub(lambda m: str(at(int(m.group(1)))), message)
    message = _ITEM.sub(lambda m: f"records[{at(int(m.group(1)))}]", message)
    if position is None or not 0 <= position < len(batch.items):
        first, last = batch.positions[0], batch.positions[-1]
        return ValidationError(
            f"records {first}..{last} were refused: {message}",
            status_code=exc.status_code,
            body=exc.body,
            response=exc.response,
        )
    index = at(position)
    record_id = batch.items[position].get("external_id")
    return RecordValidationError(
        f"record {index} of the input (id {record_id!r}) was refused: {message}",
        index=index,
        record=batch.rows[position],
        status_code=exc.status_code,
        body=exc.body,
        response=exc.response,
    )
