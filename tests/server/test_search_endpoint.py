"""The search endpoints through HTTP: Argilla's body, the Lucene-style extension, /me scoping."""

from __future__ import annotations

import uuid
from typing import Any

from quire.server.search.lucene import MAX_CONDITIONS, MAX_VALUES
from tests.conftest import Api
from tests.server.helpers import make_dataset


async def _seed(api: Api) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dataset = await make_dataset(api, vectors={"emb": 2})
    items = [
        {"external_id": f"r{i}", "fields": {"text": text}, "metadata": {"lang": lang, "n": n},
         "vectors": {"emb": vec}, "suggestions": [{"question_name": "label", "value": label, "score": score}]}
        for i, (text, lang, n, vec, label, score) in enumerate([
            ("the quick brown fox", "en", 1, [1.0, 0.0], "pos", 0.9),
            ("a lazy dog sleeps", "en", 5, [0.0, 1.0], "neg", 0.2),
            ("el zorro marrón", "es", 3, [0.7, 0.7], "pos", 0.6),
        ])
    ]  # fmt: skip
    records = (await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items}))[
        "items"
    ]
    return dataset, records


def _ids(result: dict[str, Any]) -> list[str]:
    return [item["record"]["external_id"] for item in result["items"]]


async def test_argilla_body_and_query_string_select_the_same_records(api: Api) -> None:
    dataset, _ = await _seed(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    body = {
        "filters": {"and": [
            {"type": "terms", "scope": {"entity": "metadata", "metadata_property": "lang"}, "values": ["en"]},
            {"type": "range", "scope": {"entity": "metadata", "metadata_property": "n"}, "ge": 2},
        ]}
    }  # fmt: skip
    by_body = await api.ok("POST", url, json=body, status=200)
    by_string = await api.ok(
        "POST", url, json={"query": {"query_string": "metadata.lang:en AND metadata.n:[2 TO *]"}}, status=200
    )
    assert _ids(by_body) == _ids(by_string) == ["r1"]
    assert by_body["total"] == 1 and by_body["items"][0]["query_score"] is None

    both = await api.ok(
        "POST", url, json={"query": {"query_string": "suggestions.label:pos OR fields.text:lazy"}}, status=200
    )
    assert sorted(_ids(both)) == ["r0", "r1", "r2"]
    text = await api.ok("POST", url, json={"query": {"text": {"q": "quick fox"}}}, status=200)
    assert _ids(text) == ["r0"] and text["items"][0]["query_score"] > 0


async def test_paging_sort_include_and_vectors(api: Api) -> None:
    dataset, _ = await _seed(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    sort = {"sort": [{"scope": {"entity": "metadata", "metadata_property": "n"}, "order": "desc"}]}
    first = await api.ok("POST", f"{url}?limit=2&offset=0&include=suggestions", json=sort, status=200)
    second = await api.ok("POST", f"{url}?limit=2&offset=2", json=sort, status=200)
    assert _ids(first) + _ids(second) == ["r1", "r2", "r0"] and first["total"] == second["total"] == 3
    assert first["items"][0]["record"]["suggestions"][0]["value"] == "neg"
    assert "suggestions" not in second["items"][0]["record"]

    similar = await api.ok(
        "POST",
        f"{url}?include=vectors",
        json={"query": {"vector": {"name": "emb", "value": [1.0, 0.1]}}},
        status=200,
    )
    assert _ids(similar) == ["r0", "r2", "r1"]
    scores = [item["query_score"] for item in similar["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.99
    assert similar["items"][0]["record"]["vectors"] == {"emb": [1.0, 0.0]}


async def test_malformed_queries_are_422_pointing_at_the_problem(api: Api) -> None:
    dataset, _ = await _seed(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    response = await api.client.post(
        url, json={"query": {"query_string": "metadata.lang:en AND (status:pending"}}
    )
    assert response.status_code == 422
    assert "column" in response.json()["detail"]
    response = await api.client.post(url, json={"query": {"query_string": "metadata.nope:1"}})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "nope" in detail and "lang" in detail  # names the unknown property and what exists
    response = await api.client.post(
        url, json={"query": {"vector": {"name": "emb", "value": [1.0, 2.0, 3.0]}}}
    )
    assert response.status_code == 422
    response = await api.client.post(
        url,
        json={"filters": {"and": [{"type": "range", "scope": {"entity": "record", "property": "status"}}]}},
    )
    assert response.status_code == 422


async def test_me_search_sees_only_my_responses(api: Api) -> None:
    dataset, records = await _seed(api)
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    client = api.as_user(annotator["api_key"])
    await api.ok(
        "POST",
        f"/api/v1/records/{records[0]['id']}/responses",
        json={"status": "submitted", "values": {"label": {"value": "pos"}}},
    )
    await client.post(f"/api/v1/records/{records[1]['id']}/responses", json={"status": "draft", "values": {}})
    status_filter = {
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "response", "property": "status"},
                    "values": ["pending"],
                }
            ]
        }
    }
    mine = (
        await client.post(
            f"/api/v1/me/datasets/{dataset['id']}/records/search?include=responses", json=status_filter
        )
    ).json()
    # pending for me = I have not responded, whatever the owner did
    assert sorted(_ids(mine)) == ["r0", "r2"]
    assert all(item["record"]["responses"] == [] for item in mine["items"])
    everyone = await api.ok(
        "POST", f"/api/v1/datasets/{dataset['id']}/records/search", json=status_filter, status=200
    )
    assert _ids(everyone) == ["r2"]
    # annotators use /me; the admin-level search is forbidden to them
    assert (await client.post(f"/api/v1/datasets/{dataset['id']}/records/search", json={})).status_code == 403


async def test_sort_ties_are_broken_by_record_id_and_unsorted_results_keep_insertion_order(api: Api) -> None:
    """Client-supplied ids in descending order: a sort with ties lists the tied records by id (the
    metadata-only plan and the general one alike); no sort keeps insertion order."""
    dataset = await make_dataset(api)
    ids = [f"{9 - i:08d}-0000-4000-8000-000000000000" for i in range(6)]  # descending
    items = [
        {
            "id": record_id,
            "external_id": f"r{i}",
            "fields": {"text": "t"},
            "metadata": {"lang": "en", "n": i % 2},
        }
        for i, record_id in enumerate(ids)
    ]
    await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items})
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    by_n = {"sort": [{"scope": {"entity": "metadata", "metadata_property": "n"}, "order": "asc"}]}
    metadata_only = {
        **by_n,
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "metadata", "metadata_property": "lang"},
                    "values": ["en"],
                }
            ]
        },
    }
    general = {**by_n, "query": {"query_string": "metadata.lang:en AND status:pending"}}
    expected = ["r4", "r2", "r0", "r5", "r3", "r1"]  # n = 0 first, each group by ascending id
    for body in (by_n, metadata_only, general):
        assert _ids(await api.ok("POST", url, json=body, status=200)) == expected, body
        paged = [await api.ok("POST", f"{url}?offset={o}&limit=2", json=body, status=200) for o in (0, 2, 4)]
        assert [i for page in paged for i in _ids(page)] == expected
        assert {page["total"] for page in paged} == {6}
    unsorted = await api.ok("POST", url, json={"query": {"query_string": "metadata.lang:en"}}, status=200)
    assert _ids(unsorted) == [f"r{i}" for i in range(6)]


