"""`metrics=[...]` of a listener: named figures picked from the server's dataset metrics
(`GET /api/v1/datasets/{id}/metrics`, see docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["METRIC_NAMES", "ListenerMetrics", "check_names", "select"]


def _per_question(pick: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def collect(payload: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, question in (payload.get("questions") or {}).items():
            value = pick(question)
            if value is not None:
                out[name] = value
        return out

    return collect


def _suggestion(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda q: (q.get("suggestions") or {}).get(key)


def _macro(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda q: ((q.get("suggestions") or {}).get("macro") or {}).get(key)


_METRICS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "progress": lambda p: p.get("progress"),
    "annotators": lambda p: p.get("annotators"),
    "agreement": _per_question(lambda q: (q.get("agreement") or {}).get("value")),
    "accuracy": _per_question(_suggestion("accuracy")),
    "f1": _per_question(_macro("f1")),
    "precision": _per_question(_macro("precision")),
    "recall": _per_question(_macro("recall")),
    "mae": _per_question(_suggestion("mae")),
    "spearman": _per_question(_suggestion("spearman")),
}
_ALIASES = {"alpha": "agreement", "krippendorff_alpha": "agreement", "f1_score": "f1", "macro_f1": "f1"}
METRIC_NAMES = tuple(_METRICS)


def _key(name: str) -> str | None:
    lowered = name.strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    return lowered if lowered in _METRICS else None


def check_names(names: Sequence[str], question_names: Sequence[str]) -> None:
    """Refuse names that are neither a known metric nor a question of the dataset."""
    unknown = [n for n in names if _key(n) is None and n not in question_names]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {unknown}: use {list(METRIC_NAMES)} (case does not matter) or a question "
            f"name of the dataset for all its figures ({list(question_names)})"
        )


class ListenerMetrics(dict[str, Any]):
    """`ctx.metrics`: each name of `metrics=[...]` mapped to its figures, e.g.
    `{"F1": {"label": 0.83}}` (macro F1 of the suggestions against the submitted responses, per
    question), `{"progress": {"total": …, "completed": …, "pending": …}}`, `{"label": {…all the
    label question's figures…}}`. `.server` is the whole answer of the server."""

    def __init__(self, values: dict[str, Any], server: dict[str, Any]) -> None:
        super().__init__(values)
        self.server = server


def select(names: Sequence[str], payload: dict[str, Any]) -> ListenerMetrics:
    questions = payload.get("questions") or {}
    values: dict[str, Any] = {}
    for name in names:
        key = _key(name)
        if key is not None:
            values[name] = _METRICS[key](payload)
        elif name in questions:
            values[name] = questions[name]
        else:
            check_names([name], list(questions))
    return ListenerMetrics(values, payload)
