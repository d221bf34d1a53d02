"""distilabel 1.5.3's Argilla steps pointed at a live quire server: `.load()` creates (or reuses) the
dataset, `next(step.process([...]))` pushes the rows."""

from __future__ import annotations

import hashlib
from typing import Any

import argilla as rg
import pytest
from distilabel.errors import DistilabelUserError
from distilabel.steps import PreferenceToArgilla, TextGenerationToArgilla

from tests.compat.conftest import LiveServer, unique

pytestmark = pytest.mark.compat


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _wire(client: rg.Argilla, path: str) -> Any:
    response = client.http_client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def _settings(client: rg.Argilla, dataset: rg.Dataset) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = {f["name"]: f for f in _wire(client, f"/api/v1/datasets/{dataset.id}/fields")["items"]}
    questions = {q["name"]: q for q in _wire(client, f"/api/v1/datasets/{dataset.id}/questions")["items"]}
    return fields, questions


def _text_generation_step(server: LiveServer, name: str, workspace: str | None) -> TextGenerationToArgilla:
    return TextGenerationToArgilla(
        dataset_name=name, dataset_workspace=workspace, api_url=server.url, api_key=server.api_key
    )


def test_text_generation_to_argilla(
    quire_server: LiveServer, client: rg.Argilla, workspace: rg.Workspace
) -> None:
    name = unique("textgen")
    step = _text_generation_step(quire_server, name, workspace.name)
    step.load()

    dataset = client.datasets(name, workspace=workspace)
    assert dataset is not None
    fields, questions = _settings(client, dataset)
    assert list(fields) == ["id", "instruction", "generation"]
    assert all(f["required"] and f["settings"]["type"] == "text" for f in fields.values())
    assert list(questions) == ["quality"]
    quality = questions["quality"]
    assert quality["required"] is True
    assert quality["title"] == "What's the quality of the generation for the given instruction?"
    assert quality["settings"]["type"] == "label_selection"
    assert quality["settings"]["options"] == [
        {"value": "bad", "text": "👎", "description": None},
        {"value": "good", "text": "👍", "description": None},
    ]
    assert _wire(client, f"/api/v1/datasets/{dataset.id}")["status"] == "ready"

    inputs = [
        {"instruction": "Say hi", "generation": "hi"},
        {"instruction": "Count to two", "generation": ["one, two", "1, 2", "one, two"]},  # duplicate skipped
    ]
    result = next(step.process(inputs))
    assert result == inputs  # the step passes its inputs through

    records = list(dataset.records(with_suggestions=True, with_responses=True))
    assert sorted((r.fields["instruction"], r.fields["generation"]) for r in records) == [
        ("Count to two", "1, 2"),
        ("Count to two", "one, two"),
        ("Say hi", "hi"),
    ]
    for record in records:
        assert record.fields["id"] == _sha(record.fields["instruction"])
        assert list(record.suggestions) == [] and list(record.responses) == []
        assert record.status == "pending"
    assert dataset.progress()["total"] == 3


def test_text_generation_reuses_an_existing_dataset(quire_server: LiveServer, client: rg.Argilla) -> None:
    name = unique("textgen")
    first = _text_generation_step(quire_server, name, None)  # default workspace
    first.load()
    next(first.process([{"instruction": "a", "generation": "b"}]))

    second = _text_generation_step(quire_server, name, None)
    second.load()
    assert second._dataset.id == first._dataset.id
    next(second.process([{"instruction": "c", "generation": "d"}]))

    matching = [d for d in client.workspaces("default").datasets if d.name == name]  # type: ignore[union-attr]
    assert len(matching) == 1
    dataset = client.datasets(name)
    assert dataset is not None
    # the step gives records no id, so each push adds records (a re-run duplicates them)
    assert sorted(r.fields["generation"] for r in dataset.records) == ["b", "d"]
    _, questions = _settings(client, dataset)
    assert list(questions) == ["quality"]  # nothing was created twice


