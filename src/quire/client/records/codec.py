"""Records to and from the server's wire dicts, for one dataset.

This is the hot path of `records.log`: plain dicts and lookups prepared once per call, no pydantic
model per record.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from quire.client.errors import RecordError
from quire.client.records.record import Record
from quire.client.records.responses import Response, ResponseStatus
from quire.client.records.suggestions import Suggestion, check_suggestion
from quire.client.resource import parse_datetime
from quire.client.settings import ChatField, ImageField, Question, Settings

if TYPE_CHECKING:
    from quire.client.datasets import Dataset

__all__ = ["RecordCodec", "image_to_data_url"]


def image_to_data_url(value: Any) -> Any:
    """A PIL image as a `data:image/png;base64,…` URL; anything else unchanged."""
    if hasattr(value, "save") and hasattr(value, "mode") and not isinstance(value, str | bytes):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return value


def _chat_messages(value: Any) -> Any:
    if isinstance(value, list):
        return [
            m
            if isinstance(m, Mapping)
            else {"role": getattr(m, "role", None), "content": getattr(m, "content", None)}
            for m in value
        ]
    return value


class RecordCodec:
    """Converts records of `dataset` (whose settings must be loaded)."""

    def __init__(self, dataset: Dataset, settings: Settings) -> None:
        self.dataset = dataset
        self.dataset_id = dataset.id
        self.dataset_name = dataset.name
        self.settings = settings
        self.questions = settings.questions
        self.questions_by_name: dict[str, Question] = {q.name: q for q in settings.questions}
        self.questions_by_id: dict[str, Question] = {str(q.id): q for q in settings.questions if q.id}
        self.question_ids: dict[str, str | None] = {
            q.name: str(q.id) if q.id else None for q in settings.questions
        }
        self.ranking = {
            q.name for q in settings.questions if type(q).value_to_wire is not Question.value_to_wire
        }
        self.image_fields = {f.name for f in settings.fields if isinstance(f, ImageField)}
        self.chat_fields = {f.name for f in settings.fields if isinstance(f, ChatField)}

    # ------------------------------------------------------------ to the server

    def suggestion_wire(self, suggestion: Suggestion, index: int | None) -> dict[str, Any]:
        question = self.questions_by_name.get(suggestion.question_name)
        if question is None:
            question = check_suggestion(suggestion, self.questions, self.dataset_name, index=index)
        return self.suggestion_values_wire(
            question, suggestion.value, suggestion.score, suggestion.agent, suggestion.type
        )

    def suggestion_values_wire(
        self, question: Question, value: Any, score: Any, agent: Any, type_: Any
    ) -> dict[str, Any]:
        return {
            "question_id": self.question_ids.get(question.name),
            "question_name": question.name,
            "value": question.value_to_wire(value) if question.name in self.ranking else value,
            "score": score,
            "agent": agent,
            "type": type_,
        }

    def responses_wire(self, record: Record, index: int | None) -> list[dict[str, Any]]:
        out = []
        for user_response in record.responses.by_user():
            values: dict[str, dict[str, Any]] = {}
            for response in user_response.responses:
                question = self._question_for_response(response, index)
                if response.value is not None:
                    values[question.name] = {"value": question.value_to_wire(response.value)}
            out.append(
                {
                    "user_id": str(user_response.user_id),
                    "status": user_response.status.value,
                    "values": values,
                }
            )
        return out

    def _question_for_response(self, response: Response, index: int | None) -> Question:
        question = self.questions_by_name.get(response.question_name)
        if question is None:
            where = f"record {index} of the input: " if index is not None else ""
            raise RecordError(
                f"{where}a response to question {response.question_name!r} cannot be added: dataset "
                f"{self.dataset_name!r} has no such question. Available questions are: {self.questions.names}",
                index=index,
            )
        return question

    def fields_wire(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in fields.items():
            if value is None:
                continue
            if name in self.image_fields:
                value = image_to_data_url(value)
            elif name in self.chat_fields:
                value = _chat_messages(value)
            out[name] = value
        return out

    def record_wire(self, record: Record, index: int | None = None) -> dict[str, Any]:
        """The bulk-upsert item for `record`. A new record without an `id` gets a random one (kept
        on the object, so logging it again updates it)."""
        item: dict[str, Any] = {}
        same_dataset = record.dataset is None or record.dataset.id == self.dataset_id
        if record._server_ref is not None and same_dataset:
            item["id"] = str(record._server_ref)
        elif record.id is None:
            record.id = str(uuid.uuid4())
        if record.id is not None:
            item["external_id"] = record.id
        if record.fields:
            item["fields"] = self.fields_wire(record.fields)
        if record.metadata:
            item["metadata"] = dict(record.metadata)
        if record.vectors:
            item["vectors"] = dict(record.vectors)
        if record.suggestions:
            item["suggestions"] = [self.suggestion_wire(s, index) for s in record.suggestions]
        if record.responses:
            item["responses"] = self.responses_wire(record, index)
        return item

    # ------------------------------------------------------------ from the server

    def record_from_wire(self, wire: Mapping[str, Any]) -> Record:
        record = Record(
            id=wire.get("external_id"),
            fields=wire.get("fields") or {},
            metadata=wire.get("metadata") or {},
            vectors=wire.get("vectors") or {},
            _server_id=wire.get("id"),
            _dataset=self.dataset,
        )
        record.status = wire.get("status")
        record.inserted_at = parse_datetime(wire.get("inserted_at"))
        record.updated_at = parse_datetime(wire.get("updated_at"))
        for item in wire.get("suggestions") or ():
            question = self.questions_by_id.get(str(item.get("question_id")))
            if question is None:
                continue
            suggestion = Suggestion(
                question.name,
                question.value_from_wire(item.get("value")),
                score=item.get("score"),
                agent=item.get("agent"),
                type=item.get("type"),
            )
            suggestion._id = uuid.UUID(str(item["id"])) if item.get("id") else None
            suggestion._question_id = question.id
            record.suggestions._put(suggestion)
        for item in wire.get("responses") or ():
            status = ResponseStatus(item.get("status") or "draft")
            for name, answer in (item.get("values") or {}).items():
                question = self.questions_by_name.get(name)
                value = answer.get("value") if isinstance(answer, Mapping) else answer
                if question is not None:
                    value = question.value_from_wire(value)
                record.responses.add(Response(name, value, user_id=item["user_id"], status=status))
        return record
