"""Dataset metrics: progress, annotator activity, how suggestions compare with submitted responses,
and how annotators agree with each other. Read in a few queries, computed with numpy.

Per question type:

| type | suggestions vs submitted responses | inter-annotator agreement |
|---|---|---|
| `label_selection` | accuracy, precision/recall/F1 per label and macro | Krippendorff's alpha, nominal |
| `multi_label_selection` | exact-match accuracy, each label as a yes/no decision | mean of per-label nominal alphas |
| `rating` | accuracy, mean absolute error, Spearman | Krippendorff's alpha, interval |
| `ranking` | mean Spearman between suggested and submitted ranks | Krippendorff's alpha, ordinal, over (record, option) ranks |
| `text` | exact-match accuracy | — |
| `span` | — | — |

Every submitted response with a value for the question is one judgment: a record with a suggestion
and three submitted responses contributes three (suggestion, response) pairs.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.dataset_metrics.agreement import (
    krippendorff_alpha,
    label_metrics,
    mean_absolute_error,
    multi_label_metrics,
    spearman,
)
from quire.server.datasets.service import dataset_progress
from quire.server.models import Dataset, Question, Record, Response, ResponseStatus, Suggestion, User


async def dataset_metrics(
    session: AsyncSession, dataset: Dataset, *, questions: list[str] | None = None
) -> dict[str, Any]:
    """`dataset` with its settings loaded; `questions` limits the per-question part."""
    progress = await dataset_progress(session, dataset)
    annotators = await _annotators(session, dataset.id)
    submitted = await _submitted_values(session, dataset.id)
    counts = await _suggestion_counts(session, [q.id for q in dataset.questions])
    suggested = await _suggested_values(session, dataset.id)
    per_question: dict[str, Any] = {}
    for question in dataset.questions:
        if questions is not None and question.name not in questions:
            continue
        per_question[question.name] = _question_metrics(
            question,
            submitted.get(question.name, {}),
            suggested.get(question.id, {}),
            suggestions=counts.get(question.id, 0),
        )
    return {
        "progress": {"total": progress.total, "completed": progress.completed, "pending": progress.pending},
        "annotators": annotators,
        "questions": per_question,
    }


async def _annotators(session: AsyncSession, dataset_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(User.id, User.username, Response.status, func.count())
        .join(Response, Response.user_id == User.id)
        .join(Record, Record.id == Response.record_id)
        .where(Record.dataset_id == dataset_id)
        .group_by(User.id, User.username, Response.status)
        .order_by(User.username)
    )
    people: dict[uuid.UUID, dict[str, Any]] = {}
    for user_id, username, status, count in rows:
        entry = people.setdefault(
            user_id,
            {"user_id": str(user_id), "username": username, "submitted": 0, "draft": 0, "discarded": 0},
        )
        entry[str(status)] = int(count)
    return list(people.values())


async def _submitted_values(
    session: AsyncSession, dataset_id: uuid.UUID
) -> dict[str, dict[uuid.UUID, list[Any]]]:
    """question name → record id → submitted values (one per annotator)."""
    rows = await session.execute(
        select(Response.record_id, Response.values)
        .join(Record, Record.id == Response.record_id)
        .where(Record.dataset_id == dataset_id, Response.status == ResponseStatus.submitted)
    )
    out: dict[str, dict[uuid.UUID, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for record_id, values in rows:
        for name, entry in (values or {}).items():
            if isinstance(entry, dict) and entry.get("value") is not None:
                out[name][record_id].append(entry["value"])
    return out


async def _suggestion_counts(session: AsyncSession, question_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """question id → how many records have a suggestion for it (counted on the question index)."""
    rows = await session.execute(
        select(Suggestion.question_id, func.count())
        .where(Suggestion.question_id.in_(question_ids))
        .group_by(Suggestion.question_id)
    )
    return {question_id: int(count) for question_id, count in rows}


async def _suggested_values(
    session: AsyncSession, dataset_id: uuid.UUID
) -> dict[uuid.UUID, dict[uuid.UUID, Any]]:
    """question id → record id → suggested value, for the records with a submitted response (the
    only ones compared): read per response, not per record of the dataset."""
    answered = (
        select(Response.record_id)
        .join(Record, Record.id == Response.record_id)
        .where(Record.dataset_id == dataset_id, Response.status == ResponseStatus.submitted)
    )
    rows = await session.execute(
        select(Suggestion.question_id, Suggestion.record_id, Suggestion.value).where(
            Suggestion.record_id.in_(answered)
        )
    )
    out: dict[uuid.UUID, dict[uuid.UUID, Any]] = defaultdict(dict)
    for question_id, record_id, value in rows:
        out[question_id][record_id] = value
    return out


def _question_metrics(
    question: Question,
    submitted: dict[uuid.UUID, list[Any]],
    suggested: dict[uuid.UUID, Any],
    *,
    suggestions: int,
) -> dict[str, Any]:
    kind = str(question.settings["type"])
    options = [o["value"] for o in question.settings.get("options", [])]
    pairs = [(suggested[r], value) for r, values in submitted.items() if r in suggested for value in values]
    result: dict[str, Any] = {
        "type": kind,
        "submitted": sum(len(v) for v in submitted.values()),
        "suggested": suggestions,
        "agreement": None,
        "suggestions": None,
    }
    if kind == "label_selection":
        result["agreement"] = _alpha("nominal", list(submitted.values()))
        result["suggestions"] = label_metrics([(p, r) for p, r in pairs], options)
    elif kind == "multi_label_selection":
        result["agreement"] = _multi_label_alpha(submitted, options)
        result["suggestions"] = multi_label_metrics([(list(p), list(r)) for p, r in pairs], options)
    elif kind == "rating":
        result["agreement"] = _alpha("interval", list(submitted.values()))
        numeric = [(float(p), float(r)) for p, r in pairs]
        result["suggestions"] = {
            "compared": len(numeric),
            "accuracy": (sum(1 for p, r in numeric if p == r) / len(numeric)) if numeric else None,
            "mae": mean_absolute_error(numeric),
            "spearman": spearman([p for p, _ in numeric], [r for _, r in numeric]),
        }
    elif kind == "ranking":
        result["agreement"] = _ranking_alpha(submitted, options)
        rhos = [rho for p, r in pairs if (rho := _ranking_spearman(p, r)) is not None]
        result["suggestions"] = {
            "compared": len(pairs),
            "mean_spearman": (sum(rhos) / len(rhos)) if rhos else None,
        }
    elif kind == "text":
        result["suggestions"] = {
            "compared": len(pairs),
            "accuracy": (sum(1 for p, r in pairs if p == r) / len(pairs)) if pairs else None,
        }
    return result


def _alpha(level: Any, units: list[list[Hashable]]) -> dict[str, Any]:
    pairable = [u for u in units if len(u) >= 2]
    return {
        "metric": "krippendorff_alpha",
        "level": level,
        "value": krippendorff_alpha(pairable, level),
        "units": len(pairable),
    }


def _multi_label_alpha(submitted: dict[uuid.UUID, list[Any]], options: list[Any]) -> dict[str, Any]:
    pairable = [values for values in submitted.values() if len(values) >= 2]
    per_label: dict[str, float | None] = {}
    for label in options:
        per_label[str(label)] = krippendorff_alpha(
            [[label in v for v in values] for values in pairable], "nominal"
        )
    defined = [a for a in per_label.values() if a is not None]
    return {
        "metric": "krippendorff_alpha",
        "level": "nominal",
        "value": (sum(defined) / len(defined)) if defined else None,
        "units": len(pairable),
        "per_label": per_label,
    }


def _ranks(value: Any) -> dict[Any, float]:
    return {
        item["value"]: float(item.get("rank") or position) for position, item in enumerate(value, start=1)
    }


def _ranking_alpha(submitted: dict[uuid.UUID, list[Any]], options: list[Any]) -> dict[str, Any]:
    units: list[list[Hashable]] = []
    for values in submitted.values():
        if len(values) < 2:
            continue
        ranked = [_ranks(v) for v in values]
        for option in options:
            unit: list[Hashable] = [r[option] for r in ranked if option in r]
            if len(unit) >= 2:
                units.append(unit)
    return {
        "metric": "krippendorff_alpha",
        "level": "ordinal",
        "value": krippendorff_alpha(units, "ordinal"),
        "units": len(units),
    }


def _ranking_spearman(suggested: Any, submitted: Any) -> float | None:
    a, b = _ranks(suggested), _ranks(submitted)
    common = [option for option in a if option in b]
    return spearman([a[o] for o in common], [b[o] for o in common])
