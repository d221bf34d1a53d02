"""Bulk record writes through the HTTP API: shapes, upsert matching, validation, atomicity."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from quire.server.db import Database
from quire.server.models import MetadataKey, RecordMetadataValue
from tests.conftest import Api
from tests.server.helpers import make_dataset, question_ids


async def _setup(api: Api, **kw: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    dataset = await make_dataset(api, vectors={"emb": 3}, **kw)
    me = await api.ok("GET", "/api/v1/me")
    return dataset, await question_ids(api, dataset["id"]), me


def _url(dataset: dict[str, Any]) -> str:
    return f"/api/v1/datasets/{dataset['id']}/records/bulk"


async def test_upsert_creates_records_with_everything(api: Api) -> None:
    dataset, q, me = await _setup(api)
    body = {
        "items": [
            {
                "id": None, "status": "pending", "inserted_at": None, "updated_at": None,  # the SDK sends these
                "external_id": "ext-1",
                "fields": {"text": "Bob works at ACME"},
                "metadata": {"lang": "en", "n": 3, "score": 0.5},
                "vectors": {"emb": [0.1, 0.2, 0.3]},
                "suggestions": [
                    {"question_id": q["label"], "value": "pos", "score": 0.9, "agent": "model-x", "type": "model",
                     "id": "2100b4ac-0000-0000-0000-000000000000", "question_name": "label"},
                    {"question_id": q["topics"], "value": ["a", "b"], "score": [0.5, 0.6]},
                    {"question_id": q["rank"], "value": [{"value": "r2"}, {"value": "r1"}, {"value": "r3"}]},
                    {"question_id": q["spans"], "value": [{"label": "PER", "start": 0, "end": 3}]},
                    {"question_name": "rating", "value": 4},
                ],
                "responses": [
                    {"user_id": me["id"], "status": "submitted",
                     "values": {"label": {"value": "neg"}, "rank": {"value": [{"value": "r1"}, {"value": "r2"}, {"value": "r3"}]}}}
                ],
            }
        ]
    }  # fmt: skip
    result = await api.ok("PUT", _url(dataset), json=body, status=200)
    [record] = result["items"]
    assert record["external_id"] == "ext-1"
    assert record["status"] == "completed"  # one submitted response, min_submitted=1
    assert record["inserted_at"] == record["updated_at"]
    assert record["vectors"] == {"emb": [0.1, 0.2, 0.3]}
    suggestions = {s["question_id"]: s for s in record["suggestions"]}
    assert suggestions[q["label"]]["value"] == "pos" and suggestions[q["label"]]["agent"] == "model-x"
    assert suggestions[q["topics"]]["score"] == [0.5, 0.6]
    assert suggestions[q["rating"]]["value"] == 4
    assert len({s["id"] for s in record["suggestions"]}) == 5  # client ids ignored
    [response] = record["responses"]
    # ranks follow list order when none are given (Argilla rejects this)
    assert response["values"]["rank"]["value"] == [
        {"value": "r1", "rank": 1}, {"value": "r2", "rank": 2}, {"value": "r3", "rank": 3}
    ]  # fmt: skip

    fetched = await api.ok("GET", f"/api/v1/records/{record['id']}")
    assert fetched["fields"] == {"text": "Bob works at ACME"}
    assert fetched["metadata"] == {"lang": "en", "n": 3, "score": 0.5}
    assert {s["id"] for s in fetched["suggestions"]} == set(s["id"] for s in record["suggestions"])
    assert fetched["vectors"] == {"emb": [0.1, 0.2, 0.3]}


async def test_upsert_matches_by_external_id_then_id_and_keeps_what_is_absent(api: Api) -> None:
    dataset, q, _ = await _setup(api)
    first = await api.ok(
        "PUT",
        _url(dataset),
        json={"items": [{"external_id": "a", "fields": {"text": "one"}, "metadata": {"lang": "en"},
                         "suggestions": [{"question_id": q["label"], "value": "pos"}]}]},
        status=200,
    )  # fmt: skip
    record = first["items"][0]
    # by external id: metadata absent keeps it, suggestions [] keeps them
    second = await api.ok(
        "PUT",
        _url(dataset),
        json={"items": [{"external_id": "a", "fields": {"text": "one, edited"}, "suggestions": []}]},
        status=200,
    )
    assert second["items"][0]["id"] == record["id"]
    assert second["updated_item_ids"] == [record["id"]]
    # by server id: a suggestion for another question is added next to the kept one
    await api.ok(
        "PUT",
        _url(dataset),
        json={"items": [{"id": record["id"], "suggestions": [{"question_id": q["rating"], "value": 2}]}]},
        status=200,
    )
    # two items of one batch may not target the same record
    response = await api.client.put(
        _url(dataset),
        json={"items": [{"external_id": "a"}, {"id": record["id"], "metadata": {"lang": "fr"}}]},
    )
    assert response.status_code == 422
    assert (
        response.json()["detail"]
        == "Record at position 1 is not valid because it targets the same record as position 0"
    )
    page = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records?include=suggestions")
    assert page["total"] == 1
    [stored] = page["items"]
    assert stored["fields"] == {"text": "one, edited"}
    assert stored["metadata"] == {"lang": "en"}
    assert sorted(s["value"] for s in stored["suggestions"] if s["question_id"] == q["label"]) == ["pos"]
    assert [s["value"] for s in stored["suggestions"] if s["question_id"] == q["rating"]] == [2]
    assert stored["updated_at"] > stored["inserted_at"]


async def test_bulk_with_one_bad_item_writes_nothing_and_names_position_question_and_allowed(
    api: Api,
) -> None:
    dataset, q, _ = await _setup(api)
    good = {"external_id": "good", "fields": {"text": "fine"}}
    bad = {
        "external_id": "bad",
        "fields": {"text": "x"},
        "suggestions": [{"question_id": q["label"], "value": "maybe"}],
    }
    response = await api.client.put(_url(dataset), json={"items": [good, good | {"external_id": "g2"}, bad]})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("Record at position 2 is not valid because")
    assert "'label'" in detail and "'maybe' is not a valid label" in detail and "['pos', 'neg']" in detail
    page = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records")
    assert page == {"items": [], "total": 0}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"fields": {}}, "fields cannot be empty"),
        ({"fields": {"nope": "x"}}, "non configured fields: ['nope']"),
        ({"fields": {"text": ["not", "text"]}}, "text field 'text' value must be a string"),
        ({"fields": {"text": "x"}, "metadata": {"lang": "de"}}, "'de' is not an allowed term"),
        ({"fields": {"text": "x"}, "metadata": {"n": 2000}}, "greater than the maximum value of '1000'"),
        ({"fields": {"text": "x"}, "metadata": {"n": 1.5}}, "is not an integer"),
        ({"fields": {"text": "x"}, "metadata": {"other": 1}}, "extra metadata is not allowed"),
        ({"fields": {"text": "x"}, "vectors": {"emb": [1, 2]}}, "must have 3 elements, got 2"),
        ({"fields": {"text": "x"}, "vectors": {"nope": [1, 2, 3]}}, "vector with name=nope does not exist"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "rating", "value": 9}]}, "9 is not a valid rating"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "nope", "value": 1}]}, "question 'nope' does not exist"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "label", "value": "pos", "score": [0.1]}]},
         "list of score values is not allowed"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "topics", "value": ["a"], "score": [0.1, 0.2]}]},
         "doesn't match"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "spans", "value": [{"label": "PER", "start": 0, "end": 5}]}]},
         "`end` must have a value lower or equal than record field `text` length that is `1`"),
        ({"fields": {"text": "hello"}, "suggestions": [{"question_name": "spans", "value": [
            {"label": "PER", "start": 0, "end": 3}, {"label": "ORG", "start": 2, "end": 4}]}]}, "overlapping values"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "label", "value": "pos"}, {"question_name": "label", "value": "neg"}]},
         "question 'label': found duplicate suggestions"),
        ({"fields": {"text": "x"}, "suggestions": [{"value": "pos"}]}, "a suggestion needs `question_id` (or `question_name`)"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "", "value": "pos"}]}, "a suggestion needs `question_id`"),
        ({"fields": {"text": "x"}, "suggestions": [{"question_name": "label", "value": None}]},
         "question 'label': a suggestion needs a `value`"),
    ],
)  # fmt: skip
async def test_invalid_items_are_rejected_with_reason(api: Api, item: dict[str, Any], expected: str) -> None:
    dataset, _, _ = await _setup(api)
    response = await api.client.put(_url(dataset), json={"items": [item]})
    assert response.status_code == 422, response.text
    assert expected in response.json()["detail"], response.json()


async def test_schema_errors_point_at_the_item(api: Api) -> None:
    dataset, q, _ = await _setup(api)
    item = {
        "fields": {"text": "x"},
        "suggestions": [{"question_id": q["label"], "value": "pos", "score": 1.5}],
    }
    response = await api.client.put(_url(dataset), json={"items": [{"fields": {"text": "ok"}}, item]})
    assert response.status_code == 422
    params = response.json()["detail"]["params"]
    assert params["errors"][0]["loc"] == ["body", "items", 1, "suggestions", 0, "score"]
    assert "items[1].suggestions[0].score" in params["message"]
    response = await api.client.put(_url(dataset), json={"items": []})
    assert response.status_code == 422
    response = await api.client.put(_url(dataset), content=b"{not json")
    assert response.status_code == 422


async def test_response_rules(api: Api) -> None:
    dataset, _, me = await _setup(api)
    cases = [
        ({"user_id": me["id"], "status": "submitted", "values": {}}, "missing response values for submitted response"),
        ({"user_id": me["id"], "status": "submitted", "values": {"rating": {"value": 3}}},
         "missing response value for required question with name='label'"),
        ({"user_id": str(uuid.uuid4()), "status": "draft", "values": {"label": {"value": "pos"}}}, "not found"),
        ({"user_id": me["id"], "status": "submitted", "values": {"label": {"value": "pos"}, "rank": {"value": [{"value": "r1"}]}}},
         "ranking question expects a list containing 3 values"),
    ]  # fmt: skip
    for response_body, expected in cases:
        item = {"fields": {"text": "x"}, "responses": [response_body]}
        response = await api.client.put(_url(dataset), json={"items": [item]})
        assert response.status_code == 422, response_body
        assert expected in response.json()["detail"]
    # a draft may be partial; a discarded response needs no values
    item = {
        "fields": {"text": "x"},
        "responses": [{"user_id": me["id"], "status": "draft", "values": {"rating": {"value": 3}}}],
    }
    record = (await api.ok("PUT", _url(dataset), json={"items": [item]}, status=200))["items"][0]
    assert record["status"] == "pending"
    item = {"id": record["id"], "responses": [{"user_id": me["id"], "status": "discarded"}]}
    record = (await api.ok("PUT", _url(dataset), json={"items": [item]}, status=200))["items"][0]
    assert [r["status"] for r in record["responses"]] == ["discarded"]


async def test_post_bulk_creates_only_in_published_datasets(api: Api) -> None:
    draft = await make_dataset(api, publish=False)
    response = await api.client.post(_url(draft), json={"items": [{"fields": {"text": "x"}}]})
    assert response.json() == {"detail": "records cannot be created for a non published dataset"}
    # upsert does not need a published dataset (as in Argilla)
    await api.ok("PUT", _url(draft), json={"items": [{"fields": {"text": "x"}}]}, status=200)

    dataset, _, _ = await _setup(api)
    created = await api.ok(
        "POST", _url(dataset), json={"items": [{"external_id": "e1", "fields": {"text": "x"}}]}
    )
    assert created["items"][0]["external_id"] == "e1"
    response = await api.client.post(
        _url(dataset), json={"items": [{"external_id": "e1", "fields": {"text": "y"}}]}
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "found records with same external ids: e1"}


async def test_duplicates_within_a_batch_are_rejected(api: Api) -> None:
    dataset, _, _ = await _setup(api)
    items = [
        {"external_id": "same", "fields": {"text": "a"}},
        {"external_id": "same", "fields": {"text": "b"}},
    ]
    response = await api.client.put(_url(dataset), json={"items": items})
    assert response.status_code == 422
    assert "same external ids in the batch: same" in response.json()["detail"]


async def test_batch_limit(api: Api) -> None:
    dataset, _, _ = await _setup(api)
    items = [{"fields": {"text": str(i)}} for i in range(501)]
    response = await api.client.put(_url(dataset), json={"items": items})
    assert response.status_code == 422
    assert "at most 500 records" in response.json()["detail"]


async def test_client_supplied_id_is_used_for_new_records_but_not_across_datasets(api: Api) -> None:
    dataset, _, _ = await _setup(api)
    other, _, _ = await _setup(api)
    record_id = str(uuid.uuid4())
    created = await api.ok(
        "PUT", _url(dataset), json={"items": [{"id": record_id, "fields": {"text": "x"}}]}, status=200
    )
    assert created["items"][0]["id"] == record_id
    # The same id sent to another dataset (a record copied between datasets, as the argilla SDK does):
    # a new record with an id of its own; the original is untouched.
    for method in ("PUT", "POST"):
        copied = await api.ok(
            method,
            _url(other),
            json={"items": [{"id": record_id, "external_id": f"copy-{method}", "fields": {"text": "y"}}]},
            status=200 if method == "PUT" else 201,
        )
        if method == "PUT":
            item = copied["items"][0]
            assert item["id"] != record_id
            assert item["dataset_id"] == other["id"]
            assert item["fields"] == {"text": "y"}
    listed = await api.ok("GET", f"/api/v1/datasets/{other['id']}/records")
    assert sorted(r["external_id"] for r in listed["items"]) == ["copy-POST", "copy-PUT"]
    assert record_id not in {r["id"] for r in listed["items"]}
    original = await api.ok("GET", f"/api/v1/records/{record_id}")
    assert original["dataset_id"] == dataset["id"]
    assert original["fields"] == {"text": "x"}
    # Sent again with the same external id, the copy is updated, not duplicated.
    again = await api.ok(
        "PUT",
        _url(other),
        json={"items": [{"id": record_id, "external_id": "copy-PUT", "fields": {"text": "z"}}]},
        status=200,
    )
    assert again["items"][0]["fields"] == {"text": "z"}
    listed = await api.ok("GET", f"/api/v1/datasets/{other['id']}/records")
    assert listed["total"] == 2


async def test_annotators_cannot_write_records(api: Api) -> None:
    dataset, _, _ = await _setup(api)
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    response = await api.as_user(annotator["api_key"]).put(
        _url(dataset), json={"items": [{"fields": {"text": "x"}}]}
    )
    assert response.status_code == 403


async def test_a_body_that_is_not_json_or_not_utf8_is_a_422_and_writes_nothing(api: Api) -> None:
    dataset, _, _ = await _setup(api)
    for body in (b"\xff\xfe{", b'{"items": [', b"\x15\x9c\x16}"):
        for method in ("PUT", "POST"):
            response = await api.client.request(
                method, _url(dataset), content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, (body, response.text)
            assert "JSON decode error" in response.text
    listed = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records")
    assert listed["total"] == 0


async def test_a_batch_with_more_metadata_names_than_a_statement_takes_parameters(api: Api) -> None:
    """Each metadata name gets its number in the dataset; 40,000 distinct names in one batch are
    more than a PostgreSQL statement takes parameters (32,767)."""
    dataset = await make_dataset(api, metadata={}, allow_extra_metadata=True)
    items = [
        {"external_id": f"r{i}", "fields": {"text": "t"}, "metadata": {f"m{i}-{k}": k for k in range(400)}}
        for i in range(100)
    ]
    written = await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items})
    assert [len(item["metadata"]) for item in written["items"]] == [400] * 100
    await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset['id']}/metadata-properties",
        json={"name": "m7-3", "title": "m7-3", "settings": {"type": "integer"}},
    )
    body = {
        "filters": {
            "and": [{"type": "range", "scope": {"entity": "metadata", "metadata_property": "m7-3"}, "ge": 3}]
        }
    }
    found = await api.ok("POST", f"/api/v1/datasets/{dataset['id']}/records/search", json=body, status=200)
    assert [item["record"]["external_id"] for item in found["items"]] == ["r7"]


async def test_responses_of_more_unknown_users_than_a_statement_takes_parameters_are_a_422(api: Api) -> None:
    """Users of responses are looked up in chunks: 40,000 distinct ids in one batch name the first
    record with an unknown one instead of overflowing a PostgreSQL statement's parameters."""
    dataset = await make_dataset(api)
    items = [
        {
            "external_id": f"r{i}",
            "fields": {"text": "t"},
            "responses": [{"user_id": str(uuid.uuid4()), "status": "discarded"} for _ in range(400)],
        }
        for i in range(100)
    ]
    response = await api.client.put(f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items})
    assert response.status_code == 422, response.text
    assert "Record at position 0" in response.json()["detail"] and "not found" in response.json()["detail"]
    stored = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records")
    assert stored["items"] == []


