"""Dataset create / get / update / publish / delete through the official argilla SDK."""

from __future__ import annotations

from typing import Any

import argilla as rg
import pytest
from argilla._exceptions import ConflictError, SettingsError

from tests.compat.conftest import unique
from tests.compat.settings import (
    LABELS,
    RANKS,
    SPAN_LABELS,
    TOPICS,
    create_dataset,
    full_settings,
    simple_settings,
)

pytestmark = pytest.mark.compat


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_create_dataset_with_every_setting_type(client: rg.Argilla, workspace: rg.Workspace) -> None:
    name = unique("ds")
    dataset = create_dataset(client, name, full_settings(min_submitted=2), workspace)
    assert dataset.id is not None
    assert dataset.workspace.id == workspace.id

    # what the server stored, read back over the wire
    http = client.http_client
    stored = http.get(f"/api/v1/datasets/{dataset.id}").json()
    assert stored["status"] == "ready"
    assert stored["guidelines"] == "Label with care."
    assert stored["distribution"] == {"strategy": "overlap", "min_submitted": 2}
    assert stored["allow_extra_metadata"] is False

    fields = _by_name(http.get(f"/api/v1/datasets/{dataset.id}/fields").json()["items"])
    assert {name: f["settings"]["type"] for name, f in fields.items()} == {
        "text": "text",
        "image": "image",
        "chat": "chat",
        "custom": "custom",
    }
    assert fields["text"]["required"] is True and fields["text"]["settings"]["use_markdown"] is True
    assert fields["text"]["title"] == "Text"
    assert fields["image"]["required"] is False
    assert fields["chat"]["settings"]["use_markdown"] is True
    assert fields["custom"]["settings"]["template"] == "<div>{{record.fields.custom.key}}</div>"

    questions = _by_name(http.get(f"/api/v1/datasets/{dataset.id}/questions").json()["items"])
    assert {name: q["settings"]["type"] for name, q in questions.items()} == {
        "label": "label_selection",
        "topics": "multi_label_selection",
        "rating": "rating",
        "rank": "ranking",
        "comment": "text",
        "spans": "span",
    }
    assert questions["label"]["required"] is True and questions["label"]["title"] == "Sentiment"
    assert questions["label"]["description"] == "Pick one"
    assert [o["value"] for o in questions["label"]["settings"]["options"]] == LABELS
    assert [o["value"] for o in questions["topics"]["settings"]["options"]] == TOPICS
    assert questions["topics"]["settings"]["visible_options"] == 3
    assert [o["value"] for o in questions["rating"]["settings"]["options"]] == [1, 2, 3, 4, 5]
    assert [o["value"] for o in questions["rank"]["settings"]["options"]] == RANKS
    assert questions["comment"]["settings"]["use_markdown"] is True
    assert questions["spans"]["settings"]["field"] == "text"
    assert [o["value"] for o in questions["spans"]["settings"]["options"]] == SPAN_LABELS
    assert questions["spans"]["settings"]["allow_overlapping"] is False

    metadata = _by_name(http.get(f"/api/v1/me/datasets/{dataset.id}/metadata-properties").json()["items"])
    assert metadata["lang"]["settings"]["type"] == "terms"
    assert metadata["lang"]["settings"]["values"] == ["en", "es", "fr"]
    assert (
        metadata["n"]["settings"]["type"],
        metadata["n"]["settings"]["min"],
        metadata["n"]["settings"]["max"],
    ) == (
        "integer",
        0,
        1000,
    )
    assert metadata["score"]["settings"]["type"] == "float"

    vectors = http.get(f"/api/v1/datasets/{dataset.id}/vectors-settings").json()["items"]
    assert [(v["name"], v["dimensions"]) for v in vectors] == [("emb", 3)]


def test_get_dataset_by_name_rebuilds_settings(client: rg.Argilla, workspace: rg.Workspace) -> None:
    name = unique("ds")
    create_dataset(client, name, full_settings(), workspace)

    for ws in (workspace, workspace.name):
        found = client.datasets(name, workspace=ws)
        assert found is not None
        assert found.name == name
        settings = found.settings
        assert [f.name for f in settings.fields] == ["text", "image", "chat", "custom"]
        assert isinstance(settings.fields["image"], rg.ImageField)
        assert isinstance(settings.fields["chat"], rg.ChatField)
        assert isinstance(settings.fields["custom"], rg.CustomField)
        assert [q.name for q in settings.questions] == [
            "label",
            "topics",
            "rating",
            "rank",
            "comment",
            "spans",
        ]
        assert settings.questions["label"].labels == LABELS
        assert settings.questions["topics"].labels == TOPICS
        assert settings.questions["rating"].values == [1, 2, 3, 4, 5]
        assert settings.questions["rank"].values == RANKS
        assert settings.questions["spans"].labels == SPAN_LABELS
        assert settings.questions["spans"].field == "text"
        assert settings.metadata["lang"].options == ["en", "es", "fr"]
        assert (settings.metadata["n"].min, settings.metadata["n"].max) == (0, 1000)
        assert settings.vectors["emb"].dimensions == 3
        assert settings.distribution.min_submitted == 1
        assert settings.guidelines == "Label with care."

    assert name in [d.name for d in workspace.datasets]
    assert name in [d.name for d in client.datasets]
    # a dataset of the same name in another workspace is a different dataset
    assert client.datasets(name, workspace="default") is None


