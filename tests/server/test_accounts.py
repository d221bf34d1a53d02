"""Users, workspaces and membership through the HTTP API, with Argilla's shapes and roles."""

from __future__ import annotations

import uuid

from tests.conftest import OWNER_KEY, Api
from tests.server.helpers import make_dataset


async def test_me_returns_the_owner_and_its_key(api: Api) -> None:
    me = await api.ok("GET", "/api/v1/me")
    assert me["username"] == "owner"
    assert me["role"] == "owner"
    assert me["api_key"] == OWNER_KEY
    assert set(me) >= {"id", "first_name", "last_name", "username", "role", "inserted_at", "updated_at"}
    # Argilla's wire format: naive UTC ISO timestamps with microseconds, equal on a fresh row
    assert me["inserted_at"] == me["updated_at"]
    assert "+" not in me["inserted_at"] and len(me["inserted_at"]) == 26


async def test_missing_or_unknown_api_key_is_401_with_argilla_body(api: Api) -> None:
    anonymous = api.as_user("")
    anonymous.headers.pop("X-Argilla-Api-Key")
    response = await anonymous.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "argilla.api.errors::UnauthorizedError"

    response = await api.as_user("not-a-key").get("/api/v1/me")
    assert response.status_code == 401
    assert "unknown API key" in response.json()["detail"]["params"]["detail"]


async def test_valid_key_wins_over_a_foreign_bearer_token(api: Api) -> None:
    client = api.as_user(OWNER_KEY)
    response = await client.get("/api/v1/me", headers={"Authorization": "Bearer hf_something_else"})
    assert response.status_code == 200
    # and an API key in a bearer header alone is accepted too
    bare = api.as_user("")
    bare.headers.pop("X-Argilla-Api-Key")
    response = await bare.get("/api/v1/me", headers={"Authorization": f"Bearer {OWNER_KEY}"})
    assert response.status_code == 200


