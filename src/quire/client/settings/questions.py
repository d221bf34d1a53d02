"""Questions annotators answer, and the value each takes in suggestions and responses:

| class                | server type             | value                                   |
|----------------------|-------------------------|-----------------------------------------|
| `LabelQuestion`      | `label_selection`       | one label (str)                         |
| `MultiLabelQuestion` | `multi_label_selection` | a list of labels                        |
| `RatingQuestion`     | `rating`                | an int from `values`                    |
| `RankingQuestion`    | `ranking`               | the values in ranked order (list[str])  |
| `TextQuestion`       | `text`                  | str                                     |
| `SpanQuestion`       | `span`                  | `[{"label", "start", "end"}]`           |

Ranking values travel as `[{"value": v}, …]` (plus `rank` in stored responses); the SDK converts
both ways, so users only see the list of values.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from quire.client.settings.base import Property, labels_from_options, options_from_labels

__all__ = [
    "LabelQuestion",
    "MultiLabelQuestion",
    "Question",
    "RankingQuestion",
    "RatingQuestion",
    "SpanQuestion",
    "TextQuestion",
    "question_from_wire",
]


class Question(Property):
    kind: ClassVar[str] = "question"
    create_path: ClassVar[str] = "questions"
    update_path: ClassVar[str] = "questions"

    def __init__(
        self, name: str, title: str | None = None, description: str | None = None, required: bool = True
    ) -> None:
        super().__init__(name, title, description)
        self.required = required

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "required": self.required}

    def value_to_wire(self, value: Any) -> Any:
        """A suggestion's or response's value as the server stores it."""
        return value

    def value_from_wire(self, value: Any) -> Any:
        """The inverse of `value_to_wire`."""
        return value


class LabelQuestion(Question):
    """Pick one label. `labels` is a list, or a dict of value -> text shown."""

    def __init__(
        self,
        name: str,
        labels: list[str] | dict[str, str],
        title: str | None = None,
        description: str | None = None,
        required: bool = True,
        visible_labels: int | None = None,
    ) -> None:
        super().__init__(name, title, description, required)
        self._options = options_from_labels(labels, "labels")
        self.visible_labels = visible_labels

    @property
    def labels(self) -> list[str]:
        return [o["value"] for o in self._options]

    @labels.setter
    def labels(self, labels: list[str] | dict[str, str]) -> None:
        self._options = options_from_labels(labels, "labels")

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "label_selection", "options": self._options, "visible_options": self.visible_labels}


class MultiLabelQuestion(LabelQuestion):
    """Pick any number of labels. `labels_order="suggestion"` shows suggested labels first."""

    def __init__(
        self,
        name: str,
        labels: list[str] | dict[str, str],
        visible_labels: int | None = None,
        labels_order: Literal["natural", "suggestion"] = "natural",
        title: str | None = None,
        description: str | None = None,
        required: bool = True,
    ) -> None:
        super().__init__(name, labels, title, description, required, visible_labels)
        self.labels_order = labels_order

    def settings_wire(self) -> dict[str, Any]:
        return {
            "type": "multi_label_selection",
            "options": self._options,
            "visible_options": self.visible_labels,
            "options_order": self.labels_order,
        }


class TextQuestion(Question):
    """Free text."""

    def __init__(
        self,
        name: str,
        title: str | None = None,
        description: str | None = None,
        required: bool = True,
        use_markdown: bool = False,
    ) -> None:
        super().__init__(name, title, description, required)
        self.use_markdown = use_markdown

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "text", "use_markdown": self.use_markdown}


class RatingQuestion(Question):
    """Pick one integer of `values` (each 0..10)."""

    def __init__(
        self,
        name: str,
        values: list[int],
        title: str | None = None,
        description: str | None = None,
        required: bool = True,
    ) -> None:
        super().__init__(name, title, description, required)
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError(f"values of a RatingQuestion must be a non-empty list of ints, got {values!r}")
        self.values = list(values)

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "rating", "options": [{"value": v} for v in self.values]}


class RankingQuestion(Question):
    """Order all of `values` (a list, or a dict of value -> text shown)."""

    def __init__(
        self,
        name: str,
        values: list[str] | dict[str, str],
        title: str | None = None,
        description: str | None = None,
        required: bool = True,
    ) -> None:
        super().__init__(name, title, description, required)
        self._options = options_from_labels(values, "values")

    @property
    def values(self) -> list[str]:
        return [o["value"] for o in self._options]

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "ranking", "options": self._options}

    def value_to_wire(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [item if isinstance(item, dict) else {"value": str(item)} for item in value]
        return value

    def value_from_wire(self, value: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return value
        items = list(value)
        if items and all(isinstance(item.get("rank"), int) for item in items):
            items.sort(key=lambda item: item["rank"])
        return [item.get("value") for item in items]


class SpanQuestion(Question):
    """Mark character spans of text field `field` with labels."""

    def __init__(
        self,
        name: str,
        field: str,
        labels: list[str] | dict[str, str],
        allow_overlapping: bool = False,
        visible_labels: int | None = None,
        title: str | None = None,
        description: str | None = None,
        required: bool = True,
    ) -> None:
        super().__init__(name, title, description, required)
        self.field = field
        self._options = options_from_labels(labels, "labels")
        self.allow_overlapping = allow_overlapping
        self.visible_labels = visible_labels

    @property
    def labels(self) -> list[str]:
        return [o["value"] for o in self._options]

    def settings_wire(self) -> dict[str, Any]:
        return {
            "type": "span",
            "field": self.field,
            "options": self._options,
            "visible_options": self.visible_labels,
            "allow_overlapping": self.allow_overlapping,
        }


def question_from_wire(wire: dict[str, Any]) -> Question:
    settings = wire.get("settings") or {}
    kind = settings.get("type")
    common: dict[str, Any] = {
        "name": wire["name"],
        "title": wire.get("title"),
        "description": wire.get("description"),
        "required": bool(wire.get("required", True)),
    }
    options = settings.get("options") or []
    question: Question
    if kind == "label_selection":
        question = LabelQuestion(
            **common, labels=labels_from_options(options), visible_labels=settings.get("visible_options")
        )
    elif kind == "multi_label_selection":
        question = MultiLabelQuestion(
            **common,
            labels=labels_from_options(options),
            visible_labels=settings.get("visible_options"),
            labels_order=settings.get("options_order") or "natural",
        )
    elif kind == "text":
        question = TextQuestion(**common, use_markdown=bool(settings.get("use_markdown", False)))
    elif kind == "rating":
        question = RatingQuestion(**common, values=[int(o["value"]) for o in options])
    elif kind == "ranking":
        question = RankingQuestion(**common, values=labels_from_options(options))
    elif kind == "span":
        question = SpanQuestion(
            **common,
            field=str(settings.get("field")),
            labels=labels_from_options(options),
            allow_overlapping=bool(settings.get("allow_overlapping", False)),
            visible_labels=settings.get("visible_options"),
        )
    else:
        raise ValueError(f"unknown question type {kind!r} for question {wire.get('name')!r}")
    question._bind(wire)
    return question
