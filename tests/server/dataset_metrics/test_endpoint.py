"""GET /api/v1/datasets/{id}/metrics on real data, checked against independent computations."""

from __future__ import annotations

import random
from typing import Any

import krippendorff
import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, f1_score

from tests.conftest import Api
from tests.server.helpers import QUESTIONS, make_dataset


async def test_metrics_endpoint(api: Api) -> None:
    questions = {"label": QUESTIONS["label"], "rating": QUESTIONS["rating"], "topics": QUESTIONS["topics"]}
    dataset = await make_dataset(api, questions=questions, required=("label",), min_submitted=2)
    annotators = [await api.create_user("annotator", workspace_id=dataset["workspace_id"]) for _ in range(3)]
    rng = random.Random(3)
    truth = [rng.choice(["pos", "neg"]) for _ in range(30)]
    items = []
    for i, label in enumerate(truth):
        items.append({
            "external_id": f"r{i}", "fields": {"text": f"record {i}"},
            "suggestions": [{"question_name": "label", "value": label if rng.random() < 0.7 else ("neg" if label == "pos" else "pos")},
                            {"question_name": "rating", "value": rng.randint(1, 5)}],
        })  # fmt: skip
    records = (await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items}))[
        "items"
    ]
    answers: dict[int, list[tuple[str, int]]] = {}
    for i, record in enumerate(records):
        votes = []
        for annotator in annotators[: 2 + (i % 2)]:  # two or three annotators per record
            label = truth[i] if rng.random() < 0.8 else ("neg" if truth[i] == "pos" else "pos")
            rating = min(5, max(1, 3 + rng.randint(-1, 1)))
            response = await api.as_user(annotator["api_key"]).post(
                f"/api/v1/records/{record['id']}/responses",
                json={
                    "status": "submitted",
                    "values": {"label": {"value": label}, "rating": {"value": rating}},
                },
            )
            assert response.status_code == 201
            votes.append((label, rating))
        answers[i] = votes

    metrics = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/metrics")
    assert metrics["progress"] == {"total": 30, "completed": 30, "pending": 0}
    submitted_per_user = sorted(a["submitted"] for a in metrics["annotators"])
    assert submitted_per_user == sorted([30, 30, 15])

    label = metrics["questions"]["label"]
    suggested = [items[i]["suggestions"][0]["value"] for i in range(30)]
    predicted = [suggested[i] for i in range(30) for _ in answers[i]]
    reference = [vote for i in range(30) for vote, _ in answers[i]]
    assert label["suggestions"]["compared"] == len(reference)
    assert label["suggestions"]["accuracy"] == pytest.approx(accuracy_score(reference, predicted))
    assert label["suggestions"]["macro"]["f1"] == pytest.approx(
        f1_score(reference, predicted, average="macro")
    )
    matrix = np.full((3, 30), np.nan)
    for i, votes in answers.items():
        for coder, (vote, _) in enumerate(votes):
            matrix[coder, i] = 1 if vote == "pos" else 0
    assert label["agreement"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    )
    assert label["agreement"]["units"] == 30

    rating = metrics["questions"]["rating"]
    suggested_ratings = [float(items[i]["suggestions"][1]["value"]) for i in range(30) for _ in answers[i]]
    given = [float(r) for i in range(30) for _, r in answers[i]]
    assert rating["suggestions"]["mae"] == pytest.approx(
        np.mean(np.abs(np.array(suggested_ratings) - np.array(given)))
    )
    assert rating["suggestions"]["spearman"] == pytest.approx(spearmanr(suggested_ratings, given).statistic)
    for i, votes in answers.items():
        for coder, (_, value) in enumerate(votes):
            matrix[coder, i] = value
    expected_alpha: Any = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    assert rating["agreement"]["level"] == "interval" and rating["agreement"]["value"] == pytest.approx(
        expected_alpha
    )
    assert metrics["questions"]["topics"]["submitted"] == 0

    only = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/metrics?questions=rating")
    assert list(only["questions"]) == ["rating"]
    # any member may read them
    reader = api.as_user(annotators[0]["api_key"])
    assert (await reader.get(f"/api/v1/datasets/{dataset['id']}/metrics")).status_code == 200


async def test_suggestions_count_all_records_and_compare_only_submitted_ones(api: Api) -> None:
    """`suggested` counts every record with a suggestion for the question; only records with a
    submitted response are compared (a draft is no judgment)."""
    dataset = await make_dataset(api, required=("label",))
    items = [
        {
            "external_id": f"r{i}",
            "fields": {"text": "t"},
            "suggestions": [{"question_name": "label", "value": "pos"}],
        }
        for i in range(10)
    ]
    records = (await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items}))[
        "items"
    ]
    for record, status, value in (
        (records[0], "submitted", "pos"),
        (records[1], "submitted", "neg"),
        (records[2], "draft", "neg"),
    ):
        await api.ok(
            "POST",
            f"/api/v1/records/{record['id']}/responses",
            json={"status": status, "values": {"label": {"value": value}}},
        )
    label = (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/metrics"))["questions"]["label"]
    assert label["suggested"] == 10
    assert label["submitted"] == 2
    assert label["suggestions"]["compared"] == 2
    assert label["suggestions"]["accuracy"] == pytest.approx(0.5)
