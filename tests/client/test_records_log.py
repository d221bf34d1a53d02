"""`records.log`: mapping variants, upserts without duplicates, batches, progress, and errors that
point at the caller's row."""

from __future__ import annotations

import uuid
import warnings

import pytest

import quire as rg
from tests.client.conftest import seed_settings, unique


@pytest.fixture
def rich(client: rg.Quire, workspace: rg.Workspace) -> rg.Dataset:
    """seed 003's settings plus metadata and a vector field."""
    settings = seed_settings()
    settings.metadata.add(rg.TermsMetadataProperty(name="lang"))
    settings.metadata.add(rg.IntegerMetadataProperty(name="n"))
    settings.vectors.add(rg.VectorField(name="emb", dimensions=3))
    return rg.Dataset(name=unique("rich"), workspace=workspace, settings=settings, client=client).create()


def only(dataset: rg.Dataset) -> rg.Record:
    (record,) = list(dataset.records(with_vectors=True))
    return record


def test_default_routes(rich: rg.Dataset) -> None:
    rich.records.log(
        [
            {
                "id": "r1",
                "text": "hello",
                "prompt": "p",
                "label": "positive",
                "lang": "en",
                "n": 3,
                "emb": [1, 0, 0],
            }
        ]
    )
    record = only(rich)
    assert record.id == "r1"
    assert record.fields == {"text": "hello", "prompt": "p"}
    assert record.metadata == {"lang": "en", "n": 3}
    assert record.vectors == {"emb": [1.0, 0.0, 0.0]}
    assert record.suggestions["label"].value == "positive"  # type: ignore[union-attr]


def test_explicit_mapping_of_every_kind(client: rg.Quire, rich: rg.Dataset) -> None:
    rich.records.log(
        [
            {
                "uid": "m1",
                "body": "mapped text",
                "both": "same",
                "model_label": "negative",
                "conf": 0.25,
                "who": "gpt-x",
                "kind": "human",
                "human": "positive",
                "language": "es",
                "vec": [0, 1, 0],
                "ranked": ["2", "1", "3"],
            }
        ],
        mapping={
            "uid": "id",
            "body": "text",
            "both": ("prompt", "text-q.suggestion"),
            "model_label": "label",
            "conf": "label.suggestion.score",
            "who": "label.suggestion.agent",
            "kind": "label.suggestion.type",
            "human": "label.response",
            "language": "lang.metadata",
            "vec": "emb.vector",
            "ranked": "rank.suggestion",
        },
    )
    record = only(rich)
    assert record.id == "m1"
    assert record.fields == {"text": "mapped text", "prompt": "same"}
    assert record.metadata == {"lang": "es"}
    assert record.vectors == {"emb": [0.0, 1.0, 0.0]}
    label = record.suggestions["label"]
    assert label is not None
    assert (label.value, label.score, label.agent, label.type) == ("negative", 0.25, "gpt-x", "human")
    assert record.suggestions["text-q"].value == "same"  # type: ignore[union-attr]
    assert record.suggestions["rank"].value == ["2", "1", "3"]  # type: ignore[union-attr]
    (response,) = record.responses["label"]
    assert (response.value, response.user_id, response.status) == ("positive", client.me.id, "draft")


def test_a_mapped_target_replaces_its_default_key(rich: rg.Dataset) -> None:
    with pytest.warns(UserWarning, match=r"keys \['label'\]"):
        rich.records.log([{"text": "x", "label": "positive", "y": "negative"}], mapping={"y": "label"})
    assert only(rich).suggestions["label"].value == "negative"  # type: ignore[union-attr]


def test_unknown_keys_warn_once_per_call(rich: rg.Dataset) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rich.records.log([{"text": "a", "junk": 1}, {"text": "b", "junk": 2, "other": 3}])
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "['junk', 'other']" in messages[0] and rich.name in messages[0]


def test_a_response_mapping_can_name_its_user(client: rg.Quire, rich: rg.Dataset) -> None:
    user = rg.User(username=unique("ann"), password="secret-pass", client=client).create()
    user.add_to_workspace(rich.workspace)
    rich.records.log([{"text": "x", "h": "negative"}], mapping={"h": "label.response"}, user_id=user.id)
    (response,) = only(rich).responses["label"]
    assert response.user_id == user.id


