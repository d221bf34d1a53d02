"""Responses, record status under the overlap distribution, progress, and suggestions endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api
from tests.server.helpers import make_dataset, question_ids


async def _record(api: Api, dataset: dict[str, Any], text: str = "hello world") -> dict[str, Any]:
    result = await api.ok(
        "PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": [{"fields": {"text": text}}]}
    )
    return dict(result["items"][0])


async def _status(api: Api, record_id: str) -> str:
    return str((await api.ok("GET", f"/api/v1/records/{record_id}"))["status"])


async def test_response_lifecycle_moves_record_status_both_ways(api: Api) -> None:
    dataset = await make_dataset(api, min_submitted=2)
    record = await _record(api, dataset)
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    annotator_client = api.as_user(annotator["api_key"])

    mine = await api.ok(
        "POST",
        f"/api/v1/records/{record['id']}/responses",
        json={"status": "submitted", "values": {"label": {"value": "pos"}}},
    )
    assert set(mine) == {"id", "values", "status", "record_id", "user_id", "inserted_at", "updated_at"}
    assert await _status(api, record["id"]) == "pending"  # 1 of 2 submitted

    theirs = await annotator_client.post(
        f"/api/v1/records/{record['id']}/responses",
        json={"status": "submitted", "values": {"label": {"value": "neg"}}},
    )
    assert theirs.status_code == 201
    assert await _status(api, record["id"]) == "completed"

    # discarding one of them sends the record back to pending
    discarded = await annotator_client.put(
        f"/api/v1/responses/{theirs.json()['id']}", json={"status": "discarded"}
    )
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert await _status(api, record["id"]) == "pending"

    # a second response by the same user is a conflict; someone else's response is off limits
    again = await annotator_client.post(f"/api/v1/records/{record['id']}/responses", json={"status": "draft"})
    assert again.status_code == 409
    assert (await annotator_client.delete(f"/api/v1/responses/{mine['id']}")).status_code == 403

    progress = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/progress")
    assert progress == {"total": 1, "completed": 0, "pending": 1, "users": []}
    users = (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/users/progress"))["users"]
    by_name = {u["username"]: u for u in users}
    assert by_name["owner"]["pending"] == {"submitted": 1, "discarded": 0, "draft": 0}
    assert by_name[annotator["username"]]["pending"] == {"submitted": 0, "discarded": 1, "draft": 0}

    await api.ok("DELETE", f"/api/v1/responses/{mine['id']}")
    assert (await api.client.get(f"/api/v1/responses/{mine['id']}")).status_code in (404, 405)


async def test_distribution_change_recomputes_statuses(api: Api) -> None:
    dataset = await make_dataset(api, min_submitted=2)
    record = await _record(api, dataset)
    await api.ok(
        "POST",
        f"/api/v1/records/{record['id']}/responses",
        json={"status": "submitted", "values": {"label": {"value": "pos"}}},
    )
    assert await _status(api, record["id"]) == "pending"
    await api.ok(
        "PATCH",
        f"/api/v1/datasets/{dataset['id']}",
        json={"distribution": {"strategy": "overlap", "min_submitted": 1}},
    )
    assert await _status(api, record["id"]) == "completed"
    progress = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/progress")
    assert (progress["completed"], progress["pending"]) == (1, 0)


async def test_submitted_ranking_without_ranks_is_accepted(api: Api) -> None:
    dataset = await make_dataset(api)
    record = await _record(api, dataset)
    values = {
        "label": {"value": "pos"},
        "rank": {"value": [{"value": "r3"}, {"value": "r1"}, {"value": "r2"}]},
    }
    response = await api.ok(
        "POST", f"/api/v1/records/{record['id']}/responses", json={"status": "submitted", "values": values}
    )
    assert response["values"]["rank"]["value"] == [
        {"value": "r3", "rank": 1}, {"value": "r1", "rank": 2}, {"value": "r2", "rank": 3}
    ]  # fmt: skip
    bad = await api.client.put(
        f"/api/v1/responses/{response['id']}",
        json={"status": "submitted", "values": {"label": {"value": "pos"}, "rank": {"value": [{"value": "r1", "rank": 9}, {"value": "r2", "rank": 1}, {"value": "r3", "rank": 2}]}}},
    )  # fmt: skip
    assert bad.status_code == 422
    assert "[9] are not valid ranks" in bad.json()["detail"]


async def test_invalid_response_values_name_question_and_allowed(api: Api) -> None:
    dataset = await make_dataset(api)
    record = await _record(api, dataset, text="abc")
    url = f"/api/v1/records/{record['id']}/responses"
    cases = [
        (
            {"status": "submitted", "values": {"label": {"value": "meh"}}},
            "question 'label': 'meh' is not a valid label",
        ),
        ({"status": "draft", "values": {"topics": {"value": []}}}, "found empty list"),
        ({"status": "draft", "values": {"rating": {"value": "4"}}}, "'4' is not a valid rating"),
        (
            {"status": "draft", "values": {"spans": {"value": [{"label": "PER", "start": 0, "end": 9}]}}},
            "length that is `3`",
        ),
        (
            {"status": "draft", "values": {"spans": {"value": [{"label": "PER", "start": -1, "end": 2}]}}},
            "`start` must be 0 or more (start=-1)",
        ),
        (
            {"status": "draft", "values": {"spans": {"value": [{"label": "PER", "start": 2, "end": 1}]}}},
            "`end` must be greater than `start` (start=2, end=1)",
        ),
        ({"status": "draft", "values": {"nope": {"value": 1}}}, "non configured question with name='nope'"),
    ]
    for body, expected in cases:
        response = await api.client.post(url, json=body)
        assert response.status_code == 422, body
        assert expected in response.json()["detail"], response.json()
    # a bare value instead of {"value": ...} fails the request schema, at that key
    response = await api.client.post(url, json={"status": "draft", "values": {"label": "pos"}})
    assert response.status_code == 422
    assert (
        response.json()["detail"]["params"]["message"] == "values.label: Input should be a valid dictionary"
    )


async def test_my_responses_bulk_reports_each_item(api: Api) -> None:
    dataset = await make_dataset(api)
    first = await _record(api, dataset, "one")
    second = await _record(api, dataset, "two")
    items = [
        {"record_id": first["id"], "status": "submitted", "values": {"label": {"value": "pos"}}},
        {"record_id": second["id"], "status": "submitted", "values": {"label": {"value": "bad"}}},
        {"record_id": str(uuid.uuid4()), "status": "draft", "values": {}},
    ]
    result = (await api.ok("POST", "/api/v1/me/responses/bulk", json={"items": items}, status=200))["items"]
    assert result[0]["item"]["status"] == "submitted" and result[0]["error"] is None
    assert result[1]["item"] is None and "'bad' is not a valid label" in result[1]["error"]["detail"]
    assert result[2]["item"] is None and result[2]["error"]["status"] == 404
    assert await _status(api, first["id"]) == "completed"
    # the same call again updates rather than duplicates
    result = (await api.ok("POST", "/api/v1/me/responses/bulk", json={"items": items[:1]}, status=200))[
        "items"
    ]
    assert result[0]["item"]["id"] is not None
    record = await api.ok("GET", f"/api/v1/records/{first['id']}")
    assert len(record["responses"]) == 1


async def test_annotators_see_only_their_own_responses(api: Api) -> None:
    dataset = await make_dataset(api)
    record = await _record(api, dataset)
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    client = api.as_user(annotator["api_key"])
    await api.ok("POST", f"/api/v1/records/{record['id']}/responses", json={"status": "draft", "values": {}})
    await client.post(f"/api/v1/records/{record['id']}/responses", json={"status": "draft", "values": {}})
    seen = (await client.get(f"/api/v1/records/{record['id']}")).json()["responses"]
    assert [r["user_id"] for r in seen] == [annotator["id"]]
    assert len((await api.ok("GET", f"/api/v1/records/{record['id']}"))["responses"]) == 2
    # annotators cannot list all records with everyone's responses
    assert (await client.get(f"/api/v1/datasets/{dataset['id']}/records")).status_code == 403


async def test_suggestions_endpoints(api: Api) -> None:
    dataset = await make_dataset(api)
    q = await question_ids(api, dataset["id"])
    record = await _record(api, dataset)
    url = f"/api/v1/records/{record['id']}/suggestions"
    created = await api.ok(
        "PUT", url, json={"question_id": q["label"], "value": "pos", "score": 0.7, "agent": "m1"}, status=201
    )
    replaced = await api.ok(
        "PUT",
        url,
        json={"question_id": q["label"], "value": "neg", "agent": "m2", "type": "human"},
        status=200,
    )
    assert replaced["id"] == created["id"] and replaced["value"] == "neg" and replaced["type"] == "human"
    rating = await api.ok("PUT", url, json={"question_id": q["rating"], "value": 5}, status=201)
    assert [s["value"] for s in (await api.ok("GET", url))["items"]] == ["neg", 5]
    bad = await api.client.put(url, json={"question_id": q["rating"], "value": 7})
    assert bad.status_code == 422 and "7 is not a valid rating" in bad.json()["detail"]

    await api.ok("DELETE", f"{url}?ids={rating['id']}", status=204)
    await api.ok("DELETE", f"/api/v1/suggestions/{created['id']}")
    assert (await api.ok("GET", url))["items"] == []


async def test_patch_record_replaces_suggestions_and_updates_fields(api: Api) -> None:
    dataset = await make_dataset(api, vectors={"emb": 2})
    q = await question_ids(api, dataset["id"])
    record = await _record(api, dataset)
    await api.ok(
        "PUT",
        f"/api/v1/records/{record['id']}/suggestions",
        json={"question_id": q["label"], "value": "pos"},
        status=201,
    )
    patched = await api.ok(
        "PATCH",
        f"/api/v1/records/{record['id']}",
        json={"metadata": {"lang": "fr"}, "vectors": {"emb": [1.0, 0.0]}, "suggestions": [{"question_id": q["rating"], "value": 3}]},
    )  # fmt: skip
    assert patched["metadata"] == {"lang": "fr"}
    assert [s["question_id"] for s in patched["suggestions"]] == [q["rating"]]
    assert patched["vectors"] == {"emb": [1.0, 0.0]}
    fetched = await api.ok("GET", f"/api/v1/records/{record['id']}")
    assert [s["value"] for s in fetched["suggestions"]] == [3]
    bad = await api.client.patch(f"/api/v1/records/{record['id']}", json={"fields": {"text": ["x"]}})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("Record is not valid because text field 'text'")

    deleted = await api.ok("DELETE", f"/api/v1/records/{record['id']}")
    assert deleted["id"] == record["id"]
    assert (await api.client.get(f"/api/v1/records/{record['id']}")).status_code == 404


async def test_delete_records_by_ids(api: Api) -> None:
    dataset = await make_dataset(api)
    ids = [(await _record(api, dataset, str(i)))["id"] for i in range(3)]
    await api.ok("DELETE", f"/api/v1/datasets/{dataset['id']}/records?ids={ids[0]},{ids[1]}", status=204)
    page = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records")
    assert [r["id"] for r in page["items"]] == [ids[2]]
    bad = await api.client.delete(f"/api/v1/datasets/{dataset['id']}/records?ids=nope")
    assert bad.status_code == 422