async def test_concurrent_batches_number_each_new_metadata_name_once(api: Api, database: Database) -> None:
    """Two batches that bring the same new metadata names at once both succeed, and each name gets
    one number (PostgreSQL: the second insert waits for the first and skips)."""
    dataset = await make_dataset(api, metadata={}, allow_extra_metadata=True)
    url = f"/api/v1/datasets/{dataset['id']}/records/bulk"

    def batch(tag: str) -> dict[str, Any]:
        return {
            "items": [
                {
                    "external_id": f"{tag}{i}",
                    "fields": {"text": "t"},
                    "metadata": {f"k{j}": i for j in range(20)},
                }
                for i in range(50)
            ]
        }

    replies = await asyncio.gather(*(api.client.put(url, json=batch(tag)) for tag in "abcd"))
    assert [reply.status_code for reply in replies] == [200] * 4
    async with database.session(write=False) as session:
        names = list(
            await session.scalars(
                select(MetadataKey.name).where(MetadataKey.dataset_id == uuid.UUID(dataset["id"]))
            )
        )
        rows = await session.scalar(
            select(func.count())
            .select_from(RecordMetadataValue)
            .join(MetadataKey, MetadataKey.id == RecordMetadataValue.key_id)
            .where(MetadataKey.dataset_id == uuid.UUID(dataset["id"]))
        )
    assert sorted(names) == sorted(f"k{j}" for j in range(20))
    assert rows == 4 * 50 * 20
