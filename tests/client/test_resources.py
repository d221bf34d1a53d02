"""Workspaces, users, datasets (create / get / update / publish / delete / progress), webhooks, and
the errors the live server answers with."""

from __future__ import annotations

import uuid

import pytest

import quire as rg
from tests.client.conftest import LiveServer, seed_settings, unique


def test_me_and_default_workspace(client: rg.Quire) -> None:
    me = client.me
    assert me.username == "owner" and me.role == "owner" and me.api_key
    assert client.workspaces.default.name == "default"
    assert client.server_info()["version"]


def test_workspace_lifecycle_and_members(client: rg.Quire) -> None:
    workspace = rg.Workspace(name=unique("ws"), client=client).create()
    assert workspace.id is not None and workspace.inserted_at is not None
    assert client.workspaces(workspace.name) == workspace
    assert client.workspaces(id=workspace.id) == workspace
    assert client.workspaces("missing-" + uuid.uuid4().hex) is None

    user = rg.User(username=unique("ann"), password="secret-pass", client=client).create()
    assert user.role == "annotator" and user.api_key
    workspace.add_user(user.username)  # by name
    assert [u.username for u in workspace.users] == [user.username]
    assert [w.name for w in user.workspaces] == [workspace.name]
    workspace.remove_user(user)
    assert workspace.users == []

    user.first_name = "Ann"
    user.update()
    assert client.users(id=user.id).first_name == "Ann"  # type: ignore[union-attr]
    user.delete()
    assert client.users(user.username) is None
    workspace.delete()
    assert client.workspaces(workspace.name) is None


def test_dataset_lifecycle(client: rg.Quire, workspace: rg.Workspace) -> None:
    settings = seed_settings()
    settings.guidelines = "Be kind."
    settings.metadata.add(rg.TermsMetadataProperty(name="lang", options=["en", "es"]))
    settings.metadata.add(rg.IntegerMetadataProperty(name="n", min=0, max=10))
    settings.metadata.add(rg.FloatMetadataProperty(name="f"))
    settings.vectors.add(rg.VectorField(name="emb", dimensions=3))
    settings.distribution = rg.TaskDistribution(min_submitted=2)
    name = unique("ds")
    dataset = rg.Dataset(name=name, settings=settings, workspace=workspace.name, client=client).create()
    assert dataset.is_published and dataset.status == "ready"
    assert dataset.workspace == workspace

    fetched = client.datasets(name, workspace=workspace)
    assert fetched is not None and fetched.id == dataset.id
    assert fetched.settings.fields.names == ["text", "prompt"]
    assert fetched.settings.questions.names == ["label", "multi-label", "rank", "rating", "span", "text-q"]
    assert fetched.settings.metadata.names == ["lang", "n", "f"]
    assert fetched.settings.vectors["emb"].dimensions == 3  # type: ignore[union-attr]
    assert fetched.guidelines == "Be kind." and fetched.distribution.min_submitted == 2
    assert isinstance(fetched.settings.questions["span"], rg.SpanQuestion)
    assert fetched.settings.questions["span"].field == "text"
    assert fetched.settings.questions["label"].labels == ["positive", "negative"]  # type: ignore[union-attr]
    assert fetched.settings.metadata["lang"].options == ["en", "es"]  # type: ignore[union-attr]
    assert client.datasets(id=dataset.id).name == name  # type: ignore[union-attr]
    assert name in [d.name for d in client.datasets.list()]
    assert name in [d.name for d in workspace.datasets]

    fetched.guidelines = "Be kinder."
    fetched.distribution = rg.TaskDistribution(min_submitted=1)
    fetched.settings.questions["label"].title = "Sentiment"  # type: ignore[union-attr]
    fetched.settings.metadata.add(rg.TermsMetadataProperty(name="source"))
    fetched.update()
    again = client.datasets(name, workspace=workspace)
    assert again is not None
    assert again.guidelines == "Be kinder." and again.distribution.min_submitted == 1
    assert again.settings.questions["label"].title == "Sentiment"  # type: ignore[union-attr]
    assert "source" in again.settings.metadata

    dataset.delete()
    assert not dataset.exists()
    assert client.datasets(name, workspace=workspace) is None


def test_draft_then_publish(client: rg.Quire, workspace: rg.Workspace) -> None:
    dataset = rg.Dataset(name=unique("draft"), workspace=workspace, settings=seed_settings(), client=client)
    dataset.create(publish=False)
    assert dataset.status == "draft"
    dataset.publish()
    assert dataset.is_published
    dataset.records.log([{"text": "now"}])
    assert dataset.records.count() == 1


def test_settings_of_one_dataset_create_another(client: rg.Quire, workspace: rg.Workspace) -> None:
    first = rg.Dataset(
        name=unique("a"), workspace=workspace, settings=seed_settings(), client=client
    ).create()
    second = rg.Dataset(
        name=unique("b"), workspace=workspace, settings=first.settings, client=client
    ).create()
    assert second.settings.questions["label"].id != first.settings.questions["label"].id  # type: ignore[union-attr]