def test_dataset_in_default_workspace(client: rg.Argilla) -> None:
    name = unique("ds")
    with pytest.warns(UserWarning, match="default workspace"):
        dataset = rg.Dataset(name=name, settings=simple_settings(), client=client).create()
    assert dataset.workspace.name == "default"
    found = client.datasets(name)
    assert found is not None and found.id == dataset.id


def test_update_dataset_settings(client: rg.Argilla, workspace: rg.Workspace) -> None:
    name = unique("ds")
    dataset = create_dataset(client, name, full_settings(), workspace)

    dataset.settings.guidelines = "New guidelines"
    dataset.settings.allow_extra_metadata = True
    dataset.settings.distribution = rg.TaskDistribution(min_submitted=3)
    dataset.settings.questions["label"].title = "Overall sentiment"
    dataset.settings.questions["label"].description = "Choose the best label"
    dataset.settings.fields["text"].title = "The text"
    dataset.settings.metadata["n"].title = "Number"
    dataset.settings.metadata.add(rg.FloatMetadataProperty(name="added_after_publish", min=0.0, max=1.0))
    dataset.settings.vectors.add(rg.VectorField(name="emb2", dimensions=2))
    dataset.update()

    fresh = client.datasets(name, workspace=workspace)
    assert fresh is not None
    assert fresh.settings.guidelines == "New guidelines"
    assert fresh.settings.allow_extra_metadata is True
    assert fresh.settings.distribution.min_submitted == 3
    assert fresh.settings.questions["label"].title == "Overall sentiment"
    assert fresh.settings.questions["label"].description == "Choose the best label"
    assert fresh.settings.fields["text"].title == "The text"
    assert fresh.settings.metadata["n"].title == "Number"
    assert fresh.settings.metadata["added_after_publish"].max == 1.0
    assert fresh.settings.vectors["emb2"].dimensions == 2
    # updating did not duplicate anything
    assert len(fresh.settings.questions) == 6 and len(fresh.settings.fields) == 4


def test_update_label_options(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    dataset.settings.questions["label"].labels = ["neg", "pos", "neutral"]
    dataset.update()
    fresh = client.datasets(dataset.name, workspace=workspace)
    assert fresh is not None
    assert fresh.settings.questions["label"].labels == ["neg", "pos", "neutral"]


def test_duplicate_dataset_name_in_workspace_is_rejected(client: rg.Argilla, workspace: rg.Workspace) -> None:
    name = unique("ds")
    create_dataset(client, name, simple_settings(), workspace)
    with pytest.raises(ConflictError):
        create_dataset(client, name, simple_settings(), workspace)
    assert [d.name for d in workspace.datasets] == [name]


def test_settings_without_required_question_fail_and_roll_back(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.TextQuestion(name="comment", required=False)],
    )
    name = unique("ds")
    with pytest.raises(SettingsError):
        create_dataset(client, name, settings, workspace)
    # the SDK deletes the unpublished draft when publishing fails
    assert name not in [d.name for d in workspace.datasets]


def test_delete_dataset(client: rg.Argilla, workspace: rg.Workspace) -> None:
    name = unique("ds")
    dataset = create_dataset(client, name, simple_settings(), workspace)
    dataset.records.log([{"text": "to be deleted with the dataset", "label": "pos"}])
    dataset_id = dataset.id

    dataset.delete()
    assert name not in [d.name for d in workspace.datasets]
    with pytest.warns(UserWarning, match="not found"):
        assert client.datasets(name, workspace=workspace) is None
    assert client.http_client.get(f"/api/v1/datasets/{dataset_id}").status_code == 404
    # the now-empty workspace can be deleted
    workspace.delete()
    assert workspace.name not in [w.name for w in client.workspaces]


def test_changing_the_distribution_recomputes_record_status(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    me = client.me
    dataset.records.log(
        [
            rg.Record(
                id=f"r{i}",
                fields={"text": f"t{i}"},
                responses=[rg.Response("label", "pos", user_id=me.id, status="submitted")] if i < 2 else [],
            )
            for i in range(3)
        ]
    )
    assert dataset.progress() == {"total": 3, "completed": 2, "pending": 1}
    dataset.settings.distribution = rg.TaskDistribution(min_submitted=2)
    dataset.update()
    assert dataset.progress() == {"total": 3, "completed": 0, "pending": 3}
    assert {r.status for r in dataset.records} == {"pending"}
    dataset.settings.distribution = rg.TaskDistribution(min_submitted=1)
    dataset.update()
    assert dataset.progress() == {"total": 3, "completed": 2, "pending": 1}


def test_rename_and_get_by_id(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    old_name = dataset.name
    dataset.name = unique("renamed")
    dataset.update()
    names = [d.name for d in workspace.datasets]
    assert dataset.name in names and old_name not in names
    by_id = client.datasets(id=dataset.id)
    assert by_id is not None and by_id.name == dataset.name
