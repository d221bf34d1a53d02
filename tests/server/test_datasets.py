"""Datasets and their settings through the HTTP API."""

from __future__ import annotations

import uuid

from tests.conftest import Api
from tests.server.helpers import METADATA, QUESTIONS, make_dataset


async def test_sdk_style_creation_of_every_setting_type(api: Api) -> None:
    dataset = await make_dataset(api, vectors={"emb": 3})
    assert dataset["status"] == "ready"
    assert dataset["allow_extra_metadata"] is False
    assert dataset["distribution"] == {"strategy": "overlap", "min_submitted": 1}
    dataset_id = dataset["id"]

    questions = (await api.ok("GET", f"/api/v1/datasets/{dataset_id}/questions"))["items"]
    assert [q["name"] for q in questions] == list(QUESTIONS)
    by_name = {q["name"]: q for q in questions}
    assert by_name["topics"]["settings"]["options_order"] == "natural"
    assert by_name["spans"]["settings"]["allow_overlapping"] is False
    assert by_name["label"]["required"] is True and by_name["comment"]["required"] is False
    assert set(by_name["label"]) == {
        "id",
        "name",
        "title",
        "description",
        "required",
        "settings",
        "dataset_id",
        "inserted_at",
        "updated_at",
    }

    fields = (await api.ok("GET", f"/api/v1/datasets/{dataset_id}/fields"))["items"]
    assert fields[0]["settings"] == {"type": "text", "use_markdown": False}
    metadata = (await api.ok("GET", f"/api/v1/me/datasets/{dataset_id}/metadata-properties"))["items"]
    assert {m["name"]: m["settings"] for m in metadata} == {
        "lang": {"type": "terms", "values": ["en", "es", "fr"]},
        "n": {"type": "integer", "min": 0, "max": 1000},
        "score": {"type": "float", "min": None, "max": None},
    }
    vectors = (await api.ok("GET", f"/api/v1/datasets/{dataset_id}/vectors-settings"))["items"]
    assert [(v["name"], v["dimensions"]) for v in vectors] == [("emb", 3)]


async def test_sdk_extra_keys_are_ignored(api: Api) -> None:
    dataset = await make_dataset(api, publish=False, questions={}, metadata={})
    body = {
        "name": "lang",
        "title": "lang",
        "settings": {"visible_for_annotators": True, "type": "terms", "values": ["en"]},
        "visible_for_annotators": True,
        "dataset_id": dataset["id"],
        "description": None,
    }
    prop = await api.ok("POST", f"/api/v1/datasets/{dataset['id']}/metadata-properties", json=body)
    assert prop["settings"] == {"type": "terms", "values": ["en"]}


async def test_publish_requires_a_field_and_a_required_question(api: Api) -> None:
    no_questions = await make_dataset(api, publish=False, questions={})
    response = await api.client.put(f"/api/v1/datasets/{no_questions['id']}/publish")
    assert response.status_code == 422
    assert response.json() == {"detail": "Dataset cannot be published without required questions"}

    optional_only = await make_dataset(api, publish=False, questions={"c": QUESTIONS["comment"]}, required=())
    response = await api.client.put(f"/api/v1/datasets/{optional_only['id']}/publish")
    assert response.status_code == 422

    no_fields = await make_dataset(
        api, publish=False, fields=(), questions={"c": QUESTIONS["comment"]}, required=("c",)
    )
    response = await api.client.put(f"/api/v1/datasets/{no_fields['id']}/publish")
    assert response.json() == {"detail": "Dataset cannot be published without fields"}

    published = await make_dataset(api)
    response = await api.client.put(f"/api/v1/datasets/{published['id']}/publish")
    assert response.status_code == 422
    assert response.json() == {"detail": "Dataset is already published"}


async def test_published_dataset_freezes_fields_and_questions(api: Api) -> None:
    dataset = await make_dataset(api)
    dataset_id = dataset["id"]
    response = await api.client.post(
        f"/api/v1/datasets/{dataset_id}/fields",
        json={"name": "x", "title": "x", "settings": {"type": "text"}},
    )
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "Field cannot be created for a published dataset"},
    )
    response = await api.client.post(
        f"/api/v1/datasets/{dataset_id}/questions",
        json={"name": "q", "title": "q", "settings": QUESTIONS["comment"]},
    )
    assert response.status_code == 422
    field_id = (await api.ok("GET", f"/api/v1/datasets/{dataset_id}/fields"))["items"][0]["id"]
    assert (await api.client.delete(f"/api/v1/fields/{field_id}")).status_code == 422
    # metadata and vectors can still be added after publishing
    await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset_id}/metadata-properties",
        json={"name": "late", "title": "late", "settings": {"type": "integer"}},
    )
    await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset_id}/vectors-settings",
        json={"name": "v", "title": "v", "dimensions": 2},
    )


