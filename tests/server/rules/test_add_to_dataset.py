"""`add_to_dataset`: matches copied into another dataset of the workspace, once per source record."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.server.rules.helpers import create_rule, rules_dataset, texts, trigger, upsert


async def records_of(api: Api, dataset_id: str) -> list[dict[str, Any]]:
    page = await api.ok("GET", f"/api/v1/datasets/{dataset_id}/records?include=suggestions&limit=1000")
    return list(page["items"])


async def test_copies_are_idempotent(api: Api) -> None:
    source = await rules_dataset(api)
    target = await rules_dataset(api, metadata={"lang": {"type": "terms", "values": ["en", "es"]}})
    rule = await create_rule(
        api,
        source["id"],
        filter="metadata.lang:en",
        actions=[{"type": "add_to_dataset", "dataset_id": target["id"], "include_suggestions": True}],
    )
    items = texts(5) + texts(3, prefix="es", lang="es")
    items[0]["suggestions"] = [{"question_name": "label", "value": "neg", "score": 0.7, "agent": "m"}]
    written = await upsert(api, source["id"], items)
    run = await trigger(api, rule["id"])
    assert run["actions"][0] == {
        "id": rule["actions"][0]["id"],
        "type": "add_to_dataset",
        "dataset_id": target["id"],
        "copied": 5,
    }
    copies = {r["external_id"]: r for r in await records_of(api, target["id"])}
    english = {r["id"]: r for r in written if r["metadata"]["lang"] == "en"}
    assert set(copies) == {f"src:{record_id}" for record_id in english}
    first = copies[f"src:{written[0]['id']}"]
    assert first["fields"] == written[0]["fields"]
    assert first["metadata"] == {"lang": "en"}  # `n` is not a property of the target, which allows no extras
    assert [(s["value"], s["score"], s["agent"]) for s in first["suggestions"]] == [("neg", 0.7, "m")]
    # the same records change and match again: their copies are updated, not added
    await upsert(
        api,
        source["id"],
        [{"id": r["id"], "fields": {"text": "changed " + r["id"]}} for r in english.values()],
    )
    again = await trigger(api, rule["id"])
    assert again["matched"] == 5 and again["actions"][0]["copied"] == 5
    copies_after = await records_of(api, target["id"])
    assert len(copies_after) == 5
    assert {r["fields"]["text"] for r in copies_after} == {"changed " + record_id for record_id in english}
    # a run with nothing new copies nothing
    assert (await trigger(api, rule["id"]))["actions"][0]["copied"] == 0


async def test_a_copy_the_target_refuses_fails_the_run_and_keeps_its_window(api: Api) -> None:
    source = await rules_dataset(api)
    target = await rules_dataset(api)
    rule = await create_rule(
        api, source["id"], actions=[{"type": "add_to_dataset", "dataset_id": target["id"]}]
    )
    await upsert(api, source["id"], texts(2))
    await api.ok("DELETE", f"/api/v1/datasets/{target['id']}")
    failed = await trigger(api, rule["id"])
    assert failed["end_time"] is None and "no longer exists" in failed["error"]
    after = await api.ok("GET", f"/api/v1/rules/{rule['id']}")
    assert after["next_window_start"] == rule["next_window_start"]  # the window will run again
    fixed = await rules_dataset(api)
    (action,) = rule["actions"]
    await api.ok(
        "PATCH",
        f"/api/v1/rules/{rule['id']}",
        json={"actions": [{"type": "add_to_dataset", "id": action["id"], "dataset_id": fixed["id"]}]},
    )
    run = await trigger(api, rule["id"])
    assert run["error"] is None and run["start_time"] == rule["next_window_start"] and run["changed"] == 2
    assert len(await records_of(api, fixed["id"])) == 2
