"""Full-text matching and relevance over `record_texts`.

SQLite: the FTS5 table `record_texts_fts` (external content, rowid = `record_texts.id`), ranked by
its `rank` column (bm25, lower is better, so negated). PostgreSQL: the generated
`record_texts.tsv` (`to_tsvector('simple', body)`, GIN-indexed), ranked by `ts_rank`.

User text never reaches either query language as syntax: it is cut into word tokens (letters and
digits), and each token is quoted (`"tok"` for FTS5, `'tok'` for tsquery). Any input therefore
compiles; input without a word matches everything, like an empty search box.

Semantics: all tokens must match (AND). Without a field, each token may match in any field of the
record; with a field, all must match in that field. A phrase must match, in order, within one field.
`prefix` makes the last token a prefix.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Select,
    SQLColumnExpression,
    String,
    Uuid,
    and_,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from quire.server.models import Record, RecordText
from quire.server.search.context import CompileContext
from quire.server.search.errors import QueryError

MAX_WORDS = 64
_TOKEN = re.compile(r"[^\W_]+")

_fts = table("record_texts_fts", column("rowid"), column("rank"))
# `tsv` exists only on PostgreSQL (added by the migration), so it is not on the ORM model.
_pg_texts = table(
    "record_texts",
    column("id"),
    column("record_id", Uuid),
    column("dataset_id", Uuid),
    column("field_name", String),
    column("tsv", TSVECTOR),
)


def tokens(query: str) -> list[str]:
    """The words of a user's text: runs of letters and digits, in order."""
    words: list[str] = _TOKEN.findall(unicodedata.normalize("NFC", query))
    if len(words) > MAX_WORDS:
        raise QueryError(f"text query has {len(words)} words; at most {MAX_WORDS} are allowed")
    return words


def _fts5_query(words: Sequence[str], *, op: str, phrase: bool, prefix: bool) -> str:
    if phrase:
        return '"' + " ".join(words) + '"' + (" *" if prefix else "")
    quoted = [f'"{w}"' for w in words]
    if prefix:
        quoted[-1] += " *"
    return f" {op} ".join(quoted) if op == "OR" else " ".join(quoted)


def _tsquery(words: Sequence[str], *, op: str, phrase: bool, prefix: bool) -> str:
    quoted = [f"'{w}'" for w in words]
    if prefix:
        quoted[-1] += ":*"
    joiner = " <-> " if phrase else (" | " if op == "OR" else " & ")
    return joiner.join(quoted)


def _rows(
    ctx: CompileContext,
    words: Sequence[str],
    *,
    field: str | None,
    phrase: bool,
    prefix: bool,
    any_word: bool,
) -> tuple[Select[Any], SQLColumnExpression[Any], SQLColumnExpression[Any]]:
    """A SELECT over the text rows of the dataset that match, with its record_id and score
    expressions (the caller picks the columns)."""
    op = "OR" if any_word else "AND"
    if ctx.dialect == "sqlite":
        match = _fts5_query(words, op=op, phrase=phrase, prefix=prefix)
        query = (
            select()
            .select_from(_fts)
            .join(RecordText.__table__, RecordText.id == _fts.c.rowid)
            .where(literal_column("record_texts_fts").op("MATCH")(literal(match, String)))
            .where(RecordText.dataset_id == ctx.dataset_id)
        )
        if field is not None:
            query = query.where(RecordText.field_name == field)
        return query, RecordText.record_id, -_fts.c.rank
    tsquery = func.to_tsquery(
        literal_column("'simple'::regconfig"),
        literal(_tsquery(words, op=op, phrase=phrase, prefix=prefix), String),
    )
    query = (
        select()
        .select_from(_pg_texts)
        .where(_pg_texts.c.dataset_id == ctx.dataset_id, _pg_texts.c.tsv.op("@@")(tsquery))
    )
    if field is not None:
        query = query.where(_pg_texts.c.field_name == field)
    return query, _pg_texts.c.record_id, func.ts_rank(_pg_texts.c.tsv, tsquery)


def _record_ids(ctx: CompileContext, words: Sequence[str], **kwargs: Any) -> Select[Any]:
    query, record_id, _score = _rows(ctx, words, any_word=False, **kwargs)
    return query.add_columns(record_id)


def _within_one_row(ctx: CompileContext, words: Sequence[str], *, field: str | None, phrase: bool) -> bool:
    """Whether one text row must hold every word: then one full-text query decides the match.
    Otherwise each word may sit in a different field and gets its own query."""
    searchable = [name for name, kind in ctx.fields.items() if kind != "image"]
    return phrase or field is not None or len(words) == 1 or len(searchable) <= 1


def text_predicate(
    ctx: CompileContext, query: str, *, field: str | None, phrase: bool, prefix: bool
) -> ColumnElement[bool]:
    words = tokens(query)
    if field is not None:
        ctx.field_type(field)
    if not words:
        return true()
    if _within_one_row(ctx, words, field=field, phrase=phrase):
        return Record.id.in_(_record_ids(ctx, words, field=field, phrase=phrase, prefix=prefix))
    last = len(words) - 1
    return and_(
        *(
            Record.id.in_(_record_ids(ctx, [word], field=None, phrase=False, prefix=prefix and i == last))
            for i, word in enumerate(words)
        )
    )


def matching_scores(
    ctx: CompileContext, query: str, *, field: str | None, phrase: bool, prefix: bool
) -> Subquery | None:
    """`(record_id, score)` of exactly the records the text matches, when one full-text query
    decides it (see `_within_one_row`); None otherwise. Joining it both filters and scores, so the
    full-text query runs once."""
    words = tokens(query)
    if field is not None:
        ctx.field_type(field)
    if not words or not _within_one_row(ctx, words, field=field, phrase=phrase):
        return None
    rows, record_id, score = _rows(ctx, words, field=field, phrase=phrase, prefix=prefix, any_word=False)
    union = rows.add_columns(record_id.label("record_id"), score.label("score")).subquery()
    return (
        select(union.c.record_id, func.sum(union.c.score).label("score"))
        .group_by(union.c.record_id)
        .subquery("text_scores")
    )


def text_scores(ctx: CompileContext, texts: Sequence[tuple[str, str | None, bool, bool]]) -> Subquery | None:
    """`(record_id, score)` for records with text matching any word of the given
    `(query, field, phrase, prefix)` texts: the sum of the per-field relevance."""
    parts: list[Select[Any]] = []
    for query, field, phrase, prefix in texts:
        words = tokens(query)
        if not words:
            continue
        rows, record_id, score = _rows(ctx, words, field=field, phrase=phrase, prefix=prefix, any_word=True)
        parts.append(rows.add_columns(record_id.label("record_id"), score.label("score")))
    if not parts:
        return None
    union = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
    return (
        select(union.c.record_id, func.sum(union.c.score).label("score"))
        .group_by(union.c.record_id)
        .subquery("text_scores")
    )