async def test_invalid_settings_are_422_with_reason(api: Api) -> None:
    dataset = await make_dataset(api, publish=False, questions={}, metadata={})
    url = f"/api/v1/datasets/{dataset['id']}/questions"
    cases = [
        ({"type": "label_selection", "options": [{"value": "a", "text": "A"}]}, "at least 2"),
        (
            {
                "type": "label_selection",
                "options": [{"value": "a", "text": "A"}, {"value": "a", "text": "B"}],
            },
            "option values must be unique",
        ),
        ({"type": "rating", "options": [{"value": 1}, {"value": 11}]}, "less than or equal to 10"),
        (
            {"type": "label_selection", "options": QUESTIONS["label"]["options"], "visible_options": 3},
            "visible_options",
        ),
        ({"type": "nope"}, "type"),
    ]
    for settings, expected in cases:
        response = await api.client.post(url, json={"name": "q", "title": "q", "settings": settings})
        assert response.status_code == 422, settings
        assert expected in response.text, response.text
    response = await api.client.post(
        url, json={"name": "s", "title": "s", "settings": {**QUESTIONS["spans"], "field": "missing"}}
    )
    assert response.status_code == 422
    assert "'missing' is not a valid field name" in response.json()["detail"]

    response = await api.client.post(
        f"/api/v1/datasets/{dataset['id']}/metadata-properties",
        json={"name": "m", "title": "m", "settings": {"type": "integer", "min": 5, "max": 1}},
    )
    assert response.status_code == 422
    assert "'min' (5) must be lower than 'max' (1)" in response.text


async def test_duplicate_names_conflict(api: Api) -> None:
    dataset = await make_dataset(api, publish=False, metadata={"lang": METADATA["lang"]})
    response = await api.client.post(
        f"/api/v1/datasets/{dataset['id']}/metadata-properties",
        json={"name": "lang", "title": "again", "settings": {"type": "terms"}},
    )
    assert response.status_code == 409
    response = await api.client.post(
        "/api/v1/datasets", json={"name": dataset["name"], "workspace_id": dataset["workspace_id"]}
    )
    assert response.status_code == 409