def test_a_refused_setting_rolls_the_dataset_back(client: rg.Quire, workspace: rg.Workspace) -> None:
    settings = seed_settings()
    settings.vectors.add(rg.VectorField(name="not a valid name!", dimensions=3))
    name = unique("rollback")
    with pytest.raises(rg.ValidationError):
        rg.Dataset(name=name, workspace=workspace, settings=settings, client=client).create()
    assert client.datasets(name, workspace=workspace) is None


def test_settings_are_checked_before_anything_is_sent(client: rg.Quire, workspace: rg.Workspace) -> None:
    with pytest.raises(ValueError, match="at least one field and one question"):
        rg.Dataset(
            name=unique("x"),
            workspace=workspace,
            settings=rg.Settings(fields=[rg.TextField("t")]),
            client=client,
        ).create()
    duplicate = rg.Settings(fields=[rg.TextField("x")], questions=[rg.TextQuestion("x")])
    with pytest.raises(ValueError, match="unique"):
        rg.Dataset(name=unique("x"), workspace=workspace, settings=duplicate, client=client).create()
    with pytest.raises(rg.NotFoundError, match="workspace 'nope' not found"):
        rg.Dataset(name=unique("x"), workspace="nope", settings=seed_settings(), client=client).create()


def test_progress_with_users_distribution(client: rg.Quire, dataset: rg.Dataset) -> None:
    me = client.me
    assert me.id is not None
    dataset.records.log(
        [
            rg.Record(
                id="a", fields={"text": "a"}, responses=[rg.Response("label", "positive", me.id, "submitted")]
            ),
            rg.Record(
                id="b", fields={"text": "b"}, responses=[rg.Response("label", "negative", me.id, "draft")]
            ),
            rg.Record(id="c", fields={"text": "c"}),
        ]
    )
    assert dataset.progress() == {"total": 3, "completed": 1, "pending": 2}
    progress = dataset.progress(with_users_distribution=True)
    assert progress["users"][me.username]["completed"]["submitted"] == 1
    assert progress["users"][me.username]["pending"]["draft"] == 1


def test_webhooks(client: rg.Quire, dataset: rg.Dataset) -> None:
    webhook = rg.Webhook(
        url="http://127.0.0.1:9/hook",
        events=["record.created", "record.completed"],
        description="test",
        client=client,
        headers={"Authorization": "Bearer abc"},
        dataset=dataset,
    ).create()
    assert webhook.secret and webhook.secret.startswith("whsec_")
    assert webhook.headers == {"Authorization": "***"} and webhook.dataset_id == dataset.id
    assert webhook in client.webhooks.list()
    assert client.webhooks(webhook.id) == webhook  # type: ignore[arg-type]

    webhook.enabled = False
    webhook.events = ["record.deleted"]
    webhook.update()
    fetched = client.webhooks(webhook.id)  # type: ignore[arg-type]
    assert fetched is not None and not fetched.enabled and fetched.events == ["record.deleted"]
    assert fetched.headers == {"Authorization": "***"}  # the masked value sent back kept it
    old_secret = webhook.secret
    assert webhook.rotate_secret(grace_period_seconds=60).secret != old_secret
    webhook.enable()
    assert webhook.enabled
    webhook.ping()
    assert webhook.deliveries()[0]["event_type"] == "ping"
    webhook.delete()
    assert client.webhooks(webhook.id) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------- errors from the live server


def test_a_wrong_api_key_raises_authentication_error(server: LiveServer) -> None:
    with (
        rg.Quire(api_url=server.url, api_key="wrong-key-123") as client,
        pytest.raises(rg.AuthenticationError) as caught,
    ):
        client.workspaces.list()
    assert caught.value.status_code == 401


def test_a_missing_api_key_says_so(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUIRE_API_KEY", raising=False)
    with (
        rg.Quire(api_url=server.url) as client,
        pytest.raises(rg.AuthenticationError, match="no API key was sent"),
    ):
        client.datasets.list()


def test_an_annotator_gets_permission_denied(client: rg.Quire, server: LiveServer) -> None:
    key = f"key.{uuid.uuid4().hex}"
    rg.User(username=unique("ann"), password="secret-pass", api_key=key, client=client).create()
    with (
        rg.Quire(api_url=server.url, api_key=key) as annotator,
        pytest.raises(rg.PermissionDeniedError) as caught,
    ):
        rg.Workspace(name=unique("ws"), client=annotator).create()
    assert caught.value.status_code == 403 and caught.value.message


def test_not_found_conflict_and_validation(
    client: rg.Quire, dataset: rg.Dataset, workspace: rg.Workspace
) -> None:
    with pytest.raises(rg.NotFoundError) as not_found:
        client.http.get(f"/api/v1/datasets/{uuid.uuid4()}")
    assert not_found.value.status_code == 404 and "not found" in not_found.value.message.lower()

    with pytest.raises(rg.ConflictError) as conflict:
        rg.Dataset(name=dataset.name, workspace=workspace, settings=seed_settings(), client=client).create()
    assert conflict.value.status_code == 409 and dataset.name in conflict.value.message
    with pytest.raises(rg.ConflictError):
        workspace.delete()  # it still holds a dataset

    with pytest.raises(rg.ValidationError) as invalid:
        rg.User(username=unique("u"), password="short", client=client).create()
    assert invalid.value.status_code == 422 and "password" in invalid.value.message
