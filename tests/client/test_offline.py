"""Pure pieces of the SDK, without a server: the search body, mapping targets, the swapped-argument
check, settings wire forms."""

from __future__ import annotations

import uuid

import pytest

import quire as rg
from quire.client.records.mapping import Target, parse_target
from quire.client.records.suggestions import check_suggestion


def test_query_body() -> None:
    query = rg.Query(
        query="metadata.batch_id:3 AND status:pending",
        filter=[("label", "in", ["a", "b"]), ("label.suggestion.score", ">=", 0.5), ("metadata.n", "<=", 5)],
        similar=rg.Similar("emb", [1, 2]),
    )
    assert query.to_wire() == {
        "query": {
            "query_string": "metadata.batch_id:3 AND status:pending",
            "vector": {"name": "emb", "order": "most_similar", "value": [1.0, 2.0]},
        },
        "filters": {
            "and": [
                {"type": "terms", "scope": {"entity": "suggestion", "question": "label", "property": "value"}, "values": ["a", "b"]},
                {"type": "range", "scope": {"entity": "suggestion", "question": "label", "property": "score"}, "ge": 0.5, "le": None},
                {"type": "range", "scope": {"entity": "metadata", "metadata_property": "n"}, "ge": None, "le": 5},
            ]
        },
    }  # fmt: skip
    assert rg.Query(text="a:b", text_field="text").to_wire() == {
        "query": {"text": {"q": "a:b", "field": "text"}}
    }
    assert rg.Query().to_wire() == {} and not rg.Query().has_search()


@pytest.mark.parametrize(
    ("field", "scope"),
    [
        ("status", {"entity": "record", "property": "status"}),
        ("id", {"entity": "record", "property": "external_id"}),
        ("_server_id", {"entity": "record", "property": "id"}),
        ("inserted_at", {"entity": "record", "property": "inserted_at"}),
        ("response.status", {"entity": "response", "property": "status"}),
        ("metadata.a.b", {"entity": "metadata", "metadata_property": "a.b"}),
        ("label", {"entity": "suggestion", "question": "label", "property": "value"}),
        ("label.suggestion", {"entity": "suggestion", "question": "label", "property": "value"}),
        ("label.agent", {"entity": "suggestion", "question": "label", "property": "agent"}),
        ("label.suggestion.type", {"entity": "suggestion", "question": "label", "property": "type"}),
        ("label.response", {"entity": "response", "question": "label"}),
    ],
)
def test_condition_scopes(field: str, scope: dict[str, str]) -> None:
    assert rg.Condition((field, "==", "x")).to_wire()["scope"] == scope


def test_similar_to_a_record_needs_its_server_id() -> None:
    record = rg.Record(fields={"text": "x"})
    with pytest.raises(ValueError, match="no server id"):
        rg.Similar("emb", record).to_wire()
    record._server_id = uuid.UUID(int=7)
    assert rg.Similar("emb", record, most_similar=False).to_wire() == {
        "name": "emb",
        "order": "least_similar",
        "record_id": str(uuid.UUID(int=7)),
    }


def settings() -> rg.Settings:
    return rg.Settings(
        fields=[rg.TextField("text"), rg.TextField("a.b")],
        questions=[rg.LabelQuestion("label", ["x", "y"]), rg.RatingQuestion("rating", [1, 2])],
        metadata=[rg.TermsMetadataProperty("lang")],
        vectors=[rg.VectorField("emb", 2)],
    )


@pytest.mark.parametrize(
    ("spec", "target"),
    [
        ("text", Target("field", "text")),
        ("a.b", Target("field", "a.b")),  # names may contain dots
        ("a.b.field", Target("field", "a.b")),
        ("label", Target("suggestion", "label")),
        ("label.suggestion.agent", Target("suggestion", "label", "agent")),
        ("label.response", Target("response", "label")),
        ("lang", Target("metadata", "lang")),
        ("extra.metadata", Target("metadata", "extra")),
        ("emb.vector", Target("vector", "emb")),
        ("id", Target("id", "id")),
    ],
)
def test_mapping_targets(spec: str, target: Target) -> None:
    assert parse_target(spec, settings()) == target


def test_swapped_arguments_are_recognised_for_any_value_type() -> None:
    questions = settings().questions
    with pytest.raises(rg.SuggestionError) as caught:
        check_suggestion(rg.Suggestion(4, "rating", agent="m"), questions, "ds")  # type: ignore[arg-type]
    assert 'Use rg.Suggestion("rating", 4, agent="m")' in str(caught.value)
    with pytest.raises(rg.SuggestionError, match=r"Available questions are: \['label', 'rating'\]"):
        check_suggestion(rg.Suggestion("colour", "blue"), questions, "ds")
    assert check_suggestion(rg.Suggestion("label", "x"), questions, "ds") is questions["label"]


def test_settings_wire_forms_and_lookups() -> None:
    s = settings()
    assert s.questions["label"].to_wire() == {  # type: ignore[union-attr]
        "name": "label",
        "title": "label",
        "settings": {
            "type": "label_selection",
            "options": [{"value": "x", "text": "x"}, {"value": "y", "text": "y"}],
            "visible_options": None,
        },
        "required": True,
    }
    assert rg.RankingQuestion("r", ["a", "b"]).value_to_wire(["b", "a"]) == [{"value": "b"}, {"value": "a"}]
    assert rg.RankingQuestion("r", ["a", "b"]).value_from_wire(
        [{"value": "a", "rank": 2}, {"value": "b", "rank": 1}]
    ) == ["b", "a"]
    assert s.questions[0].name == "label" and s.questions["nope"] is None and "rating" in s.questions
    assert list(s.schema) == ["text", "a.b", "label", "rating", "emb", "lang"]
    copy = s.copy()
    assert copy == s and copy.questions["label"] is not s.questions["label"]
    with pytest.raises(ValueError, match="already exists"):
        s.fields.add(rg.TextField("text"))
    with pytest.raises(ValueError, match="refers to field 'nope'"):
        rg.Settings(
            fields=[rg.TextField("t")], questions=[rg.SpanQuestion("s", field="nope", labels=["A"])]
        ).validate()
    with pytest.raises(ValueError, match="min"):
        rg.IntegerMetadataProperty("n", min=3, max=1)
    with pytest.raises(ValueError):
        rg.LabelQuestion("l", [])


def test_records_and_responses_by_themselves() -> None:
    with pytest.raises(ValueError, match="needs fields"):
        rg.Record()
    with pytest.raises(ValueError, match="needs an id"):
        rg.Record(metadata={"a": 1})
    user = uuid.uuid4()
    record = rg.Record(
        id=5,  # type: ignore[arg-type]
        fields={"text": "x"},
        responses=[
            rg.Response("label", "x", user, "submitted"),
            rg.Response("rating", 1, str(user), "draft"),
        ],
    )
    assert record.id == "5"
    (group,) = record.responses.by_user()
    with pytest.warns(UserWarning, match="different statuses"):
        assert group.status == "draft"
    with pytest.raises(ValueError, match="needs a value"):
        rg.Response("label", None, user, "submitted")
    again = rg.Record.from_dict(record.to_dict())
    assert again == record


def test_polling_runs_start_one_interval_apart_whatever_a_run_takes() -> None:
    from quire.client.listeners.listener import next_run_start

    assert next_run_start(100.0, 5.0, now=101.5) == 105.0  # a 1.5 s run does not delay the next
    assert next_run_start(100.0, 5.0, now=104.999) == 105.0
    assert next_run_start(100.0, 5.0, now=107.0) == 107.0  # a run longer than the interval: at once