def test_bad_mappings_are_refused_before_sending(rich: rg.Dataset) -> None:
    for target, expected in [
        ("nope", "invalid mapping target 'nope'"),
        ("label.suggestion.colour", "parameter"),
        ("label.wrong", "kind"),
        ("text.suggestion", "not a suggestion of the dataset"),
        ("lang.field", "not a field of the dataset"),
    ]:
        with pytest.raises(ValueError, match=expected):
            rich.records.log([{"text": "x", "col": 1}], mapping={"col": target})
    assert rich.records.count() == 0


def test_extra_metadata_through_the_mapping(client: rg.Quire, workspace: rg.Workspace) -> None:
    settings = seed_settings()
    settings.allow_extra_metadata = True
    dataset = rg.Dataset(name=unique("extra"), workspace=workspace, settings=settings, client=client).create()
    dataset.records.log([{"text": "x", "src": "web"}], mapping={"src": "source.metadata"})
    assert only(dataset).metadata == {"source": "web"}


def test_rows_without_anything_known_point_at_the_row(rich: rg.Dataset) -> None:
    rows = [{"text": "ok"}, {"text": "ok"}, {"colour": "blue"}]
    with pytest.raises(rg.RecordError) as caught:
        rich.records.log(rows)
    assert caught.value.index == 2
    assert "record 2 of the input has no key the dataset knows" in str(caught.value)
    assert "fields ['text', 'prompt']" in str(caught.value)
    with pytest.raises(rg.RecordError, match="record 0 of the input has no fields and no id"):
        rich.records.log([{"label": "positive"}])
    with pytest.raises(rg.RecordError, match="is a str"):
        rich.records.log(["just text"])