async def test_a_numeric_property_declared_after_list_values_sorts_by_the_whole_list(api: Api) -> None:
    """A sort on a property that the query also filters walks the property's value index, unless
    some record holds several values under it: then a record sorts by its largest (descending)
    value even where only a smaller one is in the range. Rewriting the list as a number puts the
    record back where its number belongs."""
    dataset = await make_dataset(api, metadata={}, allow_extra_metadata=True)
    bulk = f"/api/v1/datasets/{dataset['id']}/records/bulk"
    items = [
        {"external_id": "single-high", "fields": {"text": "t"}, "metadata": {"w": 0.45}},
        {"external_id": "listed", "fields": {"text": "t"}, "metadata": {"w": [0.3, 0.9]}},
        {"external_id": "single-low", "fields": {"text": "t"}, "metadata": {"w": 0.35}},
        {"external_id": "outside", "fields": {"text": "t"}, "metadata": {"w": 0.8}},
    ]
    records = (await api.ok("PUT", bulk, json={"items": items}))["items"]
    await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset['id']}/metadata-properties",
        json={"name": "w", "title": "w", "settings": {"type": "float"}},
    )
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    body = {
        "filters": {
            "and": [
                {
                    "type": "range",
                    "scope": {"entity": "metadata", "metadata_property": "w"},
                    "ge": 0.25,
                    "le": 0.5,
                }
            ]
        },
        "sort": [{"scope": {"entity": "metadata", "metadata_property": "w"}, "order": "desc"}],
    }
    result = await api.ok("POST", url, json=body, status=200)
    assert _ids(result) == ["listed", "single-high", "single-low"] and result["total"] == 3
    second = await api.ok("POST", f"{url}?offset=1&limit=1", json=body, status=200)
    assert _ids(second) == ["single-high"] and second["total"] == 3

    listed = next(r for r in records if r["external_id"] == "listed")
    await api.ok("PUT", bulk, json={"items": [{"id": listed["id"], "metadata": {"w": 0.3}}]})
    result = await api.ok("POST", url, json=body, status=200)
    assert _ids(result) == ["single-high", "single-low", "listed"] and result["total"] == 3
    body["sort"][0]["order"] = "asc"  # type: ignore[index]
    paged = [await api.ok("POST", f"{url}?offset={o}&limit=2", json=body, status=200) for o in (0, 2)]
    assert [i for page in paged for i in _ids(page)] == ["listed", "single-low", "single-high"]
    assert {page["total"] for page in paged} == {3}


