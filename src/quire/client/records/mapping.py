"""Dict rows to bulk-upsert items, following the argilla SDK's `mapping` rules.

By default a key named after a field, metadata property or vector fills it, a key named after a
question becomes that question's **suggestion**, and `id` is the record's id. `mapping` routes other
keys (or re-routes these), one target or a tuple/list of targets per key:

    "text_col": "text"                  a field (or metadata property, vector: the kind is inferred)
    "model_label": "label"              a question without a kind: its suggestion's value
    "score": "label.suggestion.score"   a suggestion's value | score | agent | type
    "model": "label.suggestion.agent"
    "human": "label.response"           a response (of `user_id`, status draft)
    "lang": "language.metadata"         a metadata property (any name if the dataset allows extra metadata)
    "emb": "embedding.vector"           a vector
    "uid": "id"                         the record's id
    "col": ("text", "label")            one key to several targets

Mapping a key to a target replaces the default key of that target (`{"y": "label"}`: `y`, not
`label`, fills the label suggestion). `None` values are skipped. Keys that reach nothing are ignored
with one warning per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from quire.client.errors import RecordError
from quire.client.records.codec import RecordCodec
from quire.client.settings import Settings, SettingsProperties

__all__ = ["RowMapper", "Target", "parse_target"]

Kind = Literal["field", "suggestion", "response", "metadata", "vector", "id"]
_KINDS: tuple[str, ...] = ("field", "suggestion", "response", "metadata", "vector", "id")
_PARAMETERS = ("value", "score", "agent", "type")


@dataclass(frozen=True)
class Target:
    kind: Kind
    name: str
    parameter: str = "value"


def parse_target(spec: str, settings: Settings) -> Target:
    """`"label.suggestion.score"` → Target("suggestion", "label", "score"). Names may contain dots:
    the longest known name wins."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"a mapping target must be a non-empty string, got {spec!r}")
    schema = settings.schema
    parts = spec.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        rest = parts[cut:]
        if name == "id" and not rest:
            return Target("id", "id")
        if name in schema:
            return _typed_target(spec, name, rest, settings)
    # a metadata property the settings do not declare (extra metadata)
    if len(parts) >= 2 and parts[-1] == "metadata":
        return Target("metadata", ".".join(parts[:-1]))
    raise ValueError(
        f"invalid mapping target {spec!r}: use <name>[.<kind>[.<parameter>]] with a name of the dataset "
        f"({sorted(schema)} or 'id'), a kind of {list(_KINDS)} and a parameter of {list(_PARAMETERS)}"
    )


def _typed_target(spec: str, name: str, rest: list[str], settings: Settings) -> Target:
    kind = rest[0] if rest else None
    parameter = rest[1] if len(rest) > 1 else "value"
    if len(rest) > 2 or (kind is not None and kind not in _KINDS) or parameter not in _PARAMETERS:
        raise ValueError(
            f"invalid mapping target {spec!r}: after the name {name!r} comes an optional kind of "
            f"{list(_KINDS)} and, for suggestions, a parameter of {list(_PARAMETERS)}"
        )
    is_question = name in settings.questions
    if kind is None:
        if is_question:
            return Target("suggestion", name)
        for group, inferred in (
            (settings.fields, "field"),
            (settings.metadata, "metadata"),
            (settings.vectors, "vector"),
        ):
            if name in group:
                return Target(inferred, name)  # type: ignore[arg-type]
    groups: dict[str, SettingsProperties[Any]] = {
        "field": settings.fields,
        "metadata": settings.metadata,
        "vector": settings.vectors,
        "suggestion": settings.questions,
        "response": settings.questions,
    }
    declared = groups.get(str(kind))
    if kind == "metadata" or (declared is not None and name in declared):
        if kind != "suggestion" and parameter != "value":
            raise ValueError(f"invalid mapping target {spec!r}: only suggestions take a parameter")
        return Target(kind, name, parameter)  # type: ignore[arg-type]
    raise ValueError(f"invalid mapping target {spec!r}: {name!r} is not a {kind} of the dataset")


