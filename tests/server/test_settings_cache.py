"""Dataset settings kept between requests (`datasets.settings_cache`) are never stale: every
change, through the API or from another process, is seen by the next request."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from quire.server.datasets.service import get_dataset
from quire.server.datasets.settings_cache import SettingsCache
from quire.server.db import Database
from quire.server.models import Dataset, Question
from tests.conftest import Api
from tests.server.helpers import make_dataset

LABELS = {
    "type": "label_selection",
    "options": [{"value": "pos", "text": "P"}, {"value": "neg", "text": "N"}],
}


def _cache(app: Any) -> SettingsCache:
    cache: SettingsCache = app.state.database.settings_cache
    return cache


async def _upsert(api: Api, dataset_id: str, item: dict[str, Any], status: int = 200) -> Any:
    response = await api.client.put(f"/api/v1/datasets/{dataset_id}/records/bulk", json={"items": [item]})
    assert response.status_code == status, response.text
    return response.json()


def _suggested(question: str, value: Any) -> dict[str, Any]:
    return {"fields": {"text": "t"}, "suggestions": [{"question_name": question, "value": value}]}


async def test_repeated_requests_use_the_cached_settings(api: Api, app: Any) -> None:
    dataset = await make_dataset(api, questions={"label": LABELS}, metadata={})
    await _upsert(api, dataset["id"], _suggested("label", "pos"))
    hits = _cache(app).hits
    await _upsert(api, dataset["id"], _suggested("label", "neg"))
    await _upsert(api, dataset["id"], _suggested("label", "nope"), status=422)
    assert _cache(app).hits == hits + 2


async def test_settings_changes_through_the_api_are_seen(api: Api) -> None:
    spans = {"type": "span", "field": "text", "options": [{"value": "PER", "text": "PER"}]}
    dataset = await make_dataset(api, questions={"spans": spans}, required=("spans",), metadata={})
    dataset_id = dataset["id"]
    overlapping = _suggested(
        "spans", [{"label": "PER", "start": 0, "end": 3}, {"label": "PER", "start": 1, "end": 2}]
    )
    overlapping["fields"] = {"text": "abcdef"}
    body = await _upsert(api, dataset_id, overlapping, status=422)  # cached now
    assert "overlapping values found" in str(body)

    # a question's settings changed
    question = (await api.ok("GET", f"/api/v1/datasets/{dataset_id}/questions"))["items"][0]
    await api.ok(
        "PATCH",
        f"/api/v1/questions/{question['id']}",
        json={"settings": {"type": "span", "allow_overlapping": True}},
    )
    await _upsert(api, dataset_id, overlapping)

    # a metadata property added, then deleted (extra metadata is not allowed here)
    with_lang = {"fields": {"text": "t"}, "metadata": {"lang": "en"}}
    await _upsert(api, dataset_id, with_lang, status=422)
    prop = await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset_id}/metadata-properties",
        json={"name": "lang", "title": "lang", "settings": {"type": "terms", "values": ["en"]}},
    )
    await _upsert(api, dataset_id, with_lang)
    await api.ok("DELETE", f"/api/v1/metadata-properties/{prop['id']}")
    body = await _upsert(api, dataset_id, with_lang, status=422)
    assert "'lang' metadata property does not exists" in str(body)

    # vector settings added
    with_vector = {"fields": {"text": "t"}, "vectors": {"emb": [0.1, 0.2]}}
    await _upsert(api, dataset_id, with_vector, status=422)
    await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset_id}/vectors-settings",
        json={"name": "emb", "title": "emb", "dimensions": 2},
    )
    await _upsert(api, dataset_id, with_vector)


async def test_a_change_made_by_another_process_is_seen(api: Api, app: Any, database: Database) -> None:
    """`database` is a second engine on the same store, as another server or the CLI would be."""
    dataset = await make_dataset(api, questions={"label": LABELS}, metadata={})
    await _upsert(api, dataset["id"], _suggested("label", "pos"))
    await _upsert(api, dataset["id"], _suggested("other", "pos"), status=422)

    async with database.transaction() as session:
        session.add(
            Question(
                dataset_id=uuid.UUID(dataset["id"]),
                name="other",
                title="other",
                required=False,
                settings=LABELS,
            )
        )
    misses = _cache(app).misses
    await _upsert(api, dataset["id"], _suggested("other", "pos"))
    assert _cache(app).misses == misses + 1

    async with database.transaction() as session:
        other = await session.scalar(select(Question).where(Question.name == "other"))
        await session.delete(other)
    await _upsert(api, dataset["id"], _suggested("other", "pos"), status=422)


async def test_settings_changed_in_a_transaction_that_rolls_back_are_not_cached(
    api: Api, database: Database
) -> None:
    dataset = await make_dataset(api, questions={"label": LABELS}, metadata={})
    dataset_id = uuid.UUID(dataset["id"])
    async with database.session(write=True) as session:
        session.add(
            Question(dataset_id=dataset_id, name="gone", title="gone", required=False, settings=LABELS)
        )
        await session.flush()
        loaded = await get_dataset(session, dataset_id, with_settings=True)
        assert [q.name for q in loaded.questions] == ["label", "gone"]
        await session.rollback()
    async with database.session(write=False) as session:
        loaded = await get_dataset(session, dataset_id, with_settings=True)
        assert [q.name for q in loaded.questions] == ["label"]
        assert loaded.settings_version == (
            await session.scalar(select(Dataset.settings_version).where(Dataset.id == dataset_id))
        )


async def test_an_object_the_session_holds_is_not_overwritten(api: Api, database: Database) -> None:
    dataset = await make_dataset(api, questions={"label": LABELS}, metadata={})
    dataset_id = uuid.UUID(dataset["id"])
    async with database.session(write=False) as session:
        await get_dataset(session, dataset_id, with_settings=True)  # fills the cache
    async with database.session(write=True) as session:
        question = await session.scalar(select(Question).where(Question.dataset_id == dataset_id))
        assert question is not None
        question.title = "changed, not flushed yet"
        loaded = await get_dataset(session, dataset_id, with_settings=True)
        assert loaded.questions == [question]
        assert loaded.questions[0].title == "changed, not flushed yet"
        await database.commit(session)
    async with database.session(write=False) as session:
        loaded = await get_dataset(session, dataset_id, with_settings=True)
        assert loaded.questions[0].title == "changed, not flushed yet"


async def test_a_setting_changed_through_its_own_object_leaves_the_cache_alone(
    api: Api, database: Database
) -> None:
    """Sessions share the cached objects; a session that loads a setting to change it gets an
    object of its own, which its dataset then shows, and a rollback leaves the cache as it was."""
    dataset = await make_dataset(api, questions={"label": LABELS}, metadata={})
    dataset_id = uuid.UUID(dataset["id"])
    async with database.session(write=False) as session:
        shared = (await get_dataset(session, dataset_id, with_settings=True)).questions[0]
    async with database.session(write=True) as first, database.session(write=False) as second:
        mine = await first.get(Question, shared.id)
        assert mine is not None and mine is not shared
        mine.title = "renamed"
        await first.flush()
        assert (await get_dataset(first, dataset_id, with_settings=True)).questions == [mine]
        assert (await get_dataset(second, dataset_id, with_settings=True)).questions == [shared]
        assert shared.title == "label"
        await first.rollback()
    async with database.session(write=False) as session:
        assert (await get_dataset(session, dataset_id, with_settings=True)).questions[0].title == "label"


def test_the_cache_keeps_the_most_recently_used_datasets() -> None:
    cache = SettingsCache(size=2)
    from quire.server.datasets.settings_cache import _Entry

    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for key in (a, b):
        cache.put(key, _Entry(1, ()))
    assert cache.get(a, 1) is not None  # a is now the most recent
    cache.put(c, _Entry(1, ()))
    assert cache.get(b, 1) is None
    assert cache.get(a, 1) is not None and cache.get(c, 1) is not None
    assert cache.get(a, 2) is None  # another version is a miss
