"""Validation of record contents against a dataset's settings.

`RecordRules` is built once per request from the dataset (with its settings loaded) and checks every
item of a batch. Problems raise `InvalidValue` with a message that says what is wrong and what is
allowed; callers prefix the record's position.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

import numpy as np

from quire.server.datasets.question_values import InvalidValue, ValueChecker, check_score, value_checker
from quire.server.json_depth import depth_beyond, too_deep_message
from quire.server.models import Dataset, Question, ResponseStatus, VectorSettings
from quire.server.records.schemas import MAX_CHAT_MESSAGES, ResponseIn, SuggestionIn

IMAGE_URL_MAX = 2038
IMAGE_DATA_URL_MAX = 5_000_000


class RecordRules:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.field_types: dict[str, str] = {f.name: str(f.settings["type"]) for f in dataset.fields}
        self.required_fields = [f.name for f in dataset.fields if f.required]
        self.questions_by_id: dict[uuid.UUID, Question] = {q.id: q for q in dataset.questions}
        self.questions_by_name: dict[str, Question] = {q.name: q for q in dataset.questions}
        self.required_questions = [q.name for q in dataset.questions if q.required]
        self.checkers: dict[str, ValueChecker] = {
            q.name: value_checker(q.name, q.settings) for q in dataset.questions
        }
        # What a suggestion needs of its question, by the question id as an int (a UUID key would
        # hash in Python) and by name.
        rules = [(q, q.name, self.checkers[q.name]) for q in dataset.questions]
        self._suggestion_rules_by_id = {rule[0].id.int: rule for rule in rules}
        self._suggestion_rules_by_name = {rule[1]: rule for rule in rules}
        self.metadata_settings: dict[str, dict[str, Any]] = {
            p.name: p.settings for p in dataset.metadata_properties
        }
        self._metadata_checks = {
            name: _metadata_check(settings) for name, settings in self.metadata_settings.items()
        }
        self.vectors_by_name: dict[str, VectorSettings] = {v.name: v for v in dataset.vectors_settings}

    # ---------------------------------------------------------------- fields

    def fields(self, fields: Mapping[str, Any] | None) -> dict[str, Any]:
        if not fields:
            raise InvalidValue("fields cannot be empty")
        types = self.field_types
        if not fields.keys() <= types.keys():
            unknown = [name for name in fields if name not in types]
            raise InvalidValue(
                f"found fields values for non configured fields: {unknown!r}; the dataset's fields are {list(self.field_types)!r}"
            )
        for name in self.required_fields:
            if fields.get(name) is None:
                raise InvalidValue(f"missing required value for field: {name!r}")
        clean: dict[str, Any] = {}
        for name, value in fields.items():
            kind = types[name]
            if kind == "text" and value.__class__ is str:  # the usual case, without a call
                clean[name] = value
            else:
                clean[name] = self._field_value(name, kind, value)
        return clean

    def _field_value(self, name: str, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "text":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise InvalidValue(
                    f"text field {name!r} value must be a string, found {type(value).__name__}"
                )
            return value if isinstance(value, str) else str(value)
        if kind == "image":
            return _image_url(name, value)
        if kind == "chat":
            return _chat(name, value)
        if not isinstance(value, dict):
            raise InvalidValue(
                f"custom field {name!r} value must be a dictionary, found {type(value).__name__}"
            )
        if (depth := depth_beyond(value)) is not None:
            raise InvalidValue(too_deep_message(f"custom field {name!r} value", depth))
        return value

    # ---------------------------------------------------------------- metadata

    def metadata(self, metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if metadata is None:
            return None
        checks = self._metadata_checks
        for name, value in metadata.items():
            if isinstance(value, dict | list) and (depth := depth_beyond(value)) is not None:
                raise InvalidValue(f"metadata is not valid: {too_deep_message(repr(name), depth)}")
            check = checks.get(name)
            if check is None:
                if not self.dataset.allow_extra_metadata:
                    raise InvalidValue(
                        f"metadata is not valid: '{name}' metadata property does not exists for dataset "
                        f"'{self.dataset.id}' and extra metadata is not allowed for this dataset "
                        f"(its metadata properties are {list(self.metadata_settings)!r})"
                    )
                _no_non_finite(name, value)
            elif value is not None:
                try:
                    check(value)
                except InvalidValue as exc:
                    raise InvalidValue(
                        f"metadata is not valid: '{name}' metadata property validation failed because {exc}"
                    ) from None
        return dict(metadata)

    # ---------------------------------------------------------------- suggestions

    def question_of(self, suggestion: SuggestionIn) -> Question:
        if suggestion.question_id is not None:
            question = self.questions_by_id.get(suggestion.question_id)
            if question is None:
                raise InvalidValue(
                    f"question id={suggestion.question_id} does not exists; the dataset's questions are "
                    f"{ {q.name: str(q.id) for q in self.questions_by_id.values()} }"
                )
            return question
        question = self.questions_by_name.get(suggestion.question_name or "")
        if question is None:
            raise InvalidValue(
                f"question {suggestion.question_name!r} does not exist; the dataset's questions are "
                f"{list(self.questions_by_name)!r}"
            )
        return question

    def suggestions(
        self, suggestions: list[SuggestionIn], fields: Mapping[str, Any]
    ) -> list[tuple[Question, SuggestionIn, Any]]:
        """[(question, suggestion, normalized value)], one per question."""
        out: list[tuple[Question, SuggestionIn, Any]] = []
        seen: set[str] = set()
        by_id, by_name = self._suggestion_rules_by_id, self._suggestion_rules_by_name
        for suggestion in suggestions:
            question_id = suggestion.question_id
            if question_id is not None:
                rule = by_id.get(question_id.int)
            elif suggestion.question_name:
                rule = by_name.get(suggestion.question_name)
            else:
                raise InvalidValue(
                    "record does not have valid suggestions: a suggestion needs `question_id` (or `question_name`)"
                )
            if rule is None:
                try:
                    self.question_of(suggestion)  # raises, saying which questions there are
                except InvalidValue as exc:
                    raise InvalidValue(f"record does not have valid suggestions: {exc}") from None
                raise AssertionError("question_of found a question the rules do not have")
            question, name, checker = rule
            try:
                if suggestion.value is None:
                    raise InvalidValue("a suggestion needs a `value`")
                if name in seen:
                    raise InvalidValue("found duplicate suggestions for the same question")
                seen.add(name)
                value = checker.suggestion_value(suggestion.value, fields=fields)
                check_score(checker.question_type, value, suggestion.score)
            except InvalidValue as exc:
                raise InvalidValue(
                    f"record does not have valid suggestions: question {name!r}: {exc}"
                ) from None
            out.append((question, suggestion, value))
        return out

    # ---------------------------------------------------------------- responses

    def response_values(
        self, values: Mapping[str, Any] | None, status: ResponseStatus, fields: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Validate `{question: {"value": V}}` for a response with `status`; returns it normalized."""
        submitted = status == ResponseStatus.submitted
        if not values:
            if submitted:
                raise InvalidValue("missing response values for submitted response")
            return None if values is None else {}
        clean: dict[str, Any] = {}
        for name, entry in values.items():
            checker = self.checkers.get(name)
            if checker is None:
                raise InvalidValue(
                    f"found response value for non configured question with name={name!r}; "
                    f"the dataset's questions are {list(self.checkers)!r}"
                )
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise InvalidValue(f'response value for question {name!r} must be {{"value": ...}}')
            try:
                clean[name] = {
                    "value": checker.response_value(entry["value"], submitted=submitted, fields=fields)
                }
            except InvalidValue as exc:
                raise InvalidValue(f"question {name!r}: {exc}") from None
        if submitted:
            for name in self.required_questions:
                if name not in clean:
                    raise InvalidValue(f"missing response value for required question with name={name!r}")
        return clean

    def responses(
        self, responses: list[ResponseIn], fields: Mapping[str, Any]
    ) -> list[tuple[ResponseIn, Any]]:
        out: list[tuple[ResponseIn, Any]] = []
        users: set[uuid.UUID] = set()
        for response in responses:
            if response.user_id in users:
                raise InvalidValue(
                    f"record does not have valid responses: more than one response by user {response.user_id}"
                )
            users.add(response.user_id)
            try:
                values = self.response_values(response.values, response.status, fields)
            except InvalidValue as exc:
                raise InvalidValue(f"record does not have valid responses: {exc}") from None
            out.append((response, values))
        return out

    # ---------------------------------------------------------------- vectors

    def vectors(self, vectors: Mapping[str, list[float]] | None) -> list[tuple[VectorSettings, bytes]]:
        out: list[tuple[VectorSettings, bytes]] = []
        for name, value in (vectors or {}).items():
            settings = self.vectors_by_name.get(name)
            if settings is None:
                raise InvalidValue(
                    f"record does not have valid vectors: vector with name={name} does not exist for dataset_id="
                    f"{self.dataset.id} (its vectors are {list(self.vectors_by_name)!r})"
                )
            if len(value) != settings.dimensions:
                raise InvalidValue(
                    f"record does not have valid vectors: vector {name!r} must have {settings.dimensions} elements, "
                    f"got {len(value)} elements"
                )
            out.append((settings, np.asarray(value, dtype="<f8").tobytes()))
        return out


