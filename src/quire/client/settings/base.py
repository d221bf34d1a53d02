"""What fields, questions, metadata properties and vector fields share: a name, a title, a server id
once the dataset exists, and a wire form (the body of `POST /datasets/{id}/<kind>`)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from quire.client.resource import parse_uuid


class Property:
    """Base of every dataset setting. `kind` names the REST collection it is created in."""

    kind: ClassVar[str] = ""
    create_path: ClassVar[str] = ""
    update_path: ClassVar[str] = ""

    def __init__(self, name: str, title: str | None = None, description: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {type(self).__name__} needs a non-empty name, got {name!r}")
        self.name = name
        self.title = title or name
        self.description = description
        self.id: uuid.UUID | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Property) and type(other) is type(self) and other.to_wire() == self.to_wire()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    @property
    def type(self) -> str:
        return str(self.settings_wire()["type"])

    def settings_wire(self) -> dict[str, Any]:
        """The `settings` object of the wire form."""
        raise NotImplementedError

    def to_wire(self) -> dict[str, Any]:
        """The create body."""
        body: dict[str, Any] = {"name": self.name, "title": self.title, "settings": self.settings_wire()}
        if self.description is not None:
            body["description"] = self.description
        return body

    def update_wire(self) -> dict[str, Any]:
        """The PATCH body (the name cannot change)."""
        body = self.to_wire()
        body.pop("name")
        return body

    def _bind(self, wire: dict[str, Any]) -> None:
        self.id = parse_uuid(wire.get("id"))


def options_from_labels(labels: list[str] | dict[str, str], what: str) -> list[dict[str, str]]:
    """`["a", "b"]` or `{"a": "Text A"}` as Argilla's `[{"value", "text"}]` options."""
    if isinstance(labels, dict):
        pairs = list(labels.items())
    elif isinstance(labels, list | tuple):
        pairs = [(str(label), str(label)) for label in labels]
    else:
        raise ValueError(f"{what} must be a list of strings or a dict of value -> text, got {labels!r}")
    if not pairs:
        raise ValueError(f"{what} must not be empty")
    values = [value for value, _ in pairs]
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must be unique, got {values}")
    return [{"value": str(value), "text": str(text)} for value, text in pairs]


def labels_from_options(options: list[dict[str, Any]]) -> list[str] | dict[str, str]:
    """The inverse of `options_from_labels`: a list when every text equals its value."""
    if all(o.get("text", o["value"]) == o["value"] for o in options):
        return [str(o["value"]) for o in options]
    return {str(o["value"]): str(o.get("text", o["value"])) for o in options}
