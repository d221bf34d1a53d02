"""`rg.Query` through the official argilla SDK: filters, full text and vector similarity.

These drive `POST /api/v1/datasets/{id}/records/search`. The dataset is built once per backend
(module scope) and only read by the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import argilla as rg
import pytest

from tests.compat.conftest import LiveServer, unique
from tests.compat.settings import LANGS, create_dataset

pytestmark = pytest.mark.compat

# id, text, (label suggestion, score, agent) | None, n, lang, emb, (response status, label) | None
ROWS: list[
    tuple[str, str, tuple[str, float, str] | None, int, str, list[float], tuple[str, str | None] | None]
] = [
    ("s0", "The quick brown fox jumps", ("pos", 0.9, "m1"), 1, "en", [1.0, 0.0, 0.0], ("submitted", "pos")),
    ("s1", "A lazy dog sleeps all day", ("neg", 0.4, "m2"), 5, "es", [0.9, 0.1, 0.0], None),
    (
        "s2",
        "Foxes are quick and clever",
        ("neutral", 0.7, "m1"),
        10,
        "fr",
        [0.0, 1.0, 0.0],
        ("submitted", "neg"),
    ),
    ("s3", "Dogs and cats living together", ("pos", 0.2, "m3"), 20, "en", [0.0, 0.0, 1.0], ("draft", "pos")),
    ("s4", "Nothing to see here", None, 50, "es", [-1.0, 0.0, 0.0], ("discarded", None)),
]
ALL = {row[0] for row in ROWS}


@dataclass
class SearchData:
    client: rg.Argilla
    dataset: rg.Dataset


@pytest.fixture(scope="module")
def data(quire_server: LiveServer) -> Iterator[SearchData]:
    client = rg.Argilla(api_url=quire_server.url, api_key=quire_server.api_key)
    settings = rg.Settings(
        fields=[rg.TextField(name="text"), rg.TextField(name="notes", required=False)],
        questions=[
            rg.LabelQuestion(name="label", labels=["pos", "neg", "neutral"]),
            rg.RatingQuestion(name="rating", values=[1, 2, 3], required=False),
        ],
        metadata=[rg.IntegerMetadataProperty(name="n"), rg.TermsMetadataProperty(name="lang", options=LANGS)],
        vectors=[rg.VectorField(name="emb", dimensions=3)],
    )
    dataset = create_dataset(client, unique("search"), settings)
    me = client.me
    records = []
    for key, text, suggestion, n, lang, emb, response in ROWS:
        records.append(
            rg.Record(
                id=key,
                fields={"text": text, "notes": "zebra" if key == "s4" else None},
                metadata={"n": n, "lang": lang},
                vectors={"emb": emb},
                suggestions=[rg.Suggestion("label", suggestion[0], score=suggestion[1], agent=suggestion[2])]
                if suggestion
                else [],
                responses=[rg.Response("label", response[1], user_id=me.id, status=response[0])]
                if response
                else [],
            )
        )
    dataset.records.log(records)
    yield SearchData(client=client, dataset=dataset)
    dataset.delete()


def _ids(data: SearchData, query: rg.Query | str, **kwargs: Any) -> set[str]:
    rg.Argilla._set_default(data.client)
    found = [str(r.id) for r in data.dataset.records(query=query, **kwargs)]
    assert len(found) == len(set(found)), f"duplicates in {found}"
    return set(found)


def _filter(data: SearchData, *conditions: tuple[str, str, Any]) -> set[str]:
    return _ids(data, rg.Query(filter=rg.Filter(list(conditions))))


def test_filter_by_record_status(data: SearchData) -> None:
    assert _filter(data, ("status", "==", "completed")) == {"s0", "s2"}
    assert _filter(data, ("status", "==", "pending")) == {"s1", "s3", "s4"}
    assert _filter(data, ("status", "in", ["pending", "completed"])) == ALL


def test_filter_by_metadata(data: SearchData) -> None:
    assert _filter(data, ("metadata.n", ">=", 5), ("metadata.n", "<=", 20)) == {"s1", "s2", "s3"}
    assert _filter(data, ("metadata.n", ">=", 20)) == {"s3", "s4"}
    assert _filter(data, ("metadata.lang", "in", ["en", "fr"])) == {"s0", "s2", "s3"}
    assert _filter(data, ("metadata.lang", "==", "es")) == {"s1", "s4"}


def test_filter_by_suggestion_value_score_and_agent(data: SearchData) -> None:
    assert _filter(data, ("label.suggestion", "==", "pos")) == {"s0", "s3"}
    assert _filter(data, ("label", "in", ["neg", "neutral"])) == {"s1", "s2"}  # bare question name
    assert _filter(data, ("label.score", ">=", 0.5)) == {"s0", "s2"}
    assert _filter(data, ("label.score", "<=", 0.4)) == {"s1", "s3"}
    assert _filter(data, ("label.agent", "==", "m1")) == {"s0", "s2"}


def test_filter_by_responses(data: SearchData) -> None:
    assert _filter(data, ("response.status", "==", "submitted")) == {"s0", "s2"}
    assert _filter(data, ("response.status", "==", "draft")) == {"s3"}
    assert _filter(data, ("response.status", "==", "discarded")) == {"s4"}
    assert _filter(data, ("response.status", "==", "pending")) == {"s1"}  # pending = no response
    assert _filter(data, ("label.response", "==", "neg")) == {"s2"}
    assert _filter(data, ("label.response", "==", "pos")) == {"s0", "s3"}


def test_filters_combine_with_and(data: SearchData) -> None:
    assert _filter(data, ("status", "==", "completed"), ("metadata.lang", "==", "en")) == {"s0"}
    assert _filter(data, ("label.suggestion", "==", "pos"), ("response.status", "==", "draft")) == {"s3"}
    assert _filter(data, ("id", "in", ["s1", "s2", "nope"])) == {"s1", "s2"}  # `id` is the external id
    assert _filter(data, ("status", "==", "completed"), ("metadata.lang", "==", "es")) == set()


def test_search_returns_values_with_suggestions_responses_and_vectors(data: SearchData) -> None:
    [record] = list(
        data.dataset.records(
            query=rg.Query(filter=rg.Filter([("id", "==", "s0")])), with_vectors=True, with_responses=True
        )
    )
    assert record.fields["text"] == "The quick brown fox jumps"
    assert record.metadata == {"n": 1, "lang": "en"}
    assert (record.suggestions["label"].value, record.suggestions["label"].score) == ("pos", 0.9)
    assert [r.value for r in record.responses["label"]] == ["pos"]
    assert record.vectors["emb"] == pytest.approx([1.0, 0.0, 0.0])
    assert record.status == "completed"


def test_full_text_query(data: SearchData) -> None:
    assert _ids(data, rg.Query(query="quick")) == {"s0", "s2"}
    assert _ids(data, "QUICK") == {"s0", "s2"}  # a plain string is a text query; case does not matter
    assert _ids(data, rg.Query(query="quick fox")) == {"s0"}
    assert _ids(data, rg.Query(query="zebra")) == {"s4"}  # any field
    assert _ids(data, rg.Query(query="unicorn")) == set()
    assert _ids(data, rg.Query(query="quick", filter=rg.Filter([("metadata.lang", "==", "fr")]))) == {"s2"}


def test_paging_through_search_results(data: SearchData) -> None:
    assert _ids(data, rg.Query(filter=rg.Filter([("status", "==", "pending")])), batch_size=1) == {
        "s1",
        "s3",
        "s4",
    }
    assert len(list(data.dataset.records(query=rg.Query(filter=("metadata.n", ">=", 0)), limit=2))) == 2


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_similarity_search_orders_by_similarity(data: SearchData) -> None:
    target = [1.0, 0.05, 0.0]
    results = list(data.dataset.records(query=rg.Query(similar=rg.Similar(name="emb", value=target))))
    assert all(isinstance(item, tuple) and len(item) == 2 for item in results)
    ids = [str(record.id) for record, _ in results]
    scores = [score for _, score in results]
    assert sorted(ids) == sorted(ALL)
    assert ids[:2] == ["s0", "s1"] and ids[-1] == "s4"
    assert scores == sorted(scores, reverse=True)
    expected = {row[0]: _cosine(target, row[5]) for row in ROWS}
    # the score is a similarity: the best match scores highest (exact value depends on the metric)
    assert scores[0] >= scores[1] > scores[-1]
    assert [i for i, _ in sorted(expected.items(), key=lambda kv: -kv[1])][:2] == ids[:2]

    least = list(
        data.dataset.records(query=rg.Query(similar=rg.Similar(name="emb", value=target, most_similar=False)))
    )
    assert str(least[0][0].id) == "s4"


def test_similarity_search_with_filter_and_by_record(data: SearchData) -> None:
    filtered = list(
        data.dataset.records(
            query=rg.Query(
                similar=rg.Similar(name="emb", value=[1.0, 0.0, 0.0]),
                filter=rg.Filter([("metadata.lang", "==", "es")]),
            )
        )
    )
    assert [str(record.id) for record, _ in filtered] == ["s1", "s4"]

    [s0] = [r for r in data.dataset.records() if r.id == "s0"]
    by_record = list(data.dataset.records(query=rg.Query(similar=rg.Similar(name="emb", value=s0))))
    ids = [str(record.id) for record, _ in by_record]
    assert "s0" not in ids  # the record itself is left out, as in Argilla
    assert ids[0] == "s1" and ids[-1] == "s4"
