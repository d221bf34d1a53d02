"""`Suggestion`: a model's (or a person's) proposed answer to one question of one record.

    rg.Suggestion("label", "positive", score=0.9, agent="model_name")
    rg.Suggestion(question_name="rank", value=["1", "3", "2"])        # ranking: values in order
    rg.Suggestion(question_name="span", value=[{"start": 0, "end": 9, "label": "MISC"}])

The arguments are `(question_name, value)`, in that order. Calls written value-first
(`rg.Suggestion("negative", "label")`) are caught when the record meets its dataset (`records.log`,
or `record.suggestions.add` on a fetched record) with an error that shows the corrected call.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from quire.client.errors import SuggestionError

if TYPE_CHECKING:
    from quire.client.records.record import Record
    from quire.client.settings import Question, SettingsProperties

__all__ = ["RecordSuggestions", "Suggestion", "SuggestionType", "check_suggestion"]

SuggestionType = Literal["model", "human"]
_TYPES = ("model", "human")


class Suggestion:
    """A suggested value for question `question_name`. `score` is a float in [0, 1] (or one per item
    of a list value), `agent` who produced it (e.g. a model name), `type` `"model"` or `"human"`."""

    __slots__ = ("_id", "_question_id", "_record", "agent", "question_name", "score", "type", "value")

    def __init__(
        self,
        question_name: str,
        value: Any,
        score: float | list[float] | None = None,
        agent: str | None = None,
        type: SuggestionType | None = None,
    ) -> None:
        if question_name is None or question_name == "":
            raise ValueError("question_name is required: Suggestion(question_name, value, ...)")
        if value is None:
            raise ValueError(f"value is required: Suggestion({question_name!r}, value, ...)")
        if type is not None and type not in _TYPES:
            raise ValueError(f"type must be 'model' or 'human', got {type!r}")
        self.question_name = question_name
        self.value = value
        self.score = score
        self.agent = agent
        self.type = type
        self._id: uuid.UUID | None = None
        self._question_id: uuid.UUID | None = None
        self._record: Record | None = None

    def __repr__(self) -> str:
        extras = "".join(
            f", {name}={getattr(self, name)!r}"
            for name in ("score", "agent", "type")
            if getattr(self, name) is not None
        )
        return f"Suggestion({self.question_name!r}, {self.value!r}{extras})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Suggestion):
            return NotImplemented
        return (self.question_name, self.value, self.score, self.agent, self.type) == (
            other.question_name,
            other.value,
            other.score,
            other.agent,
            other.type,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def record(self) -> Record | None:
        """The record this suggestion belongs to, once added to one."""
        return self._record

    def corrected_call(self) -> str:
        """This suggestion written with name and value swapped back, e.g.
        `rg.Suggestion("label", "negative", score=0.9, agent="model_name")`."""
        extras = "".join(
            f", {name}={_literal(getattr(self, name))}"
            for name in ("score", "agent", "type")
            if getattr(self, name) is not None
        )
        return f"rg.Suggestion({_literal(self.value)}, {_literal(self.question_name)}{extras})"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "score": self.score, "agent": self.agent, "type": self.type}


def _literal(value: Any) -> str:
    """A Python literal for `value`, strings in double quotes as the docs write them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def check_suggestion(
    suggestion: Suggestion,
    questions: SettingsProperties[Question],
    dataset_name: str | None,
    *,
    index: int | None = None,
) -> Question:
    """The dataset question `suggestion` is for, or a `SuggestionError` that says what is wrong:
    arguments given value-first, or a question the dataset does not have."""
    question = questions[suggestion.question_name] if isinstance(suggestion.question_name, str) else None
    if question is not None:
        return question
    where = f"record {index} of the input: " if index is not None else ""
    names = questions.names
    value = suggestion.value
    if isinstance(value, str) and value in names:
        raise SuggestionError(
            f"{where}Suggestion({_literal(suggestion.question_name)}, {_literal(value)}) has its arguments swapped: the "
            f"signature is Suggestion(question_name, value). Use {suggestion.corrected_call()}",
            index=index,
        )
    raise SuggestionError(
        f"{where}a suggestion for question {suggestion.question_name!r} cannot be added: dataset "
        f"{dataset_name!r} has no such question. Available questions are: {names}",
        index=index,
    )


class RecordSuggestions:
    """The suggestions of one record, one per question. `record.suggestions["label"]` is that
    question's suggestion or None (so `if not record.suggestions["label"]:` tests for one)."""

    def __init__(self, suggestions: Iterable[Suggestion] | None, record: Record) -> None:
        self._record = record
        self._by_question: dict[str, Suggestion] = {}
        for suggestion in suggestions or ():
            self._put(suggestion)

    def __getitem__(self, question_name: str) -> Suggestion | None:
        return self._by_question.get(question_name)

    def get(self, question_name: str, default: Suggestion | None = None) -> Suggestion | None:
        return self._by_question.get(question_name, default)

    def __contains__(self, question_name: object) -> bool:
        return question_name in self._by_question

    def __iter__(self) -> Iterator[Suggestion]:
        return iter(list(self._by_question.values()))

    def __len__(self) -> int:
        return len(self._by_question)

    def __bool__(self) -> bool:
        return bool(self._by_question)

    def __repr__(self) -> str:
        return repr(self.to_dict())

    def add(self, suggestion: Suggestion) -> Suggestion:
        """Add (or replace) the suggestion for its question. On a record of a dataset, the question
        is checked first (`SuggestionError` for an unknown question or swapped arguments)."""
        dataset = self._record.dataset
        if dataset is not None and dataset.settings.questions:
            check_suggestion(suggestion, dataset.settings.questions, dataset.name)
        self._put(suggestion)
        return suggestion

    def remove(self, question_name: str) -> Suggestion | None:
        """Forget the suggestion locally (logging the record again does not delete it on the server)."""
        return self._by_question.pop(question_name, None)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"value": s.value, "score": s.score, "agent": s.agent}
            for name, s in self._by_question.items()
        }

    def _put(self, suggestion: Suggestion) -> None:
        if not isinstance(suggestion, Suggestion):
            raise TypeError(f"suggestions must be rg.Suggestion objects, got {type(suggestion).__name__}")
        suggestion._record = self._record
        self._by_question[str(suggestion.question_name)] = suggestion
