"""The agreement math against reference implementations (used here as test oracles only)."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from quire.server.dataset_metrics.agreement import krippendorff_alpha, label_metrics, rankdata, spearman

VALUES = [1, 2, 3, 4, 5]


def _reliability(units: list[list[int | None]]) -> np.ndarray:
    """coders × units matrix with NaN for missing values, as the `krippendorff` package wants."""
    coders = max(len(u) for u in units)
    matrix = np.full((coders, len(units)), np.nan)
    for j, unit in enumerate(units):
        for i, value in enumerate(unit):
            if value is not None:
                matrix[i, j] = value
    return matrix


units_strategy = st.lists(
    st.lists(st.one_of(st.none(), st.sampled_from(VALUES)), min_size=2, max_size=4), min_size=2, max_size=25
)


@settings(max_examples=150, deadline=None)
@given(units=units_strategy, level=st.sampled_from(["nominal", "ordinal", "interval"]))
def test_alpha_matches_the_krippendorff_package(units: list[list[int | None]], level: str) -> None:
    ours = krippendorff_alpha([[v for v in u if v is not None] for u in units], level)  # type: ignore[arg-type]
    pairable = [[v for v in u if v is not None] for u in units]
    values_used = {v for u in pairable if len(u) >= 2 for v in u}
    if ours is None:
        assert len(values_used) < 2
        return
    reference = krippendorff.alpha(
        reliability_data=_reliability(units), level_of_measurement=level, value_domain=VALUES
    )
    assert ours == pytest.approx(reference, abs=1e-9)


def test_alpha_textbook_example() -> None:
    # Krippendorff's classic example (four coders, twelve units, nominal): alpha ≈ 0.743
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[row[j] for row in data if row[j] is not None] for j in range(12)]
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=1e-3)  # type: ignore[arg-type]
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=1e-3)  # type: ignore[arg-type]


def test_label_metrics_match_sklearn() -> None:
    rng = random.Random(7)
    labels = ["a", "b", "c"]
    pairs = [(rng.choice(labels), rng.choice(labels)) for _ in range(300)]
    ours = label_metrics(pairs, labels)
    predicted, reference = [p for p, _ in pairs], [r for _, r in pairs]
    assert ours["accuracy"] == pytest.approx(accuracy_score(reference, predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        reference, predicted, labels=labels, zero_division=0
    )
    for i, label in enumerate(labels):
        per = ours["per_label"][label]  # type: ignore[index]
        assert (per["precision"], per["recall"], per["f1"], per["support"]) == pytest.approx(
            (precision[i], recall[i], f1[i], support[i])
        )
    macro = precision_recall_fscore_support(
        reference, predicted, labels=labels, average="macro", zero_division=0
    )
    assert ours["macro"] == pytest.approx({"precision": macro[0], "recall": macro[1], "f1": macro[2]})  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=3, max_size=40))
def test_spearman_and_ranks_match_scipy(pairs: list[tuple[int, int]]) -> None:
    xs, ys = [float(x) for x, _ in pairs], [float(y) for _, y in pairs]
    from scipy.stats import rankdata as scipy_rankdata

    assert list(rankdata(xs)) == pytest.approx(list(scipy_rankdata(xs)))
    ours = spearman(xs, ys)
    if ours is None:
        assert len(set(xs)) == 1 or len(set(ys)) == 1
    else:
        assert ours == pytest.approx(spearmanr(xs, ys).statistic, abs=1e-9)