class RowMapper:
    """Turns dict rows into bulk items for one `records.log` call."""

    def __init__(
        self,
        codec: RecordCodec,
        mapping: Mapping[str, str | Sequence[str]] | None,
        user_id: Callable[[], uuid.UUID],
    ) -> None:
        self.codec = codec
        settings = codec.settings
        self._user_id = user_id
        self._resolved_user: str | None = None
        sources: dict[Target, str] = {Target("id", "id"): "id"}
        for group, kind in (
            (settings.fields, "field"),
            (settings.metadata, "metadata"),
            (settings.vectors, "vector"),
            (settings.questions, "suggestion"),
        ):
            for prop in group:
                sources[Target(kind, prop.name)] = prop.name  # type: ignore[arg-type]
        for source, specs in (mapping or {}).items():
            for spec in [specs] if isinstance(specs, str) else list(specs):
                sources[parse_target(spec, settings)] = source
        # per source key, the (kind, name, parameter) tuples it fills: tuples and identity
        # comparisons of interned strings keep the per-row loop cheap
        self.routes: dict[str, tuple[tuple[str, str, str], ...]] = {}
        grouped: dict[str, list[tuple[str, str, str]]] = {}
        for target, source in sources.items():
            grouped.setdefault(source, []).append((target.kind, target.name, target.parameter))
        self.routes = {source: tuple(targets) for source, targets in grouped.items()}
        # a suggestion's wire dict, to copy and fill
        self._templates = {
            q.name: {"question_id": str(q.id) if q.id else None, "question_name": q.name, "value": None}
            for q in settings.questions
        }
        self._plain_fields = not (codec.image_fields or codec.chat_fields)
        self.unknown_keys: set[str] = set()

    def _user(self) -> str:
        if self._resolved_user is None:
            self._resolved_user = str(self._user_id())
        return self._resolved_user

    def item(self, row: Mapping[str, Any], index: int) -> dict[str, Any]:
        """The bulk item of one row (see the module docstring for the routing rules)."""
        routes = self.routes
        templates = self._templates
        external_id: str | None = None
        fields: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        vectors: dict[str, Any] = {}
        suggestions: dict[str, dict[str, Any]] = {}
        responses: dict[str, Any] = {}
        for key, value in row.items():
            targets = routes.get(key)
            if targets is None:
                self.unknown_keys.add(key)
                continue
            if value is None:
                continue
            for kind, name, parameter in targets:
                if kind == "field":
                    fields[name] = value
                elif kind == "suggestion":
                    suggestion = suggestions.get(name)
                    if suggestion is None:
                        suggestion = suggestions[name] = templates[name].copy()
                    suggestion[parameter] = value
                elif kind == "metadata":
                    metadata[name] = value
                elif kind == "vector":
                    vectors[name] = value
                elif kind == "response":
                    responses[name] = value
                else:
                    external_id = str(value)
        if not fields and external_id is None:
            self._refuse(row, index, known=bool(metadata or vectors or suggestions or responses))
        item: dict[str, Any] = {"external_id": external_id or str(uuid.uuid4())}
        if fields:
            item["fields"] = fields if self._plain_fields else self.codec.fields_wire(fields)
        if metadata:
            item["metadata"] = metadata
        if vectors:
            item["vectors"] = vectors
        if suggestions:
            ranking = self.codec.ranking
            wire = []
            for name, suggestion in suggestions.items():
                value = suggestion["value"]
                if value is None:
                    continue  # a score or agent without a value
                if name in ranking:
                    suggestion["value"] = self.codec.questions_by_name[name].value_to_wire(value)
                wire.append(suggestion)
            if wire:
                item["suggestions"] = wire
        if responses:
            questions = self.codec.questions_by_name
            item["responses"] = [
                {
                    "user_id": self._user(),
                    "status": "draft",
                    "values": {
                        name: {"value": questions[name].value_to_wire(v)} for name, v in responses.items()
                    },
                }
            ]
        return item

    def _refuse(self, row: Mapping[str, Any], index: int, *, known: bool) -> None:
        settings = self.codec.settings
        raise RecordError(
            f"record {index} of the input has "
            + ("no fields and no id" if known else "no key the dataset knows")
            + f": keys {sorted(row)}; the dataset has fields {settings.fields.names}, "
            f"questions {settings.questions.names}, metadata {settings.metadata.names} and vectors "
            f"{settings.vectors.names} (use mapping= to route other keys)",
            index=index,
        )
