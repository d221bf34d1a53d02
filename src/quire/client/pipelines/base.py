"""What the pipeline steps share: connection, dataset creation or validation, deterministic ids."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from quire.client.client import Quire
from quire.client.datasets import Dataset
from quire.client.records.record import Record
from quire.client.settings import Settings

__all__ = ["ID_NAMESPACE", "QuireStep", "content_id", "instruction_hash"]

logger = logging.getLogger("quire.pipelines")

ID_NAMESPACE = uuid.UUID("6f2b3c1e-7d4a-5e9b-8c0f-2a1d3e4f5b6c")
"""Namespace of the record ids the steps derive from content (UUID version 5)."""

Row = dict[str, Any]


def content_id(kind: str, *parts: Any) -> str:
    """A record id that depends only on `kind` and the content: the same input gives the same id
    on every run, so pushing it again updates the record instead of adding a duplicate."""
    text = json.dumps([kind, *parts], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(uuid.uuid5(ID_NAMESPACE, text))


def instruction_hash(instruction: str) -> str:
    """The `id` field of the steps' datasets: SHA-256 of the instruction (groups the records of
    one instruction)."""
    return hashlib.sha256(instruction.encode("utf-8")).hexdigest()


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)  # pydantic's SecretStr
    return str(getter()) if callable(getter) else str(value)


class QuireStep:
    """Base of the steps: `load()` connects and creates the dataset (or checks the existing one),
    `process(inputs)` pushes a batch of rows as records and yields the batch unchanged.

    - `dataset_name`: the dataset to push to; `dataset_workspace`: its workspace (default: the
      user's default workspace);
    - `api_url`, `api_key`: the quire server (default `QUIRE_API_URL` / `QUIRE_API_KEY`), or
      `client=` an existing `rg.Quire`;
    - `input_mappings`: `{step input: column}` when the rows name a column differently
      (`{"instruction": "prompt"}`).
    """

    kind = "step"

    def __init__(
        self,
        *,
        dataset_name: str,
        dataset_workspace: str | None = None,
        api_url: str | None = None,
        api_key: Any = None,
        input_mappings: Mapping[str, str] | None = None,
        client: Quire | None = None,
    ) -> None:
        if not dataset_name:
            raise ValueError("dataset_name is required")
        self.dataset_name = dataset_name
        self.dataset_workspace = dataset_workspace
        self.api_url = api_url
        self.api_key = api_key
        self.input_mappings = dict(input_mappings or {})
        self._client = client
        self._owns_client = False
        self._dataset: Dataset | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dataset_name={self.dataset_name!r}, dataset_workspace={self.dataset_workspace!r})"

    # ------------------------------------------------------------ to implement

    @property
    def inputs(self) -> list[str]:
        raise NotImplementedError

    @property
    def optional_inputs(self) -> list[str]:
        return []

    @property
    def outputs(self) -> list[str]:
        """None: the step passes its inputs on unchanged and adds no column."""
        return []

    def settings(self) -> Settings:
        """The settings of a dataset created by `load()`."""
        raise NotImplementedError

    def required_fields(self) -> list[str]:
        raise NotImplementedError

    def required_questions(self) -> list[str]:
        return []

    def records_for(self, row: Row) -> list[Record]:
        raise NotImplementedError

    # ------------------------------------------------------------ lifecycle

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call load() before process()")
        return self._dataset

    def load(self) -> None:
        """Connect, then create the dataset, or check that the existing one has the fields (and
        questions) this step writes; raise `ValueError` naming what is missing."""
        if self._client is None:
            self._client = Quire(api_url=self.api_url, api_key=_secret(self.api_key))
            self._owns_client = True
        found = self._client.datasets(self.dataset_name, workspace=self.dataset_workspace)
        if found is None:
            dataset = Dataset(
                name=self.dataset_name,
                workspace=self.dataset_workspace,
                settings=self.settings(),
                client=self._client,
            )
            self._dataset = dataset.create()
            logger.info("created dataset %r", self.dataset_name)
            return
        field_names = {f.name for f in found.fields}
        question_names = {q.name for q in found.questions}
        missing_fields = [f for f in self.required_fields() if f not in field_names]
        missing_questions = [q for q in self.required_questions() if q not in question_names]
        if missing_fields or missing_questions:
            raise ValueError(
                f"dataset {self.dataset_name!r} exists but does not fit {type(self).__name__}: "
                f"missing fields {missing_fields}, missing questions {missing_questions} "
                f"(it has fields {sorted(field_names)} and questions {sorted(question_names)}); "
                "use another dataset_name or delete it"
            )
        self._dataset = found

    def unload(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        self._dataset = None

    def process(self, inputs: Sequence[Row]) -> Iterator[list[Row]]:
        """Push `inputs` (a batch of rows) as records, then yield the batch unchanged."""
        dataset = self.dataset
        batch = list(inputs)
        records: list[Record] = []
        for index, row in enumerate(batch):
            try:
                records.extend(self.records_for(row))
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{type(self).__name__}: row {index} of the batch: {exc}") from exc
        if records:
            dataset.records.log(records)
        yield batch

    # ------------------------------------------------------------ helpers

    def column(self, name: str) -> str:
        return self.input_mappings.get(name, name)

    def value(self, row: Mapping[str, Any], name: str) -> Any:
        column = self.column(name)
        if column not in row:
            raise KeyError(f"the row has no {column!r} column (it has {sorted(row)})")
        return row[column]
