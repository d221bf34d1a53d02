"""What a response or suggestion value must look like for each question type.

| question type           | value                                   |
|-------------------------|-----------------------------------------|
| `label_selection`       | one of the option values (str)          |
| `multi_label_selection` | non-empty list of unique option values  |
| `rating`                | one of the option values (int)          |
| `ranking`               | list of `{"value": option, "rank": int}`|
| `span`                  | list of `{"label", "start", "end"}`     |
| `text`                  | str                                     |

Two deliberate differences from Argilla (documented in docs/differences.md):
- A submitted ranking response whose items carry no `rank` is accepted: ranks follow list order
  (the argilla SDK sends `[{"value": v}]` with no ranks, which Argilla then rejects).
- A suggestion with a list value may carry a single score (its overall confidence), as in the seed's
  examples; a list score must match the value's length.

A checker is compiled once per question and reused for every value of a request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

LIST_VALUED = frozenset({"multi_label_selection", "ranking", "span"})


class InvalidValue(ValueError):
    """A value does not fit its question; the message says what is allowed."""


@dataclass(frozen=True)
class ValueChecker:
    question_name: str
    question_type: str
    check: Callable[[Any, bool, Mapping[str, Any]], Any]

    def response_value(self, value: Any, *, submitted: bool, fields: Mapping[str, Any]) -> Any:
        """Validate a response value; returns it normalized (e.g. ranks filled in)."""
        return self.check(value, submitted, fields)

    def suggestion_value(self, value: Any, *, fields: Mapping[str, Any]) -> Any:
        return self.check(value, False, fields)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _options(settings: Mapping[str, Any]) -> list[Any]:
    return [option["value"] for option in settings.get("options", [])]


def _label(settings: Mapping[str, Any]) -> Callable[[Any, bool, Mapping[str, Any]], Any]:
    allowed = _options(settings)
    allowed_set = set(allowed)

    def check(value: Any, _submitted: bool, _fields: Mapping[str, Any]) -> Any:
        if not isinstance(value, str) or value not in allowed_set:
            raise InvalidValue(
                f"{value!r} is not a valid label for label selection question.\nValid labels are: {allowed!r}"
            )
        return value

    return check


def _multi_label(settings: Mapping[str, Any]) -> Callable[[Any, bool, Mapping[str, Any]], Any]:
    allowed = _options(settings)
    allowed_set = set(allowed)

    def check(value: Any, _submitted: bool, _fields: Mapping[str, Any]) -> Any:
        if not isinstance(value, list):
            raise InvalidValue(
                f"multi label selection questions expects a list of values, found {_type_name(value)}"
            )
        if not value:
            raise InvalidValue("multi label selection questions expects a list of values, found empty list")
        invalid = [v for v in value if not isinstance(v, str) or v not in allowed_set]
        if invalid:
            raise InvalidValue(
                f"{invalid!r} are not valid labels for multi label selection question.\nValid labels are: {allowed!r}"
            )
        if len(set(value)) != len(value):
            raise InvalidValue(
                "multi label selection questions expect a list of unique values, but duplicates were found"
            )
        return value

    return check


def _rating(settings: Mapping[str, Any]) -> Callable[[Any, bool, Mapping[str, Any]], Any]:
    allowed = _options(settings)
    allowed_set = set(allowed)

    def check(value: Any, _submitted: bool, _fields: Mapping[str, Any]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed_set:
            raise InvalidValue(
                f"{value!r} is not a valid rating for rating question.\nValid ratings are: {allowed!r}"
            )
        return value

    return check


def _text(_settings: Mapping[str, Any]) -> Callable[[Any, bool, Mapping[str, Any]], Any]:
    def check(value: Any, _submitted: bool, _fields: Mapping[str, Any]) -> Any:
        if not isinstance(value, str):
            raise InvalidValue(f"text question expects a text value, found {_type_name(value)}")
        return value

    return check


def _ranking(settings: Mapping[str, Any]) -> Callable[[Any, bool, Mapping[str, Any]], Any]:
    allowed = _options(settings)
    allowed_set = set(allowed)

    def check(value: Any, submitted: bool, _fields: Mapping[str, Any]) -> Any:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise InvalidValue(
                f'ranking question expects a list of {{"value": ..., "rank": ...}} items, found {_type_name(value)}'
            )
        values = [item.get("value") for item in value]
        invalid = [v for v in values if v not in allowed_set]
        if invalid:
            raise InvalidValue(
                f"{invalid!r} are not valid values for ranking question.\nValid values are: {allowed!r}"
            )
        if len(set(values)) != len(values):
            raise InvalidValue("ranking question expects a list of unique values, but duplicates were found")
        ranks = [item.get("rank") for item in value]
        given = [r for r in ranks if r is not None]
        if given and len(given) != len(ranks):
            raise InvalidValue(
                "ranking question expects a rank on every item or on none (then ranks follow list order)"
            )
        valid_ranks = list(range(1, len(allowed) + 1))
        bad = [r for r in given if isinstance(r, bool) or not isinstance(r, int) or r not in valid_ranks]
        if bad:
            raise InvalidValue(
                f"{bad!r} are not valid ranks for ranking question.\nValid ranks are: {valid_ranks!r}"
            )
        if submitted and len(value) != len(allowed):
            raise InvalidValue(
                f"ranking question expects a list containing {len(allowed)} values, found a list of {len(value)} values"
            )
        if not given:
            return [
                {"value": item["value"], "rank": position} for position, item in enumerate(value, start=1)
            ]
        return [{"value": item["value"], "rank": item["rank"]} for item in value]

    return check


def _span(settings: Mapping[str, Any]) -> Callable[[Any, bool, Mapping[str, Any]], Any]:
    allowed = _options(settings)
    allowed_set = set(allowed)
    field = settings["field"]
    overlapping = bool(settings.get("allow_overlapping"))

    def check(value: Any, _submitted: bool, fields: Mapping[str, Any]) -> Any:
        if not isinstance(value, list):
            raise InvalidValue(f"span question expects a list of values, found {_type_name(value)}")
        text = fields.get(field)
        if not isinstance(text, str):
            raise InvalidValue(f"span question requires record to have field `{field}`")
        spans: list[dict[str, Any]] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise InvalidValue(
                    f'span at index {index} must be {{"label", "start", "end"}}, found {_type_name(item)}'
                )
            label, start, end = item.get("label"), item.get("start"), item.get("end")
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
                raise InvalidValue(f"span at index {index} needs integer `start` and `end`")
            assert isinstance(start, int) and isinstance(end, int)
            if start < 0:
                raise InvalidValue(f"span at index {index}: `start` must be 0 or more (start={start})")
            if end <= start:
                raise InvalidValue(
                    f"span at index {index}: `end` must be greater than `start` (start={start}, end={end})"
                )
            if start >= len(text):
                raise InvalidValue(
                    f"span question response value `start` must have a value lower than record field `{field}` length that is `{len(text)}`"
                )
            if end > len(text):
                raise InvalidValue(
                    f"span question response value `end` must have a value lower or equal than record field `{field}` length that is `{len(text)}`"
                )
            if label not in allowed_set:
                raise InvalidValue(
                    f"undefined label {label!r} for span question.\nValid labels are: {allowed!r}"
                )
            spans.append({"label": label, "start": start, "end": end})
        if not overlapping:
            ordered = sorted(range(len(spans)), key=lambda i: spans[i]["start"])
            for previous, current in pairwise(ordered):
                if spans[current]["start"] < spans[previous]["end"]:
                    i, j = sorted((previous, current))
                    raise InvalidValue(f"overlapping values found between spans at index idx={i} and idx={j}")
        return spans

    return check


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Callable[[Any, bool, Mapping[str, Any]], Any]]] = {
    "label_selection": _label,
    "multi_label_selection": _multi_label,
    "rating": _rating,
    "text": _text,
    "ranking": _ranking,
    "span": _span,
}


def value_checker(name: str, settings: Mapping[str, Any]) -> ValueChecker:
    kind = str(settings["type"])
    return ValueChecker(question_name=name, question_type=kind, check=_BUILDERS[kind](settings))


def check_score(question_type: str, value: Any, score: float | list[float] | None) -> None:
    """Scores are in [0, 1] (checked by the schema); a list of scores needs a list value of the
    same length."""
    if isinstance(score, list):
        if question_type not in LIST_VALUED or not isinstance(value, list):
            raise InvalidValue("a list of score values is not allowed for a suggestion with a single value")
        if len(score) != len(value):
            raise InvalidValue(
                f"number of items on value and score attributes doesn't match ({len(value)} values, {len(score)} scores)"
            )
