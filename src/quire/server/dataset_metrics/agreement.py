"""Agreement statistics, in numpy: Krippendorff's alpha (nominal, ordinal, interval), per-label
precision/recall/F1, Spearman's rank correlation and mean absolute error.

Pure functions over plain Python values; `service.py` feeds them from the store.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

Level = Literal["nominal", "ordinal", "interval"]


def krippendorff_alpha(units: Sequence[Sequence[Hashable]], level: Level = "nominal") -> float | None:
    """Alpha over `units` (one list of values per unit, one value per coder; missing values are
    simply absent). Units with fewer than two values are not pairable and are ignored. Returns None
    when alpha is undefined (fewer than two pairable values, or a single value used throughout).

    Coincidence-matrix form: alpha = 1 - (n - 1) * sum(o_ck d_ck) / sum(n_c n_k d_ck).
    """
    pairable = [list(u) for u in units if len(u) >= 2]
    if not pairable:
        return None
    categories = sorted({v for u in pairable for v in u}, key=_sort_key)
    if len(categories) < 2:
        return None
    index = {c: i for i, c in enumerate(categories)}
    size = len(categories)
    coincidences = np.zeros((size, size))
    for unit in pairable:
        counts = np.bincount([index[v] for v in unit], minlength=size).astype(float)
        # ordered pairs of values from different coders in this unit, weighted 1 / (m_u - 1)
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (len(unit) - 1)
    marginals = coincidences.sum(axis=1)
    total = marginals.sum()
    if total <= 1:
        return None
    distance = _distance(categories, marginals, level)
    observed = float((coincidences * distance).sum())
    expected = float((np.outer(marginals, marginals) * distance).sum())
    if expected == 0:
        return None
    return float(1.0 - (total - 1.0) * observed / expected)


def _sort_key(value: Hashable) -> tuple[int, float | str]:
    if isinstance(value, bool):
        return (1, str(value))
    if isinstance(value, int | float):
        return (0, float(value))
    return (1, str(value))


def _distance(
    categories: list[Hashable], marginals: npt.NDArray[np.float64], level: Level
) -> npt.NDArray[np.float64]:
    size = len(categories)
    if level == "nominal":
        nominal: npt.NDArray[np.float64] = 1.0 - np.eye(size)
        return nominal
    if level == "interval":
        values = np.array([float(c) for c in categories])  # type: ignore[arg-type]
        interval: npt.NDArray[np.float64] = (values[:, None] - values[None, :]) ** 2
        return interval
    # ordinal: squared sum of the marginals between the two ranks, minus half of each end
    cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
    low = np.minimum.outer(np.arange(size), np.arange(size))
    high = np.maximum.outer(np.arange(size), np.arange(size))
    between = cumulative[high + 1] - cumulative[low]
    ordinal: npt.NDArray[np.float64] = (between - (marginals[low] + marginals[high]) / 2.0) ** 2
    return ordinal


def label_metrics(
    pairs: Sequence[tuple[Hashable, Hashable]], labels: Sequence[Hashable]
) -> dict[str, object]:
    """Predicted-vs-reference metrics for single-label pairs `(suggested, submitted)`: accuracy,
    precision/recall/F1/support per label, and their unweighted (macro) means over the labels that
    occur in the references or the predictions."""
    compared = len(pairs)
    if not compared:
        return {"compared": 0, "accuracy": None, "per_label": {}, "macro": None}
    correct = sum(1 for predicted, reference in pairs if predicted == reference)
    per_label: dict[str, dict[str, float | int | None]] = {}
    present = [label for label in labels if any(label in pair for pair in pairs)]
    for label in present:
        tp = sum(1 for p, r in pairs if p == label and r == label)
        fp = sum(1 for p, r in pairs if p == label and r != label)
        fn = sum(1 for p, r in pairs if p != label and r == label)
        per_label[str(label)] = _prf(tp, fp, fn)
    return {
        "compared": compared,
        "accuracy": correct / compared,
        "per_label": per_label,
        "macro": _macro(per_label),
    }


def multi_label_metrics(
    pairs: Sequence[tuple[Sequence[Hashable], Sequence[Hashable]]], labels: Sequence[Hashable]
) -> dict[str, object]:
    """Set-valued pairs: exact-match accuracy, and each label scored as its own yes/no decision."""
    compared = len(pairs)
    if not compared:
        return {"compared": 0, "accuracy": None, "per_label": {}, "macro": None}
    sets = [(set(p), set(r)) for p, r in pairs]
    exact = sum(1 for p, r in sets if p == r)
    per_label: dict[str, dict[str, float | int | None]] = {}
    for label in labels:
        tp = sum(1 for p, r in sets if label in p and label in r)
        fp = sum(1 for p, r in sets if label in p and label not in r)
        fn = sum(1 for p, r in sets if label not in p and label in r)
        if tp or fp or fn:
            per_label[str(label)] = _prf(tp, fp, fn)
    return {
        "compared": compared,
        "accuracy": exact / compared,
        "per_label": per_label,
        "macro": _macro(per_label),
    }


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int | None]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def _macro(per_label: dict[str, dict[str, float | int | None]]) -> dict[str, float] | None:
    if not per_label:
        return None
    keys = ("precision", "recall", "f1")
    return {k: float(np.mean([float(m[k] or 0.0) for m in per_label.values()])) for k in keys}


def rankdata(values: Sequence[float]) -> npt.NDArray[np.float64]:
    """1-based ranks, ties sharing their average rank."""
    array = np.asarray(values, dtype=float)
    order = np.argsort(array, kind="mergesort")
    ranks = np.empty(len(array))
    sorted_values = array[order]
    start = 0
    while start < len(array):
        end = start
        while end + 1 < len(array) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the ranks (None when undefined)."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    rx, ry = rankdata(xs), rankdata(ys)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def mean_absolute_error(pairs: Sequence[tuple[float, float]]) -> float | None:
    if not pairs:
        return None
    return float(np.mean([abs(a - b) for a, b in pairs]))