def test_on_error_skips_refused_rows(rich: rg.Dataset) -> None:
    rows = [{"text": "a"}, {"nothing": 1}, {"text": "c"}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rich.records.log(rows, on_error="warn")
        rich.records.log([{"nothing": 1}, {"text": "d"}], on_error="ignore")
    skipped = [str(w.message) for w in caught if str(w.message).startswith("skipped")]
    assert len(skipped) == 1 and "record 1 of the input has no key the dataset knows" in skipped[0]
    assert sorted(r.fields["text"] for r in rich.records()) == ["a", "c", "d"]


# ---------------------------------------------------------------- upserts


def test_logging_the_same_ids_updates_without_duplicates(rich: rg.Dataset) -> None:
    rich.records.log([{"id": "r1", "text": "first", "label": "positive"}, {"id": "r2", "text": "other"}])
    rich.records.log([{"id": "r1", "text": "second", "label": "negative", "n": 5}])
    records = {r.id: r for r in rich.records()}
    assert set(records) == {"r1", "r2"}
    assert records["r1"].fields["text"] == "second" and records["r1"].metadata == {"n": 5}
    assert records["r1"].suggestions["label"].value == "negative"  # type: ignore[union-attr]


def test_a_record_object_without_id_gets_one_and_logging_it_again_updates(rich: rg.Dataset) -> None:
    record = rg.Record(fields={"text": "v1"})
    rich.records.log([record])
    assert record.id is not None and record._server_id is not None and record.dataset is rich
    record.fields["text"] = "v2"
    rich.records.log([record])
    assert [r.fields["text"] for r in rich.records()] == ["v2"]


def test_fetched_records_changed_and_logged_by_name(client: rg.Quire, rich: rg.Dataset) -> None:
    """seed 002's listener body: `rec.metadata = {...}` then `rg.log(name, records)`."""
    rich.records.log([{"text": "a", "n": 1}, {"text": "b", "n": 2}])
    records = list(rich.records())
    for rec in records:
        rec.metadata = {"n": 10}
    rg.log(rich.name, records, workspace=rich.workspace)
    assert sorted(r.metadata["n"] for r in rich.records()) == [10, 10]
    assert rich.records.count() == 2
    with pytest.raises(rg.NotFoundError, match="dataset 'missing' not found"):
        rg.log("missing", records, workspace=rich.workspace)


def test_records_of_one_dataset_logged_into_another_are_copied(client: rg.Quire, rich: rg.Dataset) -> None:
    rich.records.log([{"id": "x1", "text": "a", "label": "positive"}])
    copy = rg.Dataset(
        name=unique("copy"), workspace=rich.workspace, settings=rich.settings, client=client
    ).create()
    copy.records.log(list(rich.records()))
    (record,) = list(copy.records())
    assert record.id == "x1" and record._server_id != only(rich)._server_id
    assert record.suggestions["label"].value == "positive"  # type: ignore[union-attr]


def test_a_hugging_face_dataset_is_logged_row_by_row(rich: rg.Dataset) -> None:
    datasets = pytest.importorskip("datasets")
    hf = datasets.Dataset.from_list([{"id": "hf-1", "text": "a", "label": "positive", "conf": 0.5}])
    rich.records.log(hf, mapping={"conf": "label.suggestion.score"})
    record = only(rich)
    assert record.id == "hf-1" and record.suggestions["label"].score == 0.5  # type: ignore[union-attr]


def test_responses_round_trip(client: rg.Quire, rich: rg.Dataset) -> None:
    me = client.me.id
    assert me is not None
    rich.records.log(
        [
            rg.Record(
                id="resp",
                fields={"text": "Bob works here"},
                responses=[
                    rg.Response("label", "positive", me, "submitted"),
                    rg.Response("rank", ["3", "1", "2"], me, "submitted"),
                    rg.Response("span", [{"label": "PER", "start": 0, "end": 3}], me, "submitted"),
                ],
            )
        ]
    )
    record = only(rich)
    assert record.status == "completed"
    assert record.responses["rank"][0].value == ["3", "1", "2"]  # ranks follow list order
    assert record.responses["span"][0].value == [{"label": "PER", "start": 0, "end": 3}]
    assert {r.status for r in record.responses} == {"submitted"}
    with pytest.raises(rg.RecordError, match="already has a response"):
        record.responses.add(rg.Response("label", "negative", me))
    with pytest.raises(rg.RecordError, match="Available questions are"):
        rich.records.log([rg.Record(fields={"text": "x"}, responses=[rg.Response("nope", "a", me)])])


# ---------------------------------------------------------------- batches and errors


def test_batches_and_the_row_the_server_refused(rich: rg.Dataset) -> None:
    rows = [{"id": f"row-{i}", "text": f"text {i}", "label": "positive"} for i in range(30)]
    rows[23]["label"] = "purple"
    with pytest.raises(rg.RecordValidationError) as caught:
        rich.records.log(rows, batch_size=10)
    error = caught.value
    assert error.index == 23 and error.record is rows[23] and error.status_code == 422
    message = str(error)
    assert "record 23 of the input (id 'row-23') was refused" in message
    assert "Record at position 23 is not valid" in message
    assert "'purple' is not a valid label" in message
    assert isinstance(error, rg.ValidationError)
    # the two batches before the failing one were written; nothing after it
    assert rich.records.count() == 20


def test_schema_errors_point_at_the_row_too(rich: rg.Dataset) -> None:
    rows = [{"text": f"t{i}", "label": "positive", "s": 0.5} for i in range(7)]
    rows[5]["s"] = 1.5
    with pytest.raises(rg.RecordValidationError) as caught:
        rich.records.log(rows, batch_size=4, mapping={"s": "label.suggestion.score"})
    assert caught.value.index == 5
    assert "records[5].suggestions[0].score" in str(caught.value)


def test_a_batch_level_refusal_names_the_rows_of_the_batch(rich: rg.Dataset) -> None:
    rows = [{"id": "same", "text": "a"}, {"id": "same", "text": "b"}]
    with pytest.raises(rg.ValidationError) as caught:
        rich.records.log(rows)
    assert not isinstance(caught.value, rg.RecordValidationError)
    assert "records 0..1 were refused" in str(caught.value) and "same" in str(caught.value)


def test_batch_size_is_capped_and_a_progress_bar_can_be_shown(
    rich: rg.Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"text": f"t{i}"} for i in range(1200)]
    rich.records.log(rows, batch_size=10_000, show_progress=True)
    assert rich.records.count() == 1200
    err = capsys.readouterr().err
    assert "1200/1200" in err and rich.name in err
    rich.records.log(({"text": f"g{i}"} for i in range(5)), show_progress=False)  # any iterable
    assert rich.records.count() == 1205
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="no records"):
        rich.records.log([])


def test_delete(rich: rg.Dataset) -> None:
    rich.records.log([{"id": f"d{i}", "text": str(i)} for i in range(5)])
    records = list(rich.records())
    rich.records.delete(records[:2])  # by server id
    rich.records.delete(["d2", uuid.uuid4()])  # the caller's id; an unknown server id is skipped
    rich.records.delete([rg.Record(id="d3", fields={"text": "?"})])  # a record known by its id only
    assert [r.id for r in rich.records()] == ["d4"]
