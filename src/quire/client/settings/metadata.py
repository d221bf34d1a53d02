"""Metadata properties (filterable per-record values) and vector fields (for similarity search)."""

from __future__ import annotations

from typing import Any, ClassVar

from quire.client.settings.base import Property

__all__ = [
    "FloatMetadataProperty",
    "IntegerMetadataProperty",
    "MetadataProperty",
    "TermsMetadataProperty",
    "VectorField",
    "metadata_from_wire",
    "vector_from_wire",
]


class MetadataProperty(Property):
    kind: ClassVar[str] = "metadata"
    create_path: ClassVar[str] = "metadata-properties"
    update_path: ClassVar[str] = "metadata-properties"

    def __init__(self, name: str, title: str | None = None, visible_for_annotators: bool = True) -> None:
        super().__init__(name, title)
        self.visible_for_annotators = visible_for_annotators

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "visible_for_annotators": self.visible_for_annotators}


class TermsMetadataProperty(MetadataProperty):
    """String values; with `options`, only those are accepted."""

    def __init__(
        self,
        name: str,
        options: list[Any] | None = None,
        title: str | None = None,
        visible_for_annotators: bool = True,
    ) -> None:
        super().__init__(name, title, visible_for_annotators)
        self.options = list(options) if options is not None else None

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "terms", "values": self.options}


class IntegerMetadataProperty(MetadataProperty):
    """Integer values, optionally bounded by `min` / `max`."""

    def __init__(
        self,
        name: str,
        min: int | None = None,
        max: int | None = None,
        title: str | None = None,
        visible_for_annotators: bool = True,
    ) -> None:
        super().__init__(name, title, visible_for_annotators)
        if min is not None and max is not None and min >= max:
            raise ValueError(f"min ({min}) must be lower than max ({max})")
        self.min, self.max = min, max

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "integer", "min": self.min, "max": self.max}


class FloatMetadataProperty(MetadataProperty):
    """Numeric values, optionally bounded by `min` / `max`."""

    def __init__(
        self,
        name: str,
        min: float | None = None,
        max: float | None = None,
        title: str | None = None,
        visible_for_annotators: bool = True,
    ) -> None:
        super().__init__(name, title, visible_for_annotators)
        if min is not None and max is not None and min >= max:
            raise ValueError(f"min ({min}) must be lower than max ({max})")
        self.min, self.max = min, max

    def settings_wire(self) -> dict[str, Any]:
        return {"type": "float", "min": self.min, "max": self.max}


class VectorField(Property):
    """A vector of `dimensions` floats per record, for `rg.Similar` searches."""

    kind: ClassVar[str] = "vector"
    create_path: ClassVar[str] = "vectors-settings"
    update_path: ClassVar[str] = "vectors-settings"

    def __init__(self, name: str, dimensions: int, title: str | None = None) -> None:
        super().__init__(name, title)
        if not isinstance(dimensions, int) or dimensions <= 0:
            raise ValueError(f"dimensions must be a positive int, got {dimensions!r}")
        self.dimensions = dimensions

    @property
    def type(self) -> str:
        return "vector"

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "dimensions": self.dimensions}


def metadata_from_wire(wire: dict[str, Any]) -> MetadataProperty:
    settings = wire.get("settings") or {}
    kind = settings.get("type")
    common: dict[str, Any] = {
        "name": wire["name"],
        "title": wire.get("title"),
        "visible_for_annotators": bool(wire.get("visible_for_annotators", True)),
    }
    prop: MetadataProperty
    if kind == "terms":
        prop = TermsMetadataProperty(**common, options=settings.get("values"))
    elif kind == "integer":
        prop = IntegerMetadataProperty(**common, min=settings.get("min"), max=settings.get("max"))
    elif kind == "float":
        prop = FloatMetadataProperty(**common, min=settings.get("min"), max=settings.get("max"))
    else:
        raise ValueError(f"unknown metadata property type {kind!r} for {wire.get('name')!r}")
    prop._bind(wire)
    return prop


def vector_from_wire(wire: dict[str, Any]) -> VectorField:
    vector = VectorField(name=wire["name"], dimensions=int(wire["dimensions"]), title=wire.get("title"))
    vector._bind(wire)
    return vector
