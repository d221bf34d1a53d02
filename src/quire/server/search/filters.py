"""The filter AST: one object model that every front end produces and one compiler consumes.

    Node = Terms | Range | Text | And | Or | Not

`Terms` and `Range` test one *scope*:

    RecordScope(property)            id (server UUID), external_id, status, inserted_at, updated_at
    MetadataScope(name)              a metadata property
    SuggestionScope(question, property="value")   value | score | agent | type
    ResponseScope(question=None, property="value")
                                     value of a question's responses, or (question=None) `status`

`Text` is full-text search over the record's fields. Every node compiles itself into a boolean SQL
expression over `records` (`node.compile(ctx)`); names are checked against the dataset then, so a
tree can be built (or parsed) without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias, cast

from sqlalchemy import Select, and_, false, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from quire.server.search import conjunction, fulltext, predicates
from quire.server.search.context import CompileContext
from quire.server.search.errors import QueryError
from quire.server.search.scopes import MetadataScope, RecordScope, ResponseScope, Scope, SuggestionScope
from quire.server.search.values import Bound, Scalar, check_text

__all__ = [
    "And",
    "MetadataScope",
    "Node",
    "Not",
    "Or",
    "Range",
    "RecordScope",
    "ResponseScope",
    "Scope",
    "SuggestionScope",
    "Terms",
    "Text",
    "drives",
    "positive_texts",
    "row_sources",
]


@dataclass(frozen=True)
class Terms:
    """The scope has one of `values` (for lists: any member does)."""

    scope: Scope
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise QueryError("a terms filter needs at least one value")
        for value in self.values:
            if isinstance(value, str):
                check_text(value)

    def compile(self, ctx: CompileContext) -> ColumnElement[bool]:
        return predicates.terms(ctx, self.scope, self.values)

    def rows(self, ctx: CompileContext) -> Select[Any] | None:
        return predicates.terms_rows(ctx, self.scope, self.values)

    @property
    def driver_rank(self) -> int:
        return _driver_rank(self.scope, equality=True)


@dataclass(frozen=True)
class Range:
    """The scope lies within the bounds: `ge`/`gt` below, `le`/`lt` above, at least one of them.
    Numbers for metadata, scores and ratings; ISO dates or datetimes for timestamps."""

    scope: Scope
    ge: Bound | None = None
    le: Bound | None = None
    gt: Bound | None = None
    lt: Bound | None = None

    def __post_init__(self) -> None:
        if self.ge is not None and self.gt is not None:
            raise QueryError("a range takes one lower bound: 'ge' or 'gt', not both")
        if self.le is not None and self.lt is not None:
            raise QueryError("a range takes one upper bound: 'le' or 'lt', not both")
        lower, upper = self.lower, self.upper
        if lower is None and upper is None:
            raise QueryError("a range filter needs at least one bound ('ge', 'gt', 'le' or 'lt')")
        if lower is not None and upper is not None:
            low, high = lower[0], upper[0]
            comparable = (isinstance(low, int | float) and isinstance(high, int | float)) or (
                isinstance(low, datetime) and isinstance(high, datetime)
            )
            if comparable and low > high:  # type: ignore[operator]
                raise QueryError(f"a range's lower bound ({low}) must not exceed its upper bound ({high})")

    @property
    def lower(self) -> tuple[Bound, bool] | None:
        """`(value, inclusive)` of the lower bound, if any."""
        if self.ge is not None:
            return self.ge, True
        if self.gt is not None:
            return self.gt, False
        return None

    @property
    def upper(self) -> tuple[Bound, bool] | None:
        if self.le is not None:
            return self.le, True
        if self.lt is not None:
            return self.lt, False
        return None

    def compile(self, ctx: CompileContext) -> ColumnElement[bool]:
        return predicates.range_(ctx, self.scope, self.lower, self.upper)

    def rows(self, ctx: CompileContext) -> Select[Any] | None:
        if isinstance(self.scope, RecordScope):
            return None
        return predicates.range_rows(ctx, self.scope, self.lower, self.upper)

    @property
    def driver_rank(self) -> int:
        return _driver_rank(self.scope, equality=False)


@dataclass(frozen=True)
class Text:
    """Full-text match of `query` in any field (or in `field`); all words must match. `phrase`: the
    words in order within one field; `prefix`: the last word is a prefix."""

    query: str
    field: str | None = None
    phrase: bool = False
    prefix: bool = False

    def compile(self, ctx: CompileContext) -> ColumnElement[bool]:
        return fulltext.text_predicate(
            ctx, self.query, field=self.field, phrase=self.phrase, prefix=self.prefix
        )


@dataclass(frozen=True)
class And:
    """All children match (no children: everything matches)."""

    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", tuple(self.children))

    def conjuncts(self) -> list[Node]:
        """The children, with nested ANDs spliced in."""
        return [
            leaf
            for child in self.children
            for leaf in (child.conjuncts() if isinstance(child, And) else [child])
        ]

    def compile(self, ctx: CompileContext) -> ColumnElement[bool]:
        children = _words_together(self.conjuncts())
        if not children:
            return true()
        fused, covered = conjunction.fuse(ctx, [c for c in children if isinstance(c, Terms | Range)])
        rest = [child.compile(ctx) for child in children if not any(child is c for c in covered)]
        return and_(*([fused] if fused is not None else []), *rest)


def _words_together(children: list[Node]) -> list[Node]:
    """ANDed plain text matches on the same field as one `Text` of all their words, which matches
    exactly the same records (all words must match; where one text row must hold them all, one
    full-text query decides, otherwise each word still gets its own) with one query instead of
    one per word: `late AND refund AND status:pending` from a query string. Relevance is scored on
    the original leaves (`positive_texts`), so scores do not change."""
    plain: dict[str | None, list[int]] = {}  # field -> positions of its plain text matches
    for position, child in enumerate(children):
        if isinstance(child, Text) and not child.phrase and not child.prefix:
            plain.setdefault(child.field, []).append(position)
    replaced: dict[int, Node | None] = {}  # position -> its group's Text (first) or None (dropped)
    for field, positions in plain.items():
        words = [word for p in positions for word in fulltext.tokens(cast(Text, children[p]).query)]
        if len(positions) < 2 or len(words) > fulltext.MAX_WORDS:
            continue
        replaced[positions[0]] = Text(" ".join(words), field=field)
        replaced.update((p, None) for p in positions[1:])
    together = [replaced.get(p, child) for p, child in enumerate(children)]
    return [child for child in together if child is not None]


@dataclass(frozen=True)
class Or:
    """Any child matches (no children: nothing matches)."""

    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", tuple(self.children))

    def compile(self, ctx: CompileContext) -> ColumnElement[bool]:
        if not self.children:
            return false()
        return or_(*(child.compile(ctx) for child in self.children))


@dataclass(frozen=True)
class Not:
    child: Node

    def compile(self, ctx: CompileContext) -> ColumnElement[bool]:
        return not_(self.child.compile(ctx))


Node: TypeAlias = Terms | Range | Text | And | Or | Not


def _driver_rank(scope: Scope, *, equality: bool) -> int:
    if isinstance(scope, MetadataScope):
        return 0 if equality else 2
    if isinstance(scope, SuggestionScope):
        return 1 if equality else 3
    return 4


def drives(ctx: CompileContext, node: Node | None) -> bool:
    """Whether the node's SQL contains, at its top level, a subquery over rows of this dataset
    that can drive the plan (metadata, suggestions, full text)."""
    if isinstance(node, And):
        return any(drives(ctx, child) for child in node.conjuncts())
    if isinstance(node, Terms | Range):
        return isinstance(node.scope, MetadataScope | SuggestionScope)
    if isinstance(node, Text):
        return bool(fulltext.tokens(node.query))
    return False


def row_sources(node: Node | None) -> list[Terms | Range]:
    """The `Terms` and `Range` conditions ANDed at the top of the tree."""
    if isinstance(node, And):
        return [child for child in node.conjuncts() if isinstance(child, Terms | Range)]
    return []


def positive_texts(node: Node | None) -> list[Text]:
    """The `Text` leaves that can make a record match (not under a `Not`): what relevance
    is scored on."""
    if node is None or isinstance(node, Terms | Range | Not):
        return []
    if isinstance(node, Text):
        return [node]
    return [text for child in node.children for text in positive_texts(child)]