def _image_url(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"image field {name!r} value must be a URL string")
    try:
        parsed = urlparse(value)
    except ValueError:
        raise InvalidValue(f"image field {name!r} has an invalid URL value") from None
    if parsed.scheme in ("http", "https"):
        if not parsed.netloc or len(value) > IMAGE_URL_MAX:
            raise InvalidValue(
                f"image field {name!r} has an invalid URL value (http(s) URLs up to {IMAGE_URL_MAX} characters)"
            )
        return value
    if parsed.scheme == "data":
        mime = parsed.path.split(";", 1)[0].split(",", 1)[0]
        if not mime.startswith("image/") or len(value) > IMAGE_DATA_URL_MAX:
            raise InvalidValue(
                f"image field {name!r} data URL must carry an image MIME type and be under {IMAGE_DATA_URL_MAX} characters"
            )
        return value
    raise InvalidValue(f"image field {name!r} has an invalid URL value: use an http(s) or data: URL")


def _chat(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_CHAT_MESSAGES:
        raise InvalidValue(f"chat field {name!r} value must be a list of up to {MAX_CHAT_MESSAGES} messages")
    messages = []
    for index, message in enumerate(value):
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            raise InvalidValue(f'chat field {name!r} message {index} must be {{"role": str, "content": str}}')
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def _no_non_finite(name: str, value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidValue(f"metadata is not valid: '{name}' is {item}, which is not a finite number")


def _metadata_check(settings: Mapping[str, Any]) -> Callable[[Any], None]:
    """The check of one metadata property's values, compiled once per request."""
    kind = settings["type"]
    if kind == "terms":
        allowed = settings.get("values")
        allowed_strings = {v for v in allowed if isinstance(v, str)} if allowed is not None else set()

        def check_terms(value: Any) -> None:
            if allowed is None:
                return
            for item in value if isinstance(value, list) else [value]:
                if item.__class__ is str and item in allowed_strings:
                    continue
                if item not in allowed:
                    raise InvalidValue(f"'{item}' is not an allowed term (allowed: {allowed!r}).")

        return check_terms
    low, high = settings.get("min"), settings.get("max")
    integer = kind == "integer"

    def check_number(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"'{value}' is not {'an integer' if integer else 'a number'}.")
        if integer and not isinstance(value, int):
            raise InvalidValue(f"'{value}' is not an integer.")
        if not math.isfinite(value):
            raise InvalidValue(f"'{value}' is not a finite number.")
        if low is not None and value < low:
            raise InvalidValue(f"'{value}' is less than the minimum value of '{low}'.")
        if high is not None and value > high:
            raise InvalidValue(f"'{value}' is greater than the maximum value of '{high}'.")

    return check_number
