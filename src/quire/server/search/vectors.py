"""Exact vector similarity with numpy.

`vectors.value` holds little-endian float64 bytes. The candidates (records passing the filter that
have a vector of that name) are streamed in chunks, each chunk scored by cosine similarity and
merged into a running top-k, so memory stays at one chunk plus k results however large the dataset.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quire.server.models import Record, Vector
from quire.server.search.context import CompileContext, VectorInfo
from quire.server.search.errors import QueryError

SimilarityOrder = Literal["most_similar", "least_similar"]
MAX_RESULTS = 1000
CHUNK = 4096

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VectorQuery:
    """Similarity to `value`, or to the vector of another record (`record_id`, which is then left out
    of the results, as Argilla does)."""

    name: str
    value: Sequence[float] | None = None
    record_id: uuid.UUID | None = None
    order: SimilarityOrder = "most_similar"

    def __post_init__(self) -> None:
        if (self.value is None) == (self.record_id is None):
            raise QueryError("a vector query needs exactly one of 'value' or 'record_id'")
        if self.order not in ("most_similar", "least_similar"):
            raise QueryError(
                f"unknown similarity order {self.order!r}; allowed: ['most_similar', 'least_similar']"
            )


def decode(raw: bytes) -> Floats:
    return np.frombuffer(raw, dtype="<f8")


async def _query_vector(
    session: AsyncSession, ctx: CompileContext, query: VectorQuery, info: VectorInfo
) -> Floats:
    if query.value is not None:
        vector = np.asarray(query.value, dtype=np.float64)
        if vector.shape != (info.dimensions,):
            raise QueryError(
                f"vector {info.name!r} has {info.dimensions} dimensions; the query vector has {len(query.value)}"
            )
    else:
        raw = await session.scalar(
            select(Vector.value)
            .join(Record, Record.id == Vector.record_id)
            .where(
                Record.id == query.record_id,
                Record.dataset_id == ctx.dataset_id,
                Vector.vector_settings_id == info.id,
            )
        )
        if raw is None:
            exists = await session.scalar(
                select(Record.id).where(Record.id == query.record_id, Record.dataset_id == ctx.dataset_id)
            )
            if exists is None:
                raise QueryError(f"record {query.record_id} not found in this dataset")
            raise QueryError(f"record {query.record_id} has no vector {info.name!r}")
        vector = decode(raw)
    if not np.all(np.isfinite(vector)):
        raise QueryError("the query vector must contain finite numbers")
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise QueryError("the query vector has zero length; cosine similarity is undefined")
    return vector / norm


async def _chunks(session: AsyncSession, statement: Select[int, bytes]) -> AsyncIterator[Sequence[Any]]:
    connection = await session.connection()  # Core rows: no ORM work per candidate
    result = await connection.stream(statement.execution_options(yield_per=CHUNK))
    async for partition in result.partitions(CHUNK):
        yield partition


async def similarity_search(
    session: AsyncSession,
    ctx: CompileContext,
    query: VectorQuery,
    *,
    where: Sequence[ColumnElement[bool]],
    k: int,
) -> list[tuple[uuid.UUID, float]]:
    """The `k` records most (or least) similar to the query among those matching `where`, with their
    cosine similarity; ties go to the earlier record."""
    info = ctx.vector(query.name)
    target = await _query_vector(session, ctx, query, info)
    sign = 1.0 if query.order == "most_similar" else -1.0
    statement = (
        select(Record.seq, Vector.value)
        .join(Vector, Vector.record_id == Record.id)
        .where(Vector.vector_settings_id == info.id, *where)
    )
    if query.record_id is not None:
        statement = statement.where(Record.id != query.record_id)
    width = info.dimensions * 8
    best_seq = np.empty(0, dtype=np.int64)
    best_sim = np.empty(0, dtype=np.float64)
    async for rows in _chunks(session, statement):
        rows = [row for row in rows if len(row[1]) == width]
        if not rows:
            continue
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f8").reshape(
            len(rows), info.dimensions
        )
        norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = (matrix @ target) / norms
        valid = np.isfinite(sims)
        seqs = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))[valid]
        seqs, sims = np.concatenate([best_seq, seqs]), np.concatenate([best_sim, sims[valid]])
        keep = _top(sims * sign, seqs, k)
        best_seq, best_sim = seqs[keep], sims[keep]
    if not len(best_seq):
        return []
    found = await session.execute(
        select(Record.seq, Record.id).where(Record.seq.in_([int(v) for v in best_seq]))
    )
    ids = {seq: record_id for seq, record_id in found}
    return [(ids[int(seq)], float(sim)) for seq, sim in zip(best_seq, best_sim, strict=True)]


def _top(keys: Floats, seqs: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.intp]:
    """Indices of the k largest keys, ordered by key desc then seq asc."""
    if len(keys) > k:
        threshold = np.partition(keys, len(keys) - k)[len(keys) - k]
        candidates = np.flatnonzero(keys >= threshold)  # ties at the threshold stay for the seq tiebreak
    else:
        candidates = np.arange(len(keys))
    order = np.lexsort((seqs[candidates], -keys[candidates]))
    return candidates[order][:k]
