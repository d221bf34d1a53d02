"""`dataset.records.log`, iteration, upsert, deletion and progress through the official argilla SDK."""

from __future__ import annotations

import math
from typing import Any

import argilla as rg
import pytest
from argilla._exceptions import UnprocessableEntityError
from PIL import Image

from tests.compat.conftest import unique, user_with_key
from tests.compat.settings import create_dataset, full_settings, simple_settings

pytestmark = pytest.mark.compat


def _records(dataset: rg.Dataset, **kwargs: Any) -> dict[str, rg.Record]:
    """All records of a dataset keyed by their external id (the SDK's `Record.id`)."""
    options: dict[str, Any] = {"with_suggestions": True, "with_responses": True, "with_vectors": True}
    options.update(kwargs)
    records = list(dataset.records(**options))
    by_id = {str(r.id): r for r in records}
    assert len(by_id) == len(records), "external ids must be unique"
    return by_id


def _wire_record(client: rg.Argilla, record: rg.Record) -> dict[str, Any]:
    """The record as the server sends it (`GET /api/v1/records/{id}`), for what the SDK reshapes."""
    response = client.http_client.get(f"/api/v1/records/{record._server_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _approx(values: list[float]) -> Any:
    return pytest.approx(values, rel=1e-6)


def test_log_dicts_with_mapping(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    rows = [
        {
            "key": f"row-{i}",
            "text": f"text number {i}",
            "label": ["pos", "neg", "neutral"][i % 3],
            "score": round(0.1 * (i + 1), 2),
            "model": f"model-{i % 2}",
            "rating": 1 + i % 5,
            "n": i,
            "lang": "en" if i % 2 else "es",
            "emb": [float(i), 1.0, 0.5],
            "ignored_column": "x",
        }
        for i in range(6)
    ]
    with pytest.warns(UserWarning, match="ignored_column"):
        dataset.records.log(
            rows, mapping={"key": "id", "score": "label.suggestion.score", "model": "label.suggestion.agent"}
        )

    records = _records(dataset)
    assert sorted(records) == [f"row-{i}" for i in range(6)]
    for i, row in enumerate(rows):
        record = records[f"row-{i}"]
        assert record.fields["text"] == row["text"]
        label = record.suggestions["label"]
        assert (label.value, label.score, label.agent) == (row["label"], row["score"], row["model"])
        # a column named like a question becomes that question's suggestion value
        assert record.suggestions["rating"].value == row["rating"]
        assert record.suggestions["rating"].score is None
        assert record.metadata == {"n": i, "lang": row["lang"]}
        assert record.vectors["emb"] == _approx(row["emb"])
        assert list(record.responses) == []
        assert record.status == "pending"


def test_log_records_with_every_suggestion_response_and_field_type(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    dataset = create_dataset(client, unique("ds"), full_settings(), workspace)
    me = client.me
    image = Image.new("RGB", (4, 3), color=(200, 10, 10))
    text = "Ada Lovelace worked with Charles Babbage in London."
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    suggestions = [
        rg.Suggestion("label", "pos", score=0.9, agent="clf-v1", type="model"),
        rg.Suggestion("topics", ["tech", "art"], score=[0.8, 0.3], agent="multi-v2"),
        rg.Suggestion("rating", 4, score=0.55, type="human"),
        rg.Suggestion("rank", ["r3", "r1", "r2"], agent="ranker"),
        rg.Suggestion("comment", "a model wrote this", agent="llm"),
        rg.Suggestion(
            "spans",
            [{"label": "PER", "start": 0, "end": 12}, {"label": "LOC", "start": 44, "end": 50}],
            score=[0.9, 0.7],
        ),
    ]
    full = rg.Record(
        id="full",
        fields={
            "text": text,
            "image": image,
            "chat": chat,
            "custom": {"key": "value", "nested": {"a": 1}},
        },
        metadata={"lang": "en", "n": 7, "score": 0.25},
        vectors={"emb": [0.1, 0.2, 0.3]},
        suggestions=suggestions,
        responses=[
            rg.Response("label", "neg", user_id=me.id, status="submitted"),
            rg.Response("topics", ["sports"], user_id=me.id, status="submitted"),
            rg.Response("rating", 2, user_id=me.id, status="submitted"),
            # no ranks given: quire ranks by list order (argilla-server would answer 422)
            rg.Response("rank", ["r2", "r3", "r1"], user_id=me.id, status="submitted"),
            rg.Response("comment", "my comment", user_id=me.id, status="submitted"),
            rg.Response(
                "spans", [{"label": "ORG", "start": 25, "end": 40}], user_id=me.id, status="submitted"
            ),
        ],
    )
    url_image = rg.Record(
        id="url-image",
        fields={"text": "just text", "image": "https://example.org/cat.png"},
        responses=[rg.Response("label", "pos", user_id=me.id, status="draft")],
    )
    dataset.records.log([full, url_image])

    records = _records(dataset)
    assert set(records) == {"full", "url-image"}
    got = records["full"]
    assert got.status == "completed"  # one submitted response, min_submitted=1
    assert got.fields["text"] == text
    round_tripped = got.fields["image"]
    assert isinstance(round_tripped, Image.Image) and round_tripped.size == (4, 3)
    assert [dict(m) if isinstance(m, dict) else m.model_dump() for m in got.fields["chat"]] == chat
    assert got.fields["custom"] == {"key": "value", "nested": {"a": 1}}
    assert got.metadata == {"lang": "en", "n": 7, "score": 0.25}
    assert got.vectors["emb"] == _approx([0.1, 0.2, 0.3])

    s = got.suggestions
    assert (s["label"].value, s["label"].score, s["label"].agent, s["label"].type) == (
        "pos",
        0.9,
        "clf-v1",
        "model",
    )
    assert (s["topics"].value, s["topics"].score, s["topics"].agent) == (
        ["tech", "art"],
        [0.8, 0.3],
        "multi-v2",
    )
    assert (s["rating"].value, s["rating"].score, s["rating"].type) == (4, 0.55, "human")
    assert (s["rank"].value, s["rank"].agent) == (["r3", "r1", "r2"], "ranker")
    assert s["comment"].value == "a model wrote this"
    assert s["spans"].value == [
        {"label": "PER", "start": 0, "end": 12},
        {"label": "LOC", "start": 44, "end": 50},
    ]
    assert s["spans"].score == [0.9, 0.7]

    responses = {
        name: got.responses[name] for name in ("label", "topics", "rating", "rank", "comment", "spans")
    }
    assert {name: [r.value for r in rs] for name, rs in responses.items()} == {
        "label": ["neg"],
        "topics": [["sports"]],
        "rating": [2],
        "rank": [["r2", "r3", "r1"]],
        "comment": ["my comment"],
        "spans": [[{"label": "ORG", "start": 25, "end": 40}]],
    }
    assert all(r.user_id == me.id and r.status == "submitted" for rs in responses.values() for r in rs)

    wire = _wire_record(client, got)
    [wire_response] = wire["responses"]
    assert wire_response["values"]["rank"]["value"] == [
        {"value": "r2", "rank": 1},
        {"value": "r3", "rank": 2},
        {"value": "r1", "rank": 3},
    ]
    assert len({s["id"] for s in wire["suggestions"]}) == 6  # the SDK's shared client-side id is ignored

    other = records["url-image"]
    assert other.status == "pending"  # a draft does not complete a record
    assert other.fields["image"] == "https://example.org/cat.png"
    assert [(r.value, r.status) for r in other.responses["label"]] == [("pos", "draft")]
    assert list(other.suggestions) == []


def test_responses_from_several_users_and_explicit_ranks(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), full_settings(min_submitted=2), workspace)
    annotator, _ = user_with_key(client)
    annotator.add_to_workspace(workspace)
    me = client.me
    record = rg.Record(
        id="r",
        fields={"text": "two people answer"},
        responses=[
            rg.Response("label", "pos", user_id=me.id, status="submitted"),
            rg.Response(
                "rank",
                [{"value": "r1", "rank": 2}, {"value": "r2", "rank": 1}, {"value": "r3", "rank": 3}],
                user_id=me.id,
                status="submitted",
            ),
            rg.Response("label", "neg", user_id=annotator.id, status="submitted"),
        ],
    )
    dataset.records.log([record])
    got = _records(dataset)["r"]
    assert got.status == "completed"  # two submitted responses, min_submitted=2
    assert sorted((str(r.user_id), r.value) for r in got.responses["label"]) == sorted(
        [(str(me.id), "pos"), (str(annotator.id), "neg")]
    )
    wire = _wire_record(client, got)
    mine = next(r for r in wire["responses"] if r["user_id"] == str(me.id))
    assert mine["values"]["rank"]["value"] == [
        {"value": "r1", "rank": 2},
        {"value": "r2", "rank": 1},
        {"value": "r3", "rank": 3},
    ]


def test_discarded_response_and_dict_mapping_to_responses(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    dataset.records.log(
        [{"id": "a", "text": "answered", "human": "neg"}, {"id": "b", "text": "unanswered"}],
        mapping={"human": "label.response"},
    )
    dataset.records.log(
        [
            rg.Record(
                id="c",
                fields={"text": "skipped"},
                responses=[rg.Response("label", None, user_id=client.me.id, status="discarded")],
            )
        ]
    )
    records = _records(dataset)
    # a mapped response has no status, so the SDK sends it as a draft
    assert [(r.value, r.status) for r in records["a"].responses["label"]] == [("neg", "draft")]
    assert list(records["b"].responses) == []
    # a discarded response without values has no per-question entry, so the SDK shows nothing...
    assert list(records["c"].responses) == []
    # ...but the server has it
    wire = _wire_record(client, records["c"])
    assert [(r["status"], r["user_id"]) for r in wire["responses"]] == [("discarded", str(client.me.id))]
    assert all(r.status == "pending" for r in records.values())


def test_upsert_by_id_updates_instead_of_duplicating(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    first = [
        {"id": f"u{i}", "text": f"v1 {i}", "label": "pos", "n": i, "emb": [1.0, 0.0, 0.0]} for i in range(5)
    ]
    dataset.records.log(first)
    before = _records(dataset)
    server_ids = {key: r._server_id for key, r in before.items()}

    second = [{"id": f"u{i}", "text": f"v2 {i}", "label": "neg", "n": 10 + i} for i in range(3)]
    second.append({"id": "new", "text": "brand new", "label": "neutral"})
    dataset.records.log(second)

    after = _records(dataset)
    assert sorted(after) == ["new", "u0", "u1", "u2", "u3", "u4"]
    for i in range(3):
        record = after[f"u{i}"]
        assert record._server_id == server_ids[f"u{i}"]
        assert record.fields["text"] == f"v2 {i}"
        assert record.suggestions["label"].value == "neg"
        assert record.metadata["n"] == 10 + i
        assert record.vectors["emb"] == _approx([1.0, 0.0, 0.0])  # absent in the update: kept
    for i in (3, 4):
        assert after[f"u{i}"].fields["text"] == f"v1 {i}"
        assert after[f"u{i}"].suggestions["label"].value == "pos"

    # editing fetched records and logging them again goes by the server id as well
    fetched = list(dataset.records(with_suggestions=True, with_responses=True))
    for record in fetched:
        record.metadata["lang"] = "fr"
        record.suggestions.add(rg.Suggestion("rating", 5, agent="second-pass"))
    dataset.records.log(fetched)
    final = _records(dataset)
    assert len(final) == 6
    assert {r.metadata["lang"] for r in final.values()} == {"fr"}
    assert {(r.suggestions["rating"].value, r.suggestions["rating"].agent) for r in final.values()} == {
        (5, "second-pass")
    }
    assert final["u0"].suggestions["label"].value == "neg"  # existing suggestions kept


@pytest.mark.parametrize("batch_size", [256, 500, 1000])
def test_log_in_batches(client: rg.Argilla, workspace: rg.Workspace, batch_size: int) -> None:
    """600 records: 256 (the SDK default) makes three requests, 500 two, 1000 is capped to 500."""
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    total = 600
    rows = [
        {
            "id": f"b{i:04d}",
            "text": f"row {i}",
            "label": "pos" if i % 2 else "neg",
            "n": i,
            "emb": [i, 1.0, 2.0],
        }
        for i in range(total)
    ]
    dataset.records.log(rows, batch_size=batch_size)
    records = _records(dataset, batch_size=250)
    assert len(records) == total
    assert records["b0599"].metadata["n"] == 599
    assert records["b0599"].suggestions["label"].value == "pos"
    assert records["b0000"].vectors["emb"] == _approx([0.0, 1.0, 2.0])
    assert dataset.progress() == {"total": total, "completed": 0, "pending": total}

    # logging them all again updates in place
    dataset.records.log([{**row, "label": "neutral"} for row in rows], batch_size=batch_size)
    records = _records(dataset, batch_size=1000)
    assert len(records) == total
    assert {r.suggestions["label"].value for r in records.values()} == {"neutral"}


def test_iteration_options(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    me = client.me
    dataset.records.log(
        [
            rg.Record(
                id=f"i{i}",
                fields={"text": f"t{i}"},
                vectors={"emb": [0.0, 0.0, float(i)]},
                suggestions=[rg.Suggestion("label", "pos")],
                responses=[rg.Response("label", "neg", user_id=me.id, status="submitted")],
            )
            for i in range(7)
        ]
    )
    bare = list(dataset.records(with_suggestions=False, with_responses=False))
    assert len(bare) == 7
    assert all(list(r.suggestions) == [] and list(r.responses) == [] and dict(r.vectors) == {} for r in bare)

    default = list(dataset.records)  # iter() includes suggestions and responses but not vectors
    assert all(r.suggestions["label"].value == "pos" and len(r.responses["label"]) == 1 for r in default)
    assert all(dict(r.vectors) == {} for r in default)

    named = list(dataset.records(with_vectors=["emb"], batch_size=3))
    assert sorted(r.vectors["emb"][2] for r in named) == [float(i) for i in range(7)]

    assert len(list(dataset.records(limit=4, batch_size=3))) == 4
    assert len(list(dataset.records(start_offset=5))) == 2
    # insertion order
    assert [r.id for r in dataset.records(batch_size=2)] == [f"i{i}" for i in range(7)]


def test_delete_records(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    dataset.records.log([{"id": f"d{i}", "text": f"t{i}", "label": "pos"} for i in range(150)])
    records = list(dataset.records(with_suggestions=False, with_responses=False))
    doomed = [r for r in records if int(str(r.id)[1:]) % 2 == 0]
    assert len(doomed) == 75  # two DELETE calls: 64 + 11 (the SDK's batch)
    deleted = dataset.records.delete(doomed)
    assert len(deleted) == 75

    remaining = _records(dataset)
    assert sorted(remaining) == sorted(f"d{i}" for i in range(150) if i % 2)
    assert dataset.progress()["total"] == 75
    for record in doomed[:3]:
        assert client.http_client.get(f"/api/v1/records/{record._server_id}").status_code == 404


def test_progress_with_users_distribution(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    owner = client.me
    annotator, _ = user_with_key(client)
    annotator.add_to_workspace(workspace)

    def record(i: int, *responses: rg.Response) -> rg.Record:
        return rg.Record(id=f"p{i}", fields={"text": f"t{i}"}, responses=list(responses))

    dataset.records.log(
        [
            record(0, rg.Response("label", "pos", user_id=owner.id, status="submitted")),
            record(
                1,
                rg.Response("label", "pos", user_id=owner.id, status="submitted"),
                rg.Response("label", "neg", user_id=annotator.id, status="draft"),
            ),
            record(2, rg.Response("label", "neg", user_id=annotator.id, status="submitted")),
            record(3, rg.Response("label", "neg", user_id=owner.id, status="draft")),
            record(4, rg.Response("label", None, user_id=annotator.id, status="discarded")),
            record(5),
        ]
    )
    progress = dataset.progress(with_users_distribution=True)
    assert (progress["total"], progress["completed"], progress["pending"]) == (6, 3, 3)
    assert progress["users"] == {
        owner.username: {
            "completed": {"submitted": 2, "draft": 0, "discarded": 0},
            "pending": {"submitted": 0, "draft": 1, "discarded": 0},
        },
        annotator.username: {
            "completed": {"submitted": 1, "draft": 1, "discarded": 0},
            "pending": {"submitted": 0, "draft": 0, "discarded": 1},
        },
    }
    assert dataset.progress() == {"total": 6, "completed": 3, "pending": 3}


def test_float_metadata_accepts_integers_and_vectors_keep_precision(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    dataset = create_dataset(client, unique("ds"), full_settings(), workspace)
    value = [math.pi, -1e-7, 123456.789]
    dataset.records.log([{"id": "m", "text": "metadata", "score": 3, "n": 0, "emb": value}])
    got = _records(dataset)["m"]
    assert got.metadata["score"] == 3
    assert got.vectors["emb"] == _approx(value)


def test_relogging_fetched_records_updates_their_responses(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    dataset = create_dataset(client, unique("ds"), full_settings(), workspace)
    me = client.me
    dataset.records.log(
        [
            rg.Record(
                id="r",
                fields={"text": "hello"},
                responses=[rg.Response("label", "pos", user_id=me.id, status="draft")],
                suggestions=[rg.Suggestion("label", "neg", score=0.3)],
            )
        ]
    )
    [record] = list(dataset.records)
    record.responses.add(rg.Response("comment", "second thoughts", user_id=me.id, status="draft"))
    dataset.records.log([record])

    [again] = list(dataset.records)
    assert again._server_id == record._server_id
    assert sorted((r.question_name, r.value) for r in again.responses) == [
        ("comment", "second thoughts"),
        ("label", "pos"),
    ]
    assert (again.suggestions["label"].value, again.suggestions["label"].score) == ("neg", 0.3)
    wire = _wire_record(client, again)
    assert len(wire["responses"]) == 1  # one response per user and record, updated in place
    assert again.status == "pending"

    # submitting it completes the record
    submitted = rg.Record(
        id="r",
        fields={"text": "hello"},
        responses=[rg.Response("label", "neg", user_id=me.id, status="submitted")],
    )
    dataset.records.log([submitted])
    [final] = list(dataset.records)
    assert final.status == "completed"
    assert [(r.value, r.status) for r in final.responses["label"]] == [("neg", "submitted")]


def test_log_a_hugging_face_dataset(client: rg.Argilla, workspace: rg.Workspace) -> None:
    from datasets import Dataset as HFDataset

    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    hf = HFDataset.from_list(
        [{"uid": f"h{i}", "body": f"hf row {i}", "label": "neg", "prob": 0.25 * i, "n": i} for i in range(4)]
    )
    dataset.records.log(hf, mapping={"uid": "id", "body": "text", "prob": "label.suggestion.score"})
    records = _records(dataset)
    assert sorted(records) == ["h0", "h1", "h2", "h3"]
    assert records["h3"].fields["text"] == "hf row 3"
    assert (records["h3"].suggestions["label"].value, records["h3"].suggestions["label"].score) == (
        "neg",
        0.75,
    )
    assert records["h2"].metadata["n"] == 2


def test_copy_records_into_another_dataset(
    client: rg.Argilla, workspace: rg.Workspace, tmp_path: Any
) -> None:
    """`Dataset.to_disk` / `from_disk` (and logging fetched records into another dataset) send the
    source records' server ids; Argilla treats an id that is not in the target dataset as a new record."""
    source = create_dataset(client, unique("ds"), simple_settings(), workspace)
    source.records.log(
        [{"id": f"c{i}", "text": f"copy {i}", "label": "pos", "score": 0.5, "n": i} for i in range(3)],
        mapping={"score": "label.suggestion.score"},
    )
    (tmp_path / "export").mkdir()
    source.to_disk(str(tmp_path / "export"))
    copy = rg.Dataset.from_disk(
        str(tmp_path / "export"), name=unique("copy"), workspace=workspace, client=client
    )
    copied = _records(copy)
    assert sorted(copied) == ["c0", "c1", "c2"]
    assert copied["c1"].suggestions["label"].score == 0.5
    originals = _records(source)
    assert {r._server_id for r in copied.values()}.isdisjoint({r._server_id for r in originals.values()})
    assert len(originals) == 3  # the source is untouched


def test_deleting_a_user_updates_progress(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    annotator, _ = user_with_key(client)
    annotator.add_to_workspace(workspace)
    dataset.records.log(
        [
            rg.Record(
                id="x",
                fields={"text": "t"},
                responses=[rg.Response("label", "pos", user_id=annotator.id, status="submitted")],
            )
        ]
    )
    assert dataset.progress(with_users_distribution=True)["users"] == {
        annotator.username: {
            "completed": {"submitted": 1, "draft": 0, "discarded": 0},
            "pending": {"submitted": 0, "draft": 0, "discarded": 0},
        }
    }
    annotator.delete()
    assert dataset.progress(with_users_distribution=True) == {
        "total": 1,
        "completed": 0,
        "pending": 1,
        "users": {},
    }
    [record] = list(dataset.records)
    assert record.status == "pending" and list(record.responses) == []


def test_overlapping_spans_when_allowed(client: rg.Argilla, workspace: rg.Workspace) -> None:
    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[
            rg.SpanQuestion(name="loose", field="text", labels=["X", "Y"], allow_overlapping=True),
        ],
    )
    dataset = create_dataset(client, unique("ds"), settings, workspace)
    spans = [{"label": "X", "start": 0, "end": 5}, {"label": "Y", "start": 2, "end": 8}]
    dataset.records.log(
        [
            rg.Record(
                id="o",
                fields={"text": "hello world"},
                suggestions=[rg.Suggestion("loose", spans)],
                responses=[rg.Response("loose", spans, user_id=client.me.id, status="submitted")],
            )
        ]
    )
    [record] = list(dataset.records)
    assert record.suggestions["loose"].value == spans
    assert [r.value for r in record.responses["loose"]] == [spans]

    strict = create_dataset(client, unique("ds"), full_settings(), workspace)  # `spans` disallows overlap
    overlapping = [{"label": "PER", "start": 0, "end": 5}, {"label": "ORG", "start": 2, "end": 8}]
    with pytest.raises(UnprocessableEntityError, match="overlapping"):
        strict.records.log(
            [rg.Record(fields={"text": "hello world"}, suggestions=[rg.Suggestion("spans", overlapping)])]
        )
