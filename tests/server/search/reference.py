"""A pure-Python evaluator of filter trees and sorts over a `Spec`: the independent oracle the
property tests compare the SQL engine with. It reads the records as written (`Rec`), not the
derived index rows, and spells out the documented semantics directly."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from quire.server.search import (
    And,
    MetadataScope,
    Node,
    Not,
    Or,
    Range,
    RecordScope,
    ResponseScope,
    SortBy,
    SuggestionScope,
    Terms,
    Text,
)
from tests.server.search.data import T0, Rec, Seeded

WORD = re.compile(r"[^\W_]+")
ELEMENT_KEY = {"ranking": "value", "span": "label"}


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _flatten(value: Any) -> list[Any]:
    return [v for item in value for v in _flatten(item)] if isinstance(value, list) else [value]


Convert = Callable[[Any, bool, bool], tuple[Any, bool]]


def _within(x: Any, node: Range, convert: Convert | None = None) -> bool:
    """x lies within the node's bounds; `convert(bound, lower, inclusive)` maps a bound to a
    comparable `(value, inclusive)` (numbers by default)."""
    for bound, inclusive, lower in (
        (node.ge, True, True),
        (node.gt, False, True),
        (node.le, True, False),
        (node.lt, False, False),
    ):
        if bound is None:
            continue
        value, inclusive = convert(bound, lower, inclusive) if convert else (float(bound), inclusive)
        if lower and not (x >= value if inclusive else x > value):
            return False
        if not lower and not (x <= value if inclusive else x < value):
            return False
    return True


def timestamp_bound(bound: Any, lower: bool, inclusive: bool) -> tuple[datetime, bool]:
    if isinstance(bound, datetime):
        return bound.astimezone(UTC), inclusive
    text = str(bound)
    if len(text) == 10:  # a date covers its whole day
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        nxt = day + timedelta(days=1)
        if lower:
            return (day, True) if inclusive else (nxt, True)
        return (nxt, False) if inclusive else (day, False)
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), inclusive


class Reference:
    def __init__(self, seeded: Seeded, user: str | None = None) -> None:
        self.seeded = seeded
        self.spec = seeded.spec
        self.user = user

    # ---- values of a record in a scope -------------------------------------------------------

    def inserted(self, i: int) -> datetime:
        return self.spec.records[i].inserted_at or T0 + timedelta(minutes=i)

    def updated(self, i: int) -> datetime:
        return self.spec.records[i].updated_at or self.inserted(i)

    def responses(self, rec: Rec) -> list[dict[str, Any]]:
        return [r for key, r in rec.responses.items() if self.user is None or key == self.user]

    def _qtype(self, question: str) -> str:
        return str(self.spec.questions[question]["type"])

    def elements(self, question: str, value: Any) -> list[Any]:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        key = ELEMENT_KEY.get(self._qtype(question))
        if key is not None:
            items = [item.get(key) for item in items if isinstance(item, dict)]
        return [item for item in items if item is not None]

    def suggestion_values(self, rec: Rec, scope: SuggestionScope) -> list[Any]:
        s = rec.suggestions.get(scope.question)
        if s is None:
            return []
        if scope.property == "score":
            score = s.get("score")
            return [] if score is None else (list(score) if isinstance(score, list) else [score])
        if scope.property in ("agent", "type"):
            return [] if s.get(scope.property) is None else [s[scope.property]]
        return self.elements(scope.question, s["value"])

    def response_values(self, rec: Rec, question: str) -> list[Any]:
        return [
            v for r in self.responses(rec) for v in self.elements(question, r.get("values", {}).get(question))
        ]

    def metadata_values(self, rec: Rec, name: str) -> tuple[list[str], list[float]]:
        texts: list[str] = []
        nums: list[float] = []
        for value in _flatten(rec.metadata.get(name)) if name in rec.metadata else []:
            if isinstance(value, bool):
                texts.append("true" if value else "false")
            elif isinstance(value, int | float):
                nums.append(float(value))
            elif isinstance(value, str):
                texts.append(value)
        return texts, nums

    # ---- filters -----------------------------------------------------------------------------

    def matches(self, node: Node | None, i: int) -> bool:
        rec = self.spec.records[i]
        if node is None:
            return True
        if isinstance(node, And):
            return all(self.matches(c, i) for c in node.children)
        if isinstance(node, Or):
            return any(self.matches(c, i) for c in node.children)
        if isinstance(node, Not):
            return not self.matches(node.child, i)
        if isinstance(node, Text):
            return self.text_matches(node, rec)
        if isinstance(node, Terms):
            return self.terms(node, i, rec)
        return self.range(node, i, rec)

    def terms(self, node: Terms, i: int, rec: Rec) -> bool:
        scope, values = node.scope, node.values
        strs = [str(v) for v in values]
        nums = [n for n in map(_number, values) if n is not None]
        if isinstance(scope, RecordScope):
            if scope.property == "id":
                return self.seeded.record_ids[i] in {uuid.UUID(str(v)) for v in values}
            if scope.property == "external_id":
                return rec.external_id is not None and rec.external_id in strs
            return rec.status in strs
        if isinstance(scope, MetadataScope):
            texts, numbers = self.metadata_values(rec, scope.name)
            if self.spec.metadata[scope.name]["type"] in ("integer", "float"):
                return any(n in nums for n in numbers)
            return any(t in strs for t in texts) or any(n in nums for n in numbers)
        if isinstance(scope, SuggestionScope):
            found = self.suggestion_values(rec, scope)
            numeric = scope.property == "score" or (
                scope.property == "value" and self._qtype(scope.question) == "rating"
            )
            return any((_number(v) in nums) if numeric else (v in strs) for v in found)
        assert isinstance(scope, ResponseScope)
        if scope.question is None:
            responses = self.responses(rec)
            if "pending" in strs and not responses:
                return True
            return any(r["status"] in strs for r in responses)
        found = self.response_values(rec, scope.question)
        numeric = self._qtype(scope.question) == "rating"
        return any((_number(v) in nums) if numeric else (v in strs) for v in found)

    def range(self, node: Range, i: int, rec: Rec) -> bool:
        scope = node.scope
        if isinstance(scope, RecordScope):
            stamp = self.inserted(i) if scope.property == "inserted_at" else self.updated(i)
            return _within(stamp, node, timestamp_bound)
        if isinstance(scope, MetadataScope):
            values = self.metadata_values(rec, scope.name)[1]
        elif isinstance(scope, SuggestionScope):
            values = [float(v) for v in self.suggestion_values(rec, scope) if _number(v) is not None]
        else:
            assert scope.question is not None
            values = [float(v) for v in self.response_values(rec, scope.question) if _number(v) is not None]
        return any(_within(v, node) for v in values)

    def text_matches(self, node: Text, rec: Rec) -> bool:
        query = words(node.query)
        if not query:
            return True
        fields = {
            name: words(str(value)) for name, value in rec.fields.items() if isinstance(value, str) and value
        }
        if node.field is not None:
            fields = {node.field: fields.get(node.field, [])}

        def same(token: str, word: str, last: bool) -> bool:
            return token.startswith(word) if (node.prefix and last) else token == word

        def has_phrase(tokens: list[str]) -> bool:
            n = len(query)
            return any(
                all(same(tokens[s + k], query[k], k == n - 1) for k in range(n))
                for s in range(len(tokens) - n + 1)
            )

        if node.phrase:
            return any(has_phrase(tokens) for tokens in fields.values())
        last = len(query) - 1
        if node.field is not None:
            tokens = fields[node.field]
            return all(any(same(t, w, k == last) for t in tokens) for k, w in enumerate(query))
        return all(
            any(same(t, w, k == last) for tokens in fields.values() for t in tokens)
            for k, w in enumerate(query)
        )

    # ---- sorting -----------------------------------------------------------------------------

    def sort_value(self, sort: SortBy, i: int) -> Any:
        rec = self.spec.records[i]
        scope, pick = sort.scope, (min if sort.order == "asc" else max)
        if isinstance(scope, RecordScope):
            return {
                "id": str(self.seeded.record_ids[i]).replace("-", ""),
                "external_id": rec.external_id,
                "status": rec.status,
                "inserted_at": self.inserted(i),
                "updated_at": self.updated(i),
            }[scope.property]
        if isinstance(scope, MetadataScope):
            texts, nums = self.metadata_values(rec, scope.name)
            numeric = self.spec.metadata[scope.name]["type"] in ("integer", "float")
            values: list[Any] = list(nums) if numeric else list(texts)
            return pick(values) if values else None
        if isinstance(scope, SuggestionScope):
            found = self.suggestion_values(rec, scope)
            if scope.property in ("agent", "type"):
                return found[0] if found else None
            numeric = scope.property == "score" or self._qtype(scope.question) == "rating"
            found = [float(v) for v in found] if numeric else [v for v in found if isinstance(v, str)]
            return pick(found) if found else None
        responses = self.responses(rec)
        if scope.question is None:
            return pick(r["status"] for r in responses) if responses else None
        found = self.response_values(rec, scope.question)
        if self._qtype(scope.question) == "rating":
            return sum(float(v) for v in found) / len(found) if found else None
        found = [v for v in found if isinstance(v, str)]
        return pick(found) if found else None

    def search(self, node: Node | None, sort: list[SortBy]) -> list[int]:
        """Positions of the matching records, in result order: insertion order unless sorted; ties
        of a sort in record id order."""
        hits = [i for i in range(len(self.spec.records)) if self.matches(node, i)]
        if sort:
            hits.sort(key=lambda i: self.seeded.record_ids[i].hex)
        for key in reversed(sort):  # stable sorts, last key first; missing values always last
            present = [i for i in hits if self.sort_value(key, i) is not None]
            missing = [i for i in hits if self.sort_value(key, i) is None]
            present.sort(key=lambda i, key=key: self.sort_value(key, i), reverse=key.order == "desc")
            hits = present + missing
        return hits
