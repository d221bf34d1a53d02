"""`Settings`: the fields, questions, metadata properties and vectors of a dataset, its guidelines
and its task distribution."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

from quire.client.settings.base import Property
from quire.client.settings.fields import Field
from quire.client.settings.metadata import MetadataProperty, VectorField
from quire.client.settings.questions import Question

__all__ = ["MappingSpec", "Settings", "SettingsProperties", "TaskDistribution"]

P = TypeVar("P", bound=Property)
MappingSpec = Mapping[str, str | Sequence[str]]


class TaskDistribution:
    """How many submitted responses complete a record (`overlap` strategy)."""

    strategy = "overlap"

    def __init__(self, min_submitted: int = 1) -> None:
        if not isinstance(min_submitted, int) or min_submitted < 1:
            raise ValueError(f"min_submitted must be an int >= 1, got {min_submitted!r}")
        self.min_submitted = min_submitted

    def __repr__(self) -> str:
        return f"TaskDistribution(min_submitted={self.min_submitted})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskDistribution) and other.min_submitted == self.min_submitted

    def __hash__(self) -> int:
        return hash(self.min_submitted)

    @classmethod
    def default(cls) -> TaskDistribution:
        return cls()

    def to_wire(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "min_submitted": self.min_submitted}

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any] | None) -> TaskDistribution:
        return cls(int((wire or {}).get("min_submitted", 1)))


class SettingsProperties(Generic[P]):
    """An ordered collection of settings, readable by position, name or server id:
    `settings.questions["label"]` is the question or None."""

    def __init__(self, items: Iterable[P] | None = None) -> None:
        self._items: list[P] = []
        for item in items or []:
            self.add(item)

    @overload
    def __getitem__(self, key: int) -> P: ...

    @overload
    def __getitem__(self, key: str | uuid.UUID) -> P | None: ...

    def __getitem__(self, key: int | str | uuid.UUID) -> P | None:
        if isinstance(key, int):
            return self._items[key]
        for item in self._items:
            if item.name == key or (isinstance(key, uuid.UUID) and item.id == key):
                return item
        return None

    def __iter__(self) -> Iterator[P]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __contains__(self, name: object) -> bool:
        return any(item.name == name or item is name for item in self._items)

    def __repr__(self) -> str:
        return repr(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SettingsProperties) and other._items == self._items

    @property
    def names(self) -> list[str]:
        return [item.name for item in self._items]

    def add(self, item: P) -> P:
        if item.name in self.names:
            raise ValueError(f"a setting named {item.name!r} already exists")
        self._items.append(item)
        return item

    def remove(self, item: P | str) -> None:
        name = item if isinstance(item, str) else item.name
        self._items = [existing for existing in self._items if existing.name != name]


class Settings:
    """What a dataset holds and asks. `fields` and `questions` are required to publish.

        rg.Settings(
            fields=[rg.TextField(name="text")],
            questions=[rg.LabelQuestion(name="label", labels=["positive", "negative"])],
            metadata=[rg.TermsMetadataProperty(name="lang")],
            vectors=[rg.VectorField(name="emb", dimensions=384)],
            guidelines="…",
            distribution=rg.TaskDistribution(min_submitted=2),
        )

    `mapping` is the default `mapping` of `dataset.records.log`.
    """

    def __init__(
        self,
        fields: Iterable[Field] | None = None,
        questions: Iterable[Question] | None = None,
        vectors: Iterable[VectorField] | None = None,
        metadata: Iterable[MetadataProperty] | None = None,
        guidelines: str | None = None,
        allow_extra_metadata: bool = False,
        distribution: TaskDistribution | None = None,
        mapping: MappingSpec | None = None,
    ) -> None:
        self.fields: SettingsProperties[Field] = SettingsProperties(fields)
        self.questions: SettingsProperties[Question] = SettingsProperties(questions)
        self.vectors: SettingsProperties[VectorField] = SettingsProperties(vectors)
        self.metadata: SettingsProperties[MetadataProperty] = SettingsProperties(metadata)
        self.guidelines = guidelines
        self.allow_extra_metadata = allow_extra_metadata
        self.distribution = distribution or TaskDistribution()
        self.mapping: dict[str, str | Sequence[str]] = dict(mapping or {})

    def __repr__(self) -> str:
        return (
            f"Settings(fields={self.fields!r}, questions={self.questions!r}, vectors={self.vectors!r}, "
            f"metadata={self.metadata!r}, distribution={self.distribution!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.serialize() == other.serialize()

    __hash__ = None  # type: ignore[assignment]

    @property
    def schema(self) -> dict[str, Property]:
        """Every setting by name."""
        out: dict[str, Property] = {}
        for group in (self.fields, self.questions, self.vectors, self.metadata):
            for item in group:
                out[item.name] = item
        return out

    def add(self, item: Property) -> Property:
        """Add a field, question, metadata property or vector field to the right group."""
        if isinstance(item, Field):
            return self.fields.add(item)
        if isinstance(item, Question):
            return self.questions.add(item)
        if isinstance(item, VectorField):
            return self.vectors.add(item)
        if isinstance(item, MetadataProperty):
            return self.metadata.add(item)
        raise TypeError(f"cannot add a {type(item).__name__} to settings")

    def validate(self) -> None:
        """Raise `ValueError` unless there are fields and questions and every name is unique."""
        if not self.fields or not self.questions:
            raise ValueError("a dataset needs at least one field and one question")
        seen: dict[str, str] = {}
        for group in (self.fields, self.questions, self.vectors, self.metadata):
            for item in group:
                if item.name in seen:
                    raise ValueError(
                        f"setting names must be unique: {item.name!r} is both a {seen[item.name]} and a "
                        f"{type(item).__name__}"
                    )
                seen[item.name] = type(item).__name__
        for question in self.questions:
            field_name = getattr(question, "field", None)
            if field_name is not None and field_name not in self.fields:
                raise ValueError(
                    f"span question {question.name!r} refers to field {field_name!r}, which is not one of "
                    f"the fields {self.fields.names}"
                )

    def copy(self) -> Settings:
        """An independent copy without server ids (to create another dataset with these settings)."""
        from quire.client.settings.fields import field_from_wire
        from quire.client.settings.metadata import metadata_from_wire, vector_from_wire
        from quire.client.settings.questions import question_from_wire

        return Settings(
            fields=[field_from_wire(f.to_wire()) for f in self.fields],
            questions=[question_from_wire(q.to_wire()) for q in self.questions],
            vectors=[vector_from_wire(v.to_wire()) for v in self.vectors],
            metadata=[metadata_from_wire(m.to_wire()) for m in self.metadata],
            guidelines=self.guidelines,
            allow_extra_metadata=self.allow_extra_metadata,
            distribution=TaskDistribution(self.distribution.min_submitted),
            mapping=self.mapping,
        )

    def serialize(self) -> dict[str, Any]:
        """A plain dict of everything (wire forms), e.g. to compare or store settings."""
        return {
            "guidelines": self.guidelines,
            "allow_extra_metadata": self.allow_extra_metadata,
            "distribution": self.distribution.to_wire(),
            "fields": [f.to_wire() for f in self.fields],
            "questions": [q.to_wire() for q in self.questions],
            "vectors": [v.to_wire() for v in self.vectors],
            "metadata": [m.to_wire() for m in self.metadata],
            "mapping": {k: v if isinstance(v, str) else list(v) for k, v in self.mapping.items()},
        }