async def test_question_update_rules(api: Api) -> None:
    dataset = await make_dataset(api, publish=False)
    questions = {
        q["name"]: q for q in (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/questions"))["items"]
    }
    label = questions["label"]
    updated = await api.ok(
        "PATCH",
        f"/api/v1/questions/{label['id']}",
        json={
            "title": "Sentiment",
            "settings": {
                "type": "label_selection",
                "options": [{"value": "pos", "text": "👍"}, {"value": "neg", "text": "👎"}],
            },
        },
    )
    assert updated["title"] == "Sentiment"
    assert [o["text"] for o in updated["settings"]["options"]] == ["👍", "👎"]

    response = await api.client.patch(
        f"/api/v1/questions/{label['id']}",
        json={
            "settings": {
                "type": "label_selection",
                "options": [{"value": "x", "text": "x"}, {"value": "neg", "text": "n"}],
            }
        },
    )
    assert response.status_code == 422
    assert "option values cannot be modified" in response.json()["detail"]
    response = await api.client.patch(
        f"/api/v1/questions/{label['id']}", json={"settings": {"type": "rating"}}
    )
    assert "question type cannot be changed" in response.json()["detail"]


async def test_question_update_accepts_the_full_settings_the_sdk_sends(api: Api) -> None:
    """The argilla SDK PATCHes every question with its whole settings object on `dataset.update()`,
    rating and ranking options included; keys a type cannot change are ignored, as Argilla does."""
    dataset = await make_dataset(api)
    questions = {
        q["name"]: q for q in (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/questions"))["items"]
    }
    for name in ("rating", "rank", "comment", "spans", "topics", "label"):
        question = questions[name]
        sent = {**question["settings"], "visible_options": None}  # the SDK sends nulls as well
        updated = await api.ok(
            "PATCH",
            f"/api/v1/questions/{question['id']}",
            json={**question, "title": f"{name} (renamed)", "settings": sent},
        )
        assert updated["title"] == f"{name} (renamed)"
        assert updated["settings"] == question["settings"], name

    rating = questions["rating"]
    changed_options = {"type": "rating", "options": [{"value": 9}, {"value": 10}]}
    updated = await api.ok("PATCH", f"/api/v1/questions/{rating['id']}", json={"settings": changed_options})
    assert updated["settings"]["options"] == rating["settings"]["options"]  # ignored, not applied


async def test_list_my_datasets_filters_and_membership(api: Api) -> None:
    other = await api.ok("POST", "/api/v1/workspaces", json={"name": "other"})
    mine = await make_dataset(api, name="mine")
    theirs = await make_dataset(api, name="theirs", workspace_id=other["id"], publish=False)
    listed = await api.ok("GET", "/api/v1/me/datasets")
    assert {d["name"] for d in listed["items"]} == {"mine", "theirs"}
    assert [
        d["name"] for d in (await api.ok("GET", f"/api/v1/me/datasets?workspace_id={other['id']}"))["items"]
    ] == ["theirs"]
    assert [d["name"] for d in (await api.ok("GET", "/api/v1/me/datasets?status=ready"))["items"]] == ["mine"]

    admin = await api.create_user("admin", workspace_id=mine["workspace_id"])
    client = api.as_user(admin["api_key"])
    assert [d["name"] for d in (await client.get("/api/v1/me/datasets")).json()["items"]] == ["mine"]
    assert (await client.get(f"/api/v1/datasets/{theirs['id']}")).status_code == 403
    assert (await client.delete(f"/api/v1/datasets/{theirs['id']}")).status_code == 403
    response = await client.post("/api/v1/datasets", json={"name": "x", "workspace_id": other["id"]})
    assert response.status_code == 403


async def test_annotators_read_but_cannot_change_and_see_only_visible_metadata(api: Api) -> None:
    dataset = await make_dataset(api)
    hidden = await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset['id']}/metadata-properties",
        json={
            "name": "secret",
            "title": "secret",
            "settings": {"type": "terms"},
            "visible_for_annotators": False,
        },
    )
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    client = api.as_user(annotator["api_key"])
    assert (await client.get(f"/api/v1/datasets/{dataset['id']}")).status_code == 200
    names = [
        m["name"]
        for m in (await client.get(f"/api/v1/me/datasets/{dataset['id']}/metadata-properties")).json()[
            "items"
        ]
    ]
    assert "secret" not in names and "lang" in names
    owner_names = [
        m["name"]
        for m in (await api.ok("GET", f"/api/v1/me/datasets/{dataset['id']}/metadata-properties"))["items"]
    ]
    assert "secret" in owner_names
    assert (
        await client.patch(f"/api/v1/metadata-properties/{hidden['id']}", json={"title": "x"})
    ).status_code == 403
    assert (
        await client.patch(f"/api/v1/datasets/{dataset['id']}", json={"guidelines": "x"})
    ).status_code == 403


async def test_update_and_delete_dataset(api: Api) -> None:
    dataset = await make_dataset(api)
    updated = await api.ok(
        "PATCH", f"/api/v1/datasets/{dataset['id']}", json={"guidelines": "Be nice", "metadata": {"k": 1}}
    )
    assert updated["guidelines"] == "Be nice"
    assert updated["metadata"] == {"k": 1}
    assert updated["name"] == dataset["name"]
    response = await api.client.patch(f"/api/v1/datasets/{dataset['id']}", json={"name": None})
    assert response.status_code == 422
    deleted = await api.ok("DELETE", f"/api/v1/datasets/{dataset['id']}")
    assert deleted["id"] == dataset["id"]
    assert (await api.client.get(f"/api/v1/datasets/{dataset['id']}")).status_code == 404
    assert (await api.client.get(f"/api/v1/datasets/{uuid.uuid4()}")).status_code == 404


async def test_vector_settings_limit(api: Api) -> None:
    dataset = await make_dataset(api, vectors={f"v{i}": 2 for i in range(5)})
    response = await api.client.post(
        f"/api/v1/datasets/{dataset['id']}/vectors-settings",
        json={"name": "v5", "title": "v5", "dimensions": 2},
    )
    assert response.status_code == 422
    assert "maximum number of vector settings" in response.json()["detail"]


async def test_min_submitted_beyond_32_bits_is_a_422(api: Api) -> None:
    """Found by the API fuzz: a huge `min_submitted` reached PostgreSQL as an int4 parameter."""
    workspace = await api.default_workspace()
    dataset = await api.ok(
        "POST", "/api/v1/datasets", json={"name": "d-min", "workspace_id": workspace["id"]}
    )
    huge = {"distribution": {"strategy": "overlap", "min_submitted": 318422279195912}}
    response = await api.client.patch(f"/api/v1/datasets/{dataset['id']}", json=huge)
    assert response.status_code == 422, response.text
    assert "min_submitted" in response.text
    fine = {"distribution": {"strategy": "overlap", "min_submitted": 2}}
    updated = await api.ok("PATCH", f"/api/v1/datasets/{dataset['id']}", json=fine)
    assert updated["distribution"]["min_submitted"] == 2
