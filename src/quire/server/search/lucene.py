"""The Lucene-style query string front end, parsed with luqum.

    metadata.batch_id:3 AND status:pending
    fields.text:"exact phrase"      hello world      fields.text:hel*
    metadata.n:[1 TO 5]   metadata.score:{0.5 TO *]   metadata.n:>=3
    suggestions.label:pos   suggestions.label.score:[0.8 TO *]   suggestions.label.agent:gpt-4
    responses.rating.value:[1 TO 2]   responses.label:neg   responses.status:submitted
    status:completed   id:<uuid>   external_id:abc   inserted_at:[2024-01-01 TO *]
    NOT x   -x   +x   a OR b   (a b)   metadata.lang:(en OR es)

Bare terms and phrases search the text of all fields; `*` and `*:*` match everything. Operators: AND, OR, NOT / `-`, `+` (required,
a no-op here); juxtaposition is AND. A question named `status` is reached as
`responses.status.value`. Fuzzy (`~`), proximity, boosts (`^`), regular expressions and wildcards
other than a trailing `*` on text are refused with the column and the offending text.

`parse_query_string` only checks syntax and field shapes; whether the names exist in a dataset is
checked when the tree compiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.thread import parse

from quire.server.search.errors import QueryError
from quire.server.search.filters import And, Node, Not, Or, Range, Terms, Text
from quire.server.search.scopes import MetadataScope, RecordScope, ResponseScope, Scope, SuggestionScope
from quire.server.search.values import as_number

MAX_DEPTH = 64
MAX_CONDITIONS = 200
"""Leaf conditions per query: SQLite refuses expressions deeper than 1,000 levels, and a chain
of ORs or ANDs nests one level per condition."""
MAX_VALUES = 1000
"""Values per query (a terms condition's values each count), well under the stores' limits on
bound parameters per statement."""
FIELD_HELP = (
    "use fields.<field>, metadata.<property>, suggestions.<question>[.value|.score|.agent|.type], "
    "responses.<question>[.value], responses.status, status, id, external_id, inserted_at or updated_at"
)
_RECORD_PROPERTIES = ("id", "external_id", "status", "inserted_at", "updated_at")
_SUGGESTION_PROPERTIES = ("value", "score", "agent", "type")
_ESCAPED = re.compile(r"\\(.)")
_POSITION = re.compile(r"unexpected\s+'(?P<token>.*)' at position (?P<pos>\d+)", re.DOTALL)
_MODIFIER = re.compile(r"([\^~])[0-9.]*")
_ILLEGAL = re.compile(r"Illegal character '(?P<rest>.*)' at position (?P<pos>\d+)", re.DOTALL)


@dataclass(frozen=True)
class _TextTarget:
    field: str | None


_Target = Scope | _TextTarget


class _Problem(Exception):
    """A problem at a place in the query; `parse_query_string` words it with the query's text."""

    def __init__(self, item: tree.Item, problem: str) -> None:
        super().__init__(problem)
        self.start, self.end = item.span()
        self.problem = problem

    def error(self, text: str) -> QueryError:
        if self.start is None:
            return QueryError(f"invalid query: {self.problem}")
        near = text[self.start : self.end].strip()
        if len(near) > 40:
            near = near[:37] + "..."
        return QueryError(f"invalid query at column {self.start + 1} near {near!r}: {self.problem}")


def _syntax_error(text: str, exc: ParseError) -> QueryError:
    message = str(exc)
    if isinstance(exc, IllegalCharacterError) and (m := _ILLEGAL.search(message)):
        pos = int(m.group("pos"))
        char = text[pos : pos + 1]
        problem = "unclosed quote" if char == '"' else f"illegal character {char!r}"
        return QueryError(f"invalid query at column {pos + 1} near {text[pos : pos + 20]!r}: {problem}")
    if m := _POSITION.search(message):
        pos, token = int(m.group("pos")), m.group("token")
        return QueryError(f"invalid query at column {pos + 1} near {token!r}: unexpected {token!r}")
    return QueryError(
        f"invalid query at column {len(text) + 1}: unexpected end of query "
        "(an operator without an operand, or an unclosed parenthesis or bracket?)"
    )


def _modifier_error(text: str) -> QueryError:
    match = _MODIFIER.search(text)
    if match is None:
        return QueryError("invalid query: malformed number after '^' or '~'")
    kind = "boosts ('^')" if match.group(1) == "^" else "fuzzy and proximity search ('~')"
    return QueryError(
        f"invalid query at column {match.start() + 1} near {match.group(0)!r}: {kind} are not supported"
    )


def parse_query_string(text: str) -> Node:
    """Parse a Lucene-style query into a filter tree; raises `QueryError` pointing at the problem.
    An empty (or blank) query matches everything."""
    if not text.strip():
        return And(())
    try:
        parsed = parse(text)
    except ParseError as exc:
        raise _syntax_error(text, exc) from None
    except (ValueError, ArithmeticError):  # luqum converting a malformed `^n` / `~n` number
        raise _modifier_error(text) from None
    except RecursionError:
        raise QueryError("invalid query: nested too deeply") from None
    try:
        node = _convert(parsed, None, 0)
    except _Problem as problem:
        raise problem.error(text) from None
    leaves = list(_leaves(node))
    if (values := sum(len(leaf.values) if isinstance(leaf, Terms) else 1 for leaf in leaves)) > MAX_VALUES:
        raise QueryError(f"invalid query: it lists {values} values; at most {MAX_VALUES} are allowed")
    if (count := len(leaves)) > MAX_CONDITIONS:
        raise QueryError(
            f"invalid query: it has {count} conditions; at most {MAX_CONDITIONS} are allowed "
            "(the values of one field ORed together, as in id:(a OR b OR c), count as one)"
        )
    return node


def _either(children: tuple[Node, ...]) -> Node:
    """`Or` of `children`, with the `Terms` on one scope merged into one (`x:a OR x:b` is
    `x:(a OR b)`: one condition, one `IN` in SQL, however many values)."""
    merged: list[Node] = []
    by_scope: dict[Scope, int] = {}
    for child in children:
        if isinstance(child, Terms) and child.scope in by_scope:
            at = by_scope[child.scope]
            earlier = merged[at]
            assert isinstance(earlier, Terms)
            merged[at] = Terms(child.scope, tuple(dict.fromkeys((*earlier.values, *child.values))))
            continue
        if isinstance(child, Terms):
            by_scope[child.scope] = len(merged)
        merged.append(child)
    return merged[0] if len(merged) == 1 else Or(tuple(merged))


def _leaves(node: Node) -> Iterator[Node]:
    """The leaf conditions of a tree (each becomes at least one SQL condition)."""
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _leaves(child)
    elif isinstance(node, Not):
        yield from _leaves(node.child)
    else:
        yield node


def _target(item: tree.SearchField) -> _Target:
    name = _ESCAPED.sub(r"\1", item.name)
    parts = name.split(".")
    head, rest = parts[0], parts[1:]
    if not rest and head in _RECORD_PROPERTIES:
        return RecordScope(head)  # type: ignore[arg-type]
    if head == "metadata" and len(rest) == 1 and rest[0]:
        return MetadataScope(rest[0])
    if head == "fields" and len(rest) == 1 and rest[0]:
        return _TextTarget(rest[0])
    if head == "suggestions" and len(rest) in (1, 2) and rest[0]:
        prop = rest[1] if len(rest) == 2 else "value"
        if prop not in _SUGGESTION_PROPERTIES:
            raise _Problem(
                item, f"unknown suggestion property {prop!r}; allowed: {list(_SUGGESTION_PROPERTIES)}"
            )
        return SuggestionScope(rest[0], prop)  # type: ignore[arg-type]
    if head == "responses":
        if rest == ["status"]:
            return ResponseScope(None, "status")
        if (len(rest) == 1 and rest[0]) or (len(rest) == 2 and rest[0] and rest[1] == "value"):
            return ResponseScope(rest[0], "value")
    raise _Problem(item, f"unknown field {name!r}; {FIELD_HELP}")


def _convert(item: tree.Item, target: _Target | None, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise _Problem(item, f"the query is nested more than {MAX_DEPTH} levels deep")
    depth += 1
    if isinstance(item, tree.SearchField):
        if item.name == "*" and isinstance(item.expr, tree.Word) and item.expr.value == "*":
            return And(())  # *:* matches everything
        if target is not None:
            raise _Problem(item, "a field inside another field's group")
        return _convert(item.expr, _target(item), depth)
    if isinstance(item, tree.BaseGroup):
        return _convert(item.expr, target, depth)
    if isinstance(item, tree.AndOperation | tree.UnknownOperation):
        return And(tuple(_convert(child, target, depth) for child in item.operands))
    if isinstance(item, tree.OrOperation):
        return _either(tuple(_convert(child, target, depth) for child in item.operands))
    if isinstance(item, tree.Not | tree.Prohibit):
        return Not(_convert(item.a, target, depth))
    if isinstance(item, tree.Plus):
        return _convert(item.a, target, depth)
    if isinstance(item, tree.Word | tree.Phrase):
        return _term(item, target)
    if isinstance(item, tree.Range | tree.From | tree.To):
        return _range(item, target)
    if isinstance(item, tree.Fuzzy):
        raise _Problem(item, "fuzzy search ('~') is not supported")
    if isinstance(item, tree.Proximity):
        raise _Problem(item, "proximity search ('~') is not supported")
    if isinstance(item, tree.Boost):
        raise _Problem(item, "boosts ('^') are not supported")
    if isinstance(item, tree.Regex):
        raise _Problem(item, "regular expressions are not supported")
    raise _Problem(item, f"unsupported construct {type(item).__name__}")


def _unquote(item: tree.Term) -> str:
    value: str = item.value
    if isinstance(item, tree.Phrase):
        value = value[1:-1]
    return _ESCAPED.sub(r"\1", value)


def _term(item: tree.Word | tree.Phrase, target: _Target | None) -> Node:
    is_phrase = isinstance(item, tree.Phrase)
    if target is None and not is_phrase and item.value == "*":
        return And(())  # a lone * matches everything
    if target is None or isinstance(target, _TextTarget):
        field = target.field if target is not None else None
        if is_phrase:
            return Text(_unquote(item), field=field, phrase=True)
        wildcards = [span for span, _ in item.iter_wildcards()]
        if not wildcards:
            return Text(_unquote(item), field=field)
        if (
            len(wildcards) == 1
            and item.value.endswith("*")
            and wildcards[0][1] == len(item.value)
            and len(item.value) > 1
        ):
            return Text(_ESCAPED.sub(r"\1", item.value[:-1]), field=field, prefix=True)
        raise _Problem(item, "only a trailing '*' (prefix search) is supported in text")
    if not is_phrase and item.has_wildcard():
        raise _Problem(item, "wildcards are only supported in text search (bare terms or fields.<field>)")
    return Terms(target, (_unquote(item),))


def _bound(item: tree.Item) -> str | float | None:
    """A range endpoint: a number when it looks like one, `None` for `*`."""
    negative = isinstance(item, tree.Prohibit)
    if negative:
        item = item.a
    if not isinstance(item, tree.Word | tree.Phrase):
        raise _Problem(item, "a range bound must be a value")
    if isinstance(item, tree.Word) and item.value == "*" and not negative:
        return None
    value = ("-" if negative else "") + _unquote(item)
    number = as_number(value)
    return value if number is None else number


def _range(item: tree.Range | tree.From | tree.To, target: _Target | None) -> Node:
    if target is None or isinstance(target, _TextTarget):
        raise _Problem(item, "ranges apply to metadata, scores, ratings and timestamps, not to text")
    if isinstance(item, tree.Range):
        low, high = _bound(item.low), _bound(item.high)
        if low is None and high is None:
            raise _Problem(item, "a range needs at least one bound other than '*'")
        lower = {"ge": low} if item.include_low else {"gt": low}
        upper = {"le": high} if item.include_high else {"lt": high}
    else:
        value = _bound(item.a)
        if value is None:
            raise _Problem(item, "a range needs at least one bound other than '*'")
        key = (
            ("ge" if item.include else "gt")
            if isinstance(item, tree.From)
            else ("le" if item.include else "lt")
        )
        lower, upper = {key: value}, {}
    try:
        return Range(target, **lower, **upper)
    except QueryError as exc:
        raise _Problem(item, exc.message) from None
