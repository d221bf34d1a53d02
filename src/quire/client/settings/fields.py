"""Record fields: what annotators see (`TextField`, `ImageField`, `ChatField`, `CustomField`)."""

from __future__ import annotations

from typing import Any, ClassVar

from quire.client.settings.base import Property

__all__ = ["ChatField", "CustomField", "Field", "ImageField", "TextField", "field_from_wire"]


class Field(Property):
    kind: ClassVar[str] = "field"
    create_path: ClassVar[str] = "fields"
    update_path: ClassVar[str] = "fields"

    def __init__(
        self, name: str, title: str | None = None, required: bool = True, description: str | None = None
    ) -> None:
        super().__init__(name, title, description)
        self.required = required

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "required": self.required}


class TextField(Field):
    """A text shown to annotators, as plain text or Markdown."""

    def __init__(
        self,
        name: str,
        title: str | None = None,
        use_markdown: bool = False,
        required: bool = True,
        description: str | None = None,
    ) -> None:
        super().__init__(name, title, required, description)
        self.use_markdown = use_markdown

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "text", "use_markdown": self.use_markdown}


class ImageField(Field):
    """An image, given per record as an http(s) URL or a `data:image/…` URL."""

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "image"}


class ChatField(Field):
    """A conversation: a list of `{"role": ..., "content": ...}` messages."""

    def __init__(
        self,
        name: str,
        title: str | None = None,
        use_markdown: bool = True,
        required: bool = True,
        description: str | None = None,
    ) -> None:
        super().__init__(name, title, required, description)
        self.use_markdown = use_markdown

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "chat", "use_markdown": self.use_markdown}


class CustomField(Field):
    """A dict rendered with an HTML template (`{{record.fields.<name>.<key>}}`)."""

    def __init__(
        self,
        name: str,
        title: str | None = None,
        template: str = "",
        advanced_mode: bool = False,
        required: bool = True,
        description: str | None = None,
    ) -> None:
        super().__init__(name, title, required, description)
        self.template = template
        self.advanced_mode = advanced_mode

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "custom", "template": self.template, "advanced_mode": self.advanced_mode}


def field_from_wire(wire: dict[str, Any]) -> Field:
    settings = wire.get("settings") or {}
    kind = settings.get("type")
    common: dict[str, Any] = {
        "name": wire["name"],
        "title": wire.get("title"),
        "required": bool(wire.get("required", True)),
        "description": wire.get("description"),
    }
    field: Field
    if kind == "text":
        field = TextField(**common, use_markdown=bool(settings.get("use_markdown", False)))
    elif kind == "image":
        field = ImageField(**common)
    elif kind == "chat":
        field = ChatField(**common, use_markdown=bool(settings.get("use_markdown", True)))
    elif kind == "custom":
        field = CustomField(
            **common,
            template=str(settings.get("template", "")),
            advanced_mode=bool(settings.get("advanced_mode", False)),
        )
    else:
        raise ValueError(f"unknown field type {kind!r} for field {wire.get('name')!r}")
    field._bind(wire)
    return field
