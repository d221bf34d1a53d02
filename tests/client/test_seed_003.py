"""Every code block of seed 003 (`rg.Suggestion`), as written, against a live server.

Each block is copied verbatim between `# --- seed 003, block N` markers; only the import differs
(`import quire as rg`). Around it, the test sets up what the block assumes (a `dataset` variable)
and checks what the server stored. The two blocks that call `rg.Suggestion("negative", "label", …)`
value-first must fail with the error that shows the corrected call.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

import quire as rg
from tests.client.conftest import unique


def stored(dataset: rg.Dataset) -> list[rg.Record]:
    return list(dataset.records(with_suggestions=True, with_responses=True))


def test_block_1_a_dict_key_named_after_a_question_becomes_its_suggestion(dataset: rg.Dataset) -> None:
    # fmt: off
    # --- seed 003, block 1
    dataset.records.log(
        [
            {
                "text": "Hello World, how are you?",
                "label": "negative", # this will be used as a suggestion
            },
        ]
    )
    # ---
    # fmt: on
    (record,) = stored(dataset)
    assert record.fields == {"text": "Hello World, how are you?"}
    suggestion = record.suggestions["label"]
    assert suggestion is not None
    assert (suggestion.value, suggestion.score, suggestion.agent) == ("negative", None, None)
    assert record.responses["label"] == []


def test_block_2_mapping_routes_score_and_agent(dataset: rg.Dataset) -> None:
    # fmt: off
    # --- seed 003, block 2
    dataset.records.log(
        [
            {
                "prompt": "Hello World, how are you?",
                "label": "negative",  # this will be used as a suggestion
                "score": 0.9,  # this will be used as the suggestion score
                "model": "model_name",  # this will be used as the suggestion agent
            },
        ],
        mapping={
            "score": "label.suggestion.score",
            "model": "label.suggestion.agent",
        },  # `label` is the question name in the dataset settings
    )
    # ---
    # fmt: on
    (record,) = stored(dataset)
    assert record.fields == {"prompt": "Hello World, how are you?"}
    suggestion = record.suggestions["label"]
    assert suggestion is not None
    assert (suggestion.value, suggestion.score, suggestion.agent) == ("negative", 0.9, "model_name")


def test_block_3_value_first_suggestion_fails_with_the_corrected_call(dataset: rg.Dataset) -> None:
    with pytest.raises(rg.SuggestionError) as caught:
        # fmt: off
        # --- seed 003, block 3
        dataset.records.log(
            [
                rg.Record(
                    fields={"text": "Hello World, how are you?"},
                    suggestions=[rg.Suggestion("negative", "label", score=0.9, agent="model_name")],
                )
            ]
        )
        # ---
        # fmt: on
    message = str(caught.value)
    assert 'Suggestion("negative", "label") has its arguments swapped' in message
    assert "the signature is Suggestion(question_name, value)" in message
    assert 'Use rg.Suggestion("label", "negative", score=0.9, agent="model_name")' in message
    assert caught.value.index == 0
    assert isinstance(caught.value, ValueError)
    assert stored(dataset) == []  # nothing was sent

    # the corrected call, as the error shows it, works
    dataset.records.log(
        [
            rg.Record(
                fields={"text": "Hello World, how are you?"},
                suggestions=[rg.Suggestion("label", "negative", score=0.9, agent="model_name")],
            )
        ]
    )
    (record,) = stored(dataset)
    suggestion = record.suggestions["label"]
    assert suggestion is not None
    assert (suggestion.value, suggestion.score, suggestion.agent) == ("negative", 0.9, "model_name")


def test_block_4_iterating_reads_suggestions(dataset: rg.Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    dataset.records.log(
        [
            {"text": "first", "label": "negative"},
            {"text": "second", "label": "positive", "score": 0.2},
        ],
        mapping={"score": "label.suggestion.score"},
    )
    # fmt: off
    # --- seed 003, block 4
    for record in dataset.records(with_suggestions=True):
        print(record.suggestions["label"].value)
    # ---
    # fmt: on
    assert capsys.readouterr().out.split() == ["negative", "positive"]


def test_block_5_add_runs_when_every_record_has_a_suggestion(dataset: rg.Dataset) -> None:
    dataset.records.log([{"text": "Hello World, how are you?", "label": "negative"}])
    # fmt: off
    # --- seed 003, block 5
    for record in dataset.records(with_suggestions=True):
        if not record.suggestions["label"]: # (1)
            record.suggestions.add(
                rg.Suggestion("positive", "label", score=0.9, agent="model_name")
            ) # (2)
    # ---
    # fmt: on
    (record,) = stored(dataset)
    assert record.suggestions["label"].value == "negative"  # type: ignore[union-attr]


def test_block_5_add_on_a_record_without_suggestion_fails_with_the_corrected_call(
    dataset: rg.Dataset,
) -> None:
    dataset.records.log([{"text": "no suggestion yet"}])
    with pytest.raises(rg.SuggestionError) as caught:
        # fmt: off
        # --- seed 003, block 5
        for record in dataset.records(with_suggestions=True):
            if not record.suggestions["label"]: # (1)
                record.suggestions.add(
                    rg.Suggestion("positive", "label", score=0.9, agent="model_name")
                ) # (2)
        # ---
        # fmt: on
    message = str(caught.value)
    assert 'Suggestion("positive", "label") has its arguments swapped' in message
    assert 'Use rg.Suggestion("label", "positive", score=0.9, agent="model_name")' in message
    assert caught.value.index is None

    # the corrected block adds the suggestion, and logging the records stores it
    records = []
    for record in dataset.records(with_suggestions=True):
        if not record.suggestions["label"]:
            record.suggestions.add(rg.Suggestion("label", "positive", score=0.9, agent="model_name"))
            records.append(record)
    dataset.records.log(records)
    (record,) = stored(dataset)
    suggestion = record.suggestions["label"]
    assert suggestion is not None
    assert (suggestion.value, suggestion.score, suggestion.agent) == ("positive", 0.9, "model_name")


def value_formats_dataset(client: rg.Quire, workspace: rg.Workspace) -> rg.Dataset:
    """Block 6 names its questions `label`, `multi-label`, `rank`, `rating`, `span` and `text`; a
    question called `text` needs a field with another name."""
    settings = rg.Settings(
        fields=[rg.TextField(name="prompt")],
        questions=[
            rg.LabelQuestion(name="label", labels=["positive", "negative"]),
            rg.MultiLabelQuestion(name="multi-label", labels=["positive", "negative"], required=False),
            rg.RankingQuestion(name="rank", values=["1", "2", "3"], required=False),
            rg.RatingQuestion(name="rating", values=[1, 2, 3, 4, 5], required=False),
            rg.SpanQuestion(name="span", field="prompt", labels=["MISC", "PER"], required=False),
            rg.TextQuestion(name="text", required=False),
        ],
    )
    return rg.Dataset(name=unique("formats"), workspace=workspace, settings=settings, client=client).create()


# seed 003, block 6, verbatim: six `rg.Suggestion(...)` expression statements
SEED_003_BLOCK_6 = """
rg.Suggestion(
    question_name="label",
    value="positive",
    score=0.9,
    agent="model_name"
)
rg.Suggestion(
    question_name="multi-label",
    value=["positive", "negative"],
    score=0.9,
    agent="model_name"
)
rg.Suggestion(
    question_name="rank",
    value=["1", "3", "2"],
    score=0.9,
    agent="model_name"
)
rg.Suggestion(
    question_name="rating",
    value=4,
    score=0.9,
    agent="model_name"
)
rg.Suggestion(
    question_name="span",
    value=[{"start": 0, "end": 9, "label": "MISC"}],
    score=0.9,
    agent="model_name"
)
rg.Suggestion(
    question_name="text",
    value="value",
    score=0.9,
    agent="model_name"
)
"""


def run_collecting_expressions(source: str) -> list[Any]:
    """Run `source` (with `rg` in scope) and return the value of each top-level expression
    statement, which plain execution would discard."""
    tree = ast.parse(source)
    collected: list[Any] = []
    body: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, ast.Expr):
            call = ast.parse("__collect__(None)").body[0]
            assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
            call.value.args = [statement.value]
            body.append(ast.copy_location(call, statement))
        else:
            body.append(statement)
    tree.body = body
    exec(
        compile(ast.fix_missing_locations(tree), "seed_003_block_6", "exec"),
        {"rg": rg, "__collect__": collected.append},
    )
    return collected


def test_block_6_value_format_per_question_type(client: rg.Quire, workspace: rg.Workspace) -> None:
    dataset = value_formats_dataset(client, workspace)
    suggestions = run_collecting_expressions(SEED_003_BLOCK_6)
    assert len(suggestions) == 6 and all(isinstance(s, rg.Suggestion) for s in suggestions)
    dataset.records.log(
        [rg.Record(id="formats-1", fields={"prompt": "Hello World, how are you?"}, suggestions=suggestions)]
    )

    (record,) = stored(dataset)
    got = {s.question_name: (s.value, s.score, s.agent) for s in record.suggestions}
    assert got == {
        "label": ("positive", 0.9, "model_name"),
        "multi-label": (["positive", "negative"], 0.9, "model_name"),
        "rank": (["1", "3", "2"], 0.9, "model_name"),  # stored as [{"value": "1"}, …], read back as values
        "rating": (4, 0.9, "model_name"),
        "span": ([{"start": 0, "end": 9, "label": "MISC"}], 0.9, "model_name"),
        "text": ("value", 0.9, "model_name"),
    }
    raw = client.http.get(f"/api/v1/records/{record._server_id}")
    rank = next(
        s for s in raw["suggestions"] if s["question_id"] == str(dataset.settings.questions["rank"].id)
    )  # type: ignore[union-attr]
    assert [item["value"] for item in rank["value"]] == ["1", "3", "2"]


def test_suggestion_needs_a_question_name_and_a_value() -> None:
    with pytest.raises(ValueError, match="question_name is required"):
        rg.Suggestion(None, "positive")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="value is required"):
        rg.Suggestion("label", None)
    with pytest.raises(ValueError, match="type must be"):
        rg.Suggestion("label", "positive", type="robot")  # type: ignore[arg-type]
    suggestion = rg.Suggestion("label", "positive", score=0.5, agent="m", type="human")
    assert (suggestion.question_name, suggestion.value, suggestion.type) == ("label", "positive", "human")


def test_unknown_question_names_the_question_the_dataset_and_the_available_questions(
    dataset: rg.Dataset,
) -> None:
    with pytest.raises(rg.SuggestionError) as caught:
        dataset.records.log(
            [
                {"text": "fine"},
                rg.Record(fields={"text": "x"}, suggestions=[rg.Suggestion("sentiment", "positive")]),
            ]
        )
    message = str(caught.value)
    assert "'sentiment'" in message and repr(dataset.name) in message
    assert "Available questions are: ['label', 'multi-label', 'rank', 'rating', 'span', 'text-q']" in message
    assert caught.value.index == 1
    assert "swapped" not in message


def test_suggestions_container(dataset: rg.Dataset) -> None:
    record = rg.Record(fields={"text": "x"})
    assert not record.suggestions["label"]
    assert record.suggestions["label"] is None
    assert len(record.suggestions) == 0
    record.suggestions.add(rg.Suggestion("label", "positive"))
    record.suggestions.add(rg.Suggestion("label", "negative"))  # replaces: one per question
    assert [s.value for s in record.suggestions] == ["negative"]
    assert "label" in record.suggestions
    assert record.suggestions["label"].record is record  # type: ignore[union-attr]
    # a record that is not in a dataset yet cannot be checked; logging it does
    record.suggestions.add(rg.Suggestion("nope", "x"))
    with pytest.raises(rg.SuggestionError, match="no such question"):
        dataset.records.log([record])