async def test_user_lifecycle_and_api_key_shown_once(api: Api) -> None:
    created = await api.ok(
        "POST",
        "/api/v1/users",
        json={"username": "ann", "first_name": "Ann", "password": "12345678", "role": "annotator"},
    )
    assert created["api_key"]
    assert created["role"] == "annotator"
    fetched = await api.ok("GET", f"/api/v1/users/{created['id']}")
    assert fetched["api_key"] is None  # stored hashed: never returned again
    me = await api.as_user(created["api_key"]).get("/api/v1/me")
    assert me.json()["username"] == "ann"

    updated = await api.ok(
        "PATCH", f"/api/v1/users/{created['id']}", json={"first_name": "Annie", "role": "admin"}
    )
    assert (updated["first_name"], updated["role"]) == ("Annie", "admin")
    assert updated["updated_at"] > updated["inserted_at"]

    users = await api.ok("GET", "/api/v1/users")
    assert {u["username"] for u in users["items"]} == {"owner", "ann"}
    await api.ok("DELETE", f"/api/v1/users/{created['id']}")
    response = await api.client.get(f"/api/v1/users/{created['id']}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"User with id `{created['id']}` not found"}


async def test_duplicate_username_is_409_and_short_password_is_422(api: Api) -> None:
    body = {"username": "dup", "first_name": "D", "password": "12345678"}
    await api.ok("POST", "/api/v1/users", json=body)
    response = await api.client.post("/api/v1/users", json=body)
    assert response.status_code == 409
    assert response.json() == {"detail": "User username `dup` is not unique"}

    response = await api.client.post("/api/v1/users", json={**body, "username": "x", "password": "short"})
    assert response.status_code == 422
    params = response.json()["detail"]["params"]
    assert params["errors"][0]["loc"] == ["body", "password"]
    assert params["message"].startswith("password:")


async def test_owner_cannot_delete_itself(api: Api) -> None:
    me = await api.ok("GET", "/api/v1/me")
    response = await api.client.delete(f"/api/v1/users/{me['id']}")
    assert response.status_code == 422


async def test_workspaces_membership_and_roles(api: Api) -> None:
    workspace = await api.ok("POST", "/api/v1/workspaces", json={"name": "team-a"})
    assert set(workspace) == {"id", "name", "inserted_at", "updated_at"}
    response = await api.client.post("/api/v1/workspaces", json={"name": "team-a"})
    assert response.status_code == 409

    admin = await api.create_user("admin", workspace_id=workspace["id"])
    annotator = await api.create_user("annotator")
    admin_client = api.as_user(admin["api_key"])
    annotator_client = api.as_user(annotator["api_key"])

    # membership is visible through /me/workspaces and workspace users
    mine = (await admin_client.get("/api/v1/me/workspaces")).json()["items"]
    assert [w["name"] for w in mine] == ["team-a"]
    assert (await annotator_client.get("/api/v1/me/workspaces")).json() == {"items": []}
    members = (await admin_client.get(f"/api/v1/workspaces/{workspace['id']}/users")).json()["items"]
    assert [m["username"] for m in members] == [admin["username"]]

    # non-owners cannot create workspaces or users; non-members cannot read the workspace
    forbidden = await admin_client.post("/api/v1/workspaces", json={"name": "nope"})
    assert forbidden.status_code == 403
    assert forbidden.json()["detail"]["code"] == "argilla.api.errors::ForbiddenOperationError"
    assert (await annotator_client.get(f"/api/v1/workspaces/{workspace['id']}")).status_code == 403
    assert (await admin_client.get("/api/v1/users")).status_code == 403

    # the SDK's path form of "add user" works too; adding twice conflicts
    added = await api.ok("POST", f"/api/v1/workspaces/{workspace['id']}/users/{annotator['id']}")
    assert added["id"] == annotator["id"]
    again = await api.client.post(
        f"/api/v1/workspaces/{workspace['id']}/users", json={"user_id": annotator["id"]}
    )
    assert again.status_code == 409
    assert (await annotator_client.get(f"/api/v1/workspaces/{workspace['id']}")).status_code == 200

    # an admin member can remove members
    removed = await admin_client.delete(f"/api/v1/workspaces/{workspace['id']}/users/{annotator['id']}")
    assert removed.status_code == 200
    workspaces = await api.ok("GET", f"/api/v1/users/{annotator['id']}/workspaces")
    assert workspaces == {"items": []}


async def test_unknown_workspace_user_is_422_and_unknown_workspace_is_404(api: Api) -> None:
    workspace = await api.default_workspace()
    response = await api.client.post(
        f"/api/v1/workspaces/{workspace['id']}/users", json={"user_id": str(uuid.uuid4())}
    )
    assert response.status_code == 422
    response = await api.client.get(f"/api/v1/workspaces/{uuid.uuid4()}")
    assert response.status_code == 404


async def test_workspace_with_datasets_cannot_be_deleted(api: Api) -> None:
    workspace = await api.ok("POST", "/api/v1/workspaces", json={"name": "empty"})
    await api.ok("DELETE", f"/api/v1/workspaces/{workspace['id']}")
    assert (await api.client.get(f"/api/v1/workspaces/{workspace['id']}")).status_code == 404


async def test_deleting_a_user_recomputes_the_status_of_records_it_completed(api: Api) -> None:
    dataset = await make_dataset(api)
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    me = await api.ok("GET", "/api/v1/me")

    def item(external_id: str, *user_ids: str) -> dict[str, object]:
        responses = [
            {"user_id": u, "status": "submitted", "values": {"label": {"value": "pos"}}} for u in user_ids
        ]
        return {"external_id": external_id, "fields": {"text": external_id}, "responses": responses}

    written = await api.ok(
        "PUT",
        f"/api/v1/datasets/{dataset['id']}/records/bulk",
        json={"items": [item("only-theirs", annotator["id"]), item("both", annotator["id"], me["id"])]},
        status=200,
    )
    assert [r["status"] for r in written["items"]] == ["completed", "completed"]

    await api.ok("DELETE", f"/api/v1/users/{annotator['id']}")

    records = (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records?include=responses"))["items"]
    by_external = {r["external_id"]: r for r in records}
    assert by_external["only-theirs"]["status"] == "pending"  # its only submitted response is gone
    assert by_external["only-theirs"]["responses"] == []
    assert by_external["both"]["status"] == "completed"
    progress = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/progress")
    assert (progress["total"], progress["completed"], progress["pending"]) == (2, 1, 1)