async def test_queries_at_the_limits_run_on_the_database(api: Api) -> None:
    """The longest query the parser takes compiles to SQL each store accepts (SQLite refuses
    expressions nested beyond 1,000 levels), and one more condition is a 422, not a 500."""
    dataset, records = await _seed(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    words = ["quick", *(f"w{n}" for n in range(MAX_CONDITIONS - 1))]
    for query, expected in (
        (" OR ".join(words), ["r0"]),
        (" AND ".join(f"-{w}" for w in words), ["r1", "r2"]),
        (
            " OR ".join(
                [*(f"id:{uuid.UUID(int=n)}" for n in range(MAX_VALUES - 1)), f"id:{records[2]['id']}"]
            ),
            ["r2"],
        ),
    ):
        result = await api.ok("POST", url, json={"query": {"query_string": query}}, status=200)
        assert sorted(_ids(result)) == expected, query[:80]
    response = await api.client.post(url, json={"query": {"query_string": " OR ".join([*words, "more"])}})
    assert response.status_code == 422, response.text
    assert f"at most {MAX_CONDITIONS}" in response.text


async def test_extra_metadata_under_names_longer_than_a_property_name_is_kept_not_indexed(api: Api) -> None:
    """A property name has at most 200 characters, so no filter or sort can name a longer key of
    extra metadata: the value stays in the record, without index rows (PostgreSQL refused them
    with a 500: the name column holds 200). A 200-character property filters as any other."""
    longest, too_long = "p" * 200, "q" * 201
    dataset = await make_dataset(api, metadata={longest: {"type": "terms"}}, allow_extra_metadata=True)
    items = [
        {"external_id": "a", "fields": {"text": "t"}, "metadata": {longest: "x", too_long: "y"}},
        {"external_id": "b", "fields": {"text": "t"}, "metadata": {longest: "z", too_long: "y"}},
    ]
    written = await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items})
    assert [item["metadata"][too_long] for item in written["items"]] == ["y", "y"]
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    scope = {"entity": "metadata", "metadata_property": longest}
    body = {"filters": {"and": [{"type": "terms", "scope": scope, "values": ["x"]}]}}
    assert _ids(await api.ok("POST", url, json=body, status=200)) == ["a"]
    body = {"sort": [{"scope": scope, "order": "desc"}]}
    assert _ids(await api.ok("POST", url, json=body, status=200)) == ["b", "a"]
    stored = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records")
    assert sorted(record["metadata"][too_long] for record in stored["items"]) == ["y", "y"]


async def test_timestamp_bounds_outside_utc_years_are_422s(api: Api) -> None:
    """An inclusive upper bound on 9999-12-31 would end on year 10000's first day; year 1 with a
    positive offset starts in year 0: both are 422s that say so, not 500s."""
    dataset = await make_dataset(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/search"
    scope = {"entity": "record", "property": "inserted_at"}
    for body in (
        {"filters": {"and": [{"type": "range", "scope": scope, "le": "9999-12-31"}]}},
        {"filters": {"and": [{"type": "range", "scope": scope, "ge": "0001-01-01T00:30:00+01:00"}]}},
        {"query": {"query_string": "inserted_at:[* TO 9999-12-31]"}},
    ):
        response = await api.client.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert "out of range in UTC" in response.text, response.text
    found = await api.ok(
        "POST",
        url,
        json={"filters": {"and": [{"type": "range", "scope": scope, "le": "9999-12-30"}]}},
        status=200,
    )
    assert found["total"] == 0
