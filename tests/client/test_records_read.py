"""Iterating records (each option, paging), queries (filters, text, the query language, similar),
and the export formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import quire as rg
from tests.client.conftest import seed_settings, unique


@pytest.fixture
def filled(client: rg.Quire, workspace: rg.Workspace) -> rg.Dataset:
    """Five records with metadata, vectors, suggestions and (for two) submitted responses."""
    settings = seed_settings()
    settings.metadata.add(rg.IntegerMetadataProperty(name="n"))
    settings.metadata.add(rg.TermsMetadataProperty(name="lang"))
    settings.vectors.add(rg.VectorField(name="emb", dimensions=2))
    settings.vectors.add(rg.VectorField(name="other", dimensions=2))
    dataset = rg.Dataset(name=unique("read"), workspace=workspace, settings=settings, client=client).create()
    me = client.me.id
    assert me is not None
    texts = ["hello world", "goodbye world", "hello again", "what's up?", "nothing here"]
    records = []
    for i, text in enumerate(texts):
        record = rg.Record(
            id=f"r{i}",
            fields={"text": text},
            metadata={"n": i, "lang": "en" if i % 2 == 0 else "es"},
            vectors={"emb": [1.0, float(i)], "other": [0.0, 1.0]},
            suggestions=[
                rg.Suggestion(
                    "label", "positive" if i < 3 else "negative", score=i / 10, agent=f"model-{i % 2}"
                )
            ],
        )
        if i in (1, 3):
            record.responses.add(rg.Response("label", "negative", me, "submitted"))
        records.append(record)
    dataset.records.log(records)
    return dataset


def ids(records: object) -> list[str | None]:
    return [r.id for r in records]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- iteration


def test_iteration_options(filled: rg.Dataset) -> None:
    everything = list(filled.records(with_vectors=True))
    assert ids(everything) == ["r0", "r1", "r2", "r3", "r4"]  # insertion order
    assert everything[1].suggestions["label"].value == "positive"  # type: ignore[union-attr]
    assert everything[1].responses["label"][0].value == "negative"
    assert everything[1].vectors == {"emb": [1.0, 1.0], "other": [0.0, 1.0]}
    assert everything[0].inserted_at is not None and everything[1].status == "completed"

    bare = list(filled.records(with_suggestions=False, with_responses=False))
    assert all(not r.suggestions and not r.responses and not r.vectors for r in bare)
    assert next(iter(filled.records(with_vectors="emb"))).vectors == {"emb": [1.0, 0.0]}
    assert next(iter(filled.records(with_vectors=["other"]))).vectors == {"other": [0.0, 1.0]}
    with pytest.raises(ValueError, match="unknown vector field"):
        filled.records(with_vectors="nope")

    assert ids(filled.records(limit=2)) == ["r0", "r1"]
    assert ids(filled.records(batch_size=2)) == ids(everything)  # three pages
    assert ids(filled.records(batch_size=2, start_offset=3)) == ["r3", "r4"]
    assert ids(filled.records(batch_size=2, limit=3)) == ["r0", "r1", "r2"]
    assert ids(filled.records(limit=0)) == []
    assert ids(filled.records) == ids(everything)  # iter(dataset.records)

    iterator = filled.records(limit=2)
    assert next(iterator).id == "r0" and next(iterator).id == "r1"
    with pytest.raises(StopIteration):
        next(iterator)
    assert ids(iterator) == ["r0", "r1"]  # iterating again starts over


def test_a_dataset_from_the_list_loads_its_settings_when_iterated(
    client: rg.Quire, filled: rg.Dataset
) -> None:
    listed = next(d for d in client.datasets.list() if d.id == filled.id)
    assert [r.suggestions["label"].value for r in listed.records(limit=1)] == ["positive"]  # type: ignore[union-attr]


# ---------------------------------------------------------------- queries


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([("label.suggestion", "==", "positive")], ["r0", "r1", "r2"]),
        ([("label", "in", ["negative"])], ["r3", "r4"]),
        ([("label.score", ">=", 0.2)], ["r2", "r3", "r4"]),
        ([("label.agent", "==", "model-1")], ["r1", "r3"]),
        ([("metadata.n", "<=", 1)], ["r0", "r1"]),
        ([("metadata.lang", "==", "es"), ("metadata.n", ">=", 2)], ["r3"]),
        ([("status", "==", "completed")], ["r1", "r3"]),
        ([("response.status", "==", "submitted")], ["r1", "r3"]),
        ([("label.response", "==", "negative")], ["r1", "r3"]),
        ([("id", "in", ["r0", "r4"])], ["r0", "r4"]),
    ],
)
def test_filters(filled: rg.Dataset, conditions: list[tuple[str, str, object]], expected: list[str]) -> None:
    query = rg.Query(filter=rg.Filter(conditions))
    assert ids(filled.records(query=query)) == expected


def test_a_filter_can_be_a_tuple_and_filters_combine(filled: rg.Dataset) -> None:
    assert ids(filled.records(query=rg.Query(filter=("metadata.n", ">=", 4)))) == ["r4"]
    both = rg.Filter(("metadata.lang", "==", "en")) & rg.Filter(("label", "==", "positive"))
    assert ids(filled.records(query=rg.Query(filter=both))) == ["r0", "r2"]
    with pytest.raises(ValueError, match="unknown operator '!='"):
        rg.Filter(("status", "!=", "pending"))


def test_text_queries(filled: rg.Dataset) -> None:
    assert sorted(ids(filled.records(query=rg.Query(query="hello")))) == ["r0", "r2"]
    assert sorted(ids(filled.records(query="world"))) == ["r0", "r1"]  # a string is a query
    assert ids(filled.records(query=rg.Query(text="what's up?"))) == ["r3"]  # literal text
    assert ids(filled.records(query=rg.Query(query="hello", filter=("metadata.n", ">=", 1)))) == ["r2"]


def test_the_query_language(filled: rg.Dataset) -> None:
    def run(q: str) -> list[str | None]:
        return sorted(ids(filled.records(query=rg.Query(query=q))))

    assert run("metadata.n:3 AND status:completed") == ["r3"]
    assert run("metadata.n:[1 TO 3] AND NOT metadata.lang:es") == ["r2"]
    assert run("suggestions.label:negative OR fields.text:hello") == ["r0", "r2", "r3", "r4"]
    assert run("responses.label:negative") == ["r1", "r3"]
    with pytest.raises(rg.ValidationError, match="invalid query"):
        run("metadata.n:[1 TO")


def test_similar(filled: rg.Dataset) -> None:
    near = list(filled.records(query=rg.Query(similar=rg.Similar("emb", [1.0, 3.9])), limit=2))
    assert [record.id for record, _ in near] == ["r4", "r3"]
    assert all(isinstance(score, float) for _, score in near)
    reference = next(r for r in filled.records() if r.id == "r0")
    by_record = filled.records(query=rg.Query(similar=rg.Similar("emb", reference)), limit=2)
    assert [record.id for record, _ in by_record] == ["r1", "r2"]  # the reference itself is left out
    far = list(
        filled.records(query=rg.Query(similar=rg.Similar("emb", [1.0, 0.0], most_similar=False)), limit=1)
    )
    assert far[0][0].id == "r4"


def test_search_page_and_count(filled: rg.Dataset) -> None:
    page = filled.records.search(rg.Query(filter=("label", "==", "positive")), limit=2)
    assert page.total == 3 and ids(page.records) == ["r0", "r1"]
    assert filled.records.search("hello", limit=0).total == 2
    assert filled.records.count() == 5
    assert filled.records.count(rg.Query(query="metadata.lang:es")) == 2


# ---------------------------------------------------------------- export


def test_to_list_nested_and_flat(filled: rg.Dataset) -> None:
    nested = filled.records.to_list()
    assert len(nested) == 5
    first = nested[0]
    assert set(first) == {
        "id",
        "fields",
        "metadata",
        "suggestions",
        "responses",
        "vectors",
        "status",
        "_server_id",
    }
    assert first["suggestions"] == {"label": {"value": "positive", "score": 0.0, "agent": "model-0"}}
    flat = filled.records(with_vectors=True).to_list(flatten=True)
    assert flat[1]["text"] == "goodbye world" and flat[1]["n"] == 1 and flat[1]["emb"] == [1.0, 1.0]
    assert flat[1]["label.suggestion"] == "positive" and flat[1]["label.suggestion.agent"] == "model-1"
    assert flat[1]["label.responses"] == ["negative"] and flat[1]["label.responses.status"] == ["submitted"]
    assert flat[0]["label.responses"] is None  # every row has every key
    scored = filled.records(query=rg.Query(similar=rg.Similar("emb", [1.0, 0.0])), limit=1).to_list()
    assert "score" in scored[0]


def test_to_dict(filled: rg.Dataset) -> None:
    columns = filled.records.to_dict(flatten=True)
    assert columns["id"] == ["r0", "r1", "r2", "r3", "r4"] and columns["n"] == [0, 1, 2, 3, 4]
    by_id = filled.records.to_dict(orient="index")
    assert by_id["r3"]["fields"] == {"text": "what's up?"}


def test_json_and_jsonl_and_back(client: rg.Quire, filled: rg.Dataset, tmp_path: Path) -> None:
    path = filled.records.to_json(tmp_path / "records.json")
    assert [row["id"] for row in json.loads(path.read_text())] == ["r0", "r1", "r2", "r3", "r4"]
    with pytest.raises(FileExistsError):
        filled.records.to_json(path)

    lines = filled.records(with_vectors=True).to_jsonl(tmp_path / "records.jsonl")
    rows = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(rows) == 5 and rows[3]["responses"]["label"][0]["status"] == "submitted"

    copy = rg.Dataset(
        name=unique("copy"), workspace=filled.workspace, settings=filled.settings, client=client
    ).create()
    copy.records.from_jsonl(lines)
    copy.records.from_jsonl(lines)  # ids kept: the second import updates
    assert copy.records.count() == 5
    restored = {r.id: r for r in copy.records(with_vectors=True)}
    assert set(restored) == {"r0", "r1", "r2", "r3", "r4"}
    assert restored["r3"].responses["label"][0].value == "negative"
    assert restored["r2"].vectors["emb"] == [1.0, 2.0]
    assert restored["r1"].suggestions["label"].agent == "model-1"  # type: ignore[union-attr]


def test_to_datasets(filled: rg.Dataset) -> None:
    pytest.importorskip("datasets")
    hf = filled.records.to_datasets()
    assert hf.num_rows == 5
    assert hf["label.suggestion"] == ["positive", "positive", "positive", "negative", "negative"]
    assert hf["text"][0] == "hello world"
