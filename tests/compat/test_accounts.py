"""Connecting, users and workspaces through the official argilla SDK against a live quire server."""

from __future__ import annotations

import argilla as rg
import pytest
from argilla._exceptions import ArgillaCredentialsError, ConflictError

from tests.compat.conftest import LiveServer, unique, user_with_key

pytestmark = pytest.mark.compat


def test_connect_and_me(client: rg.Argilla, quire_server: LiveServer) -> None:
    me = client.me
    assert me.username == "owner"
    assert me.role == "owner"
    assert me.id is not None
    assert client.api_url == quire_server.url


def test_bad_api_key_is_rejected(quire_server: LiveServer) -> None:
    with pytest.raises(ArgillaCredentialsError):
        rg.Argilla(api_url=quire_server.url, api_key="not-a-key")


def test_user_lifecycle(client: rg.Argilla) -> None:
    username = unique("user")
    user = rg.User(
        username=username,
        first_name="Ada",
        last_name="L",
        role="annotator",
        password="secret-pass",
        client=client,
    ).create()
    assert user.id is not None
    assert user.role == "annotator" and user.first_name == "Ada" and user.last_name == "L"

    assert username in {u.username for u in client.users.list()}
    assert username in {u.username for u in client.users}
    by_name = client.users(username)
    assert by_name is not None and by_name.id == user.id
    by_id = client.users(id=user.id)
    assert by_id is not None and by_id.username == username

    user.first_name = "Grace"
    user.last_name = "H"
    user.update()
    updated = client.users(id=user.id)
    assert updated is not None and (updated.first_name, updated.last_name) == ("Grace", "H")

    user.delete()
    assert username not in {u.username for u in client.users.list()}
    with pytest.warns(UserWarning, match="not found"):
        assert client.users(username) is None


def test_default_workspace_and_workspace_lifecycle(client: rg.Argilla) -> None:
    assert client.workspaces.default.name == "default"

    name = unique("ws")
    workspace = rg.Workspace(name=name, client=client).create()
    assert workspace.id is not None and workspace.name == name
    assert name in [w.name for w in client.workspaces.list()]
    assert name in [w.name for w in client.workspaces]

    found = client.workspaces(name)
    assert found is not None and found.id == workspace.id
    by_id = client.workspaces(id=workspace.id)
    assert by_id is not None and by_id.name == name
    # the default workspace is the first one listed; creating more does not change it
    assert client.workspaces.default.name == "default"
    assert workspace.datasets == []

    workspace.delete()
    assert name not in [w.name for w in client.workspaces.list()]


def test_workspace_membership(client: rg.Argilla, workspace: rg.Workspace) -> None:
    annotator, annotator_key = user_with_key(client)
    admin = rg.User(username=unique("adm"), role="admin", password="secret-pass", client=client).create()

    annotator.add_to_workspace(workspace)
    workspace.add_user(admin.username)
    members = {u.username for u in workspace.users}
    assert members == {annotator.username, admin.username}
    assert {u.username for u in client.users.list(workspace=workspace)} == members

    # members see the workspace through /me/workspaces; the annotator sees only its own
    as_annotator = rg.Argilla(api_url=client.api_url, api_key=annotator_key)
    assert [w.name for w in as_annotator.workspaces.list()] == [workspace.name]
    assert as_annotator.workspaces.default.name == workspace.name
    assert as_annotator.me.id == annotator.id and as_annotator.me.role == "annotator"

    annotator.remove_from_workspace(workspace)
    assert {u.username for u in workspace.users} == {admin.username}
    rg.Argilla._set_default(client)


def test_workspace_with_datasets_cannot_be_deleted(client: rg.Argilla, workspace: rg.Workspace) -> None:
    settings = rg.Settings(fields=[rg.TextField(name="t")], questions=[rg.TextQuestion(name="q")])
    dataset = rg.Dataset(name=unique("ds"), settings=settings, workspace=workspace, client=client).create()
    with pytest.raises(ConflictError, match="Cannot delete the workspace"):
        workspace.delete()
    dataset.delete()
    workspace.delete()
    assert workspace.name not in [w.name for w in client.workspaces]