def test_text_generation_refuses_a_dataset_with_other_required_fields(
    quire_server: LiveServer, client: rg.Argilla, workspace: rg.Workspace
) -> None:
    name = unique("textgen")
    rg.Dataset(
        name=name,
        workspace=workspace,
        client=client,
        settings=rg.Settings(
            fields=[rg.TextField(name="prompt")], questions=[rg.LabelQuestion(name="q", labels=["a", "b"])]
        ),
    ).create()
    step = _text_generation_step(quire_server, name, workspace.name)
    with pytest.raises(DistilabelUserError, match="already exists"):
        step.load()


def test_preference_to_argilla(quire_server: LiveServer, client: rg.Argilla, workspace: rg.Workspace) -> None:
    name = unique("pref")
    step = PreferenceToArgilla(
        num_generations=3,
        dataset_name=name,
        dataset_workspace=workspace.name,
        api_url=quire_server.url,
        api_key=quire_server.api_key,
    )
    step.load()

    dataset = client.datasets(name, workspace=workspace)
    assert dataset is not None
    fields, questions = _settings(client, dataset)
    assert list(fields) == ["id", "instruction", "generations-0", "generations-1", "generations-2"]
    assert {n: f["required"] for n, f in fields.items()} == {
        "id": True,
        "instruction": True,
        "generations-0": True,
        "generations-1": False,
        "generations-2": False,
    }
    assert list(questions) == [
        f"generations-{i}-{kind}" for i in range(3) for kind in ("rating", "rationale")
    ]
    for i in range(3):
        rating = questions[f"generations-{i}-rating"]
        assert rating["settings"]["type"] == "rating"
        assert [o["value"] for o in rating["settings"]["options"]] == [1, 2, 3, 4, 5]
        assert rating["required"] is (i == 0)
        assert rating["title"] == f"Rate generations-{i} given instruction."
        rationale = questions[f"generations-{i}-rationale"]
        assert rationale["settings"]["type"] == "text"
        assert rationale["required"] is False
        assert rationale["title"] == f"Specify the rationale for generations-{i}'s rating."
    assert questions["generations-0-rating"]["description"] is None
    assert "generations-1" in questions["generations-1-rating"]["description"]

    inputs = [
        {
            "instruction": "Write a haiku",
            "generations": ["first", "second", "third"],
            "ratings": [4, 5, 1],
            "rationales": ["good", "great", "poor"],
        },
        {
            "instruction": "Two only",
            "generations": ["x", "y"],
            "ratings": [2, None],  # a missing rating gives no suggestion
            "rationales": ["meh", None],
        },
        {
            "instruction": "Strings are dropped",
            "generations": ["p", "q"],
            "ratings": ["4", 7],  # not an int in 1..5: dropped by the step
        },
        {"instruction": "No ratings at all", "generations": ["only"]},
    ]
    assert next(step.process(inputs)) == inputs

    records = {r.fields["instruction"]: r for r in dataset.records(with_suggestions=True)}
    assert set(records) == {i["instruction"] for i in inputs}

    haiku = records["Write a haiku"]
    assert haiku.fields["id"] == _sha("Write a haiku")
    assert [haiku.fields[f"generations-{i}"] for i in range(3)] == ["first", "second", "third"]
    assert {s.question_name: s.value for s in haiku.suggestions} == {
        "generations-0-rating": 4,
        "generations-1-rating": 5,
        "generations-2-rating": 1,
        "generations-0-rationale": "good",
        "generations-1-rationale": "great",
        "generations-2-rationale": "poor",
    }
    assert all(s.score is None and s.agent is None for s in haiku.suggestions)

    two = records["Two only"]
    assert two.fields.get("generations-2") is None
    assert {s.question_name: s.value for s in two.suggestions} == {
        "generations-0-rating": 2,
        "generations-0-rationale": "meh",
    }
    assert list(records["Strings are dropped"].suggestions) == []
    assert list(records["No ratings at all"].suggestions) == []
    assert records["No ratings at all"].fields["generations-0"] == "only"

    # a second step on the same dataset reuses it
    again = PreferenceToArgilla(
        num_generations=3,
        dataset_name=name,
        dataset_workspace=workspace.name,
        api_url=quire_server.url,
        api_key=quire_server.api_key,
    )
    again.load()
    assert again._dataset.id == dataset.id
    assert [d.name for d in workspace.datasets] == [name]
