"""What SDK users see when the server says no: validation errors on `records.log` (and that a
refused batch writes nothing), and role checks."""

from __future__ import annotations

from typing import Any

import argilla as rg
import pytest
from argilla._exceptions import ForbiddenError, UnprocessableEntityError

from tests.compat.conftest import unique, user_with_key
from tests.compat.settings import create_dataset, full_settings, simple_settings

pytestmark = pytest.mark.compat


def _count(dataset: rg.Dataset) -> int:
    return len(list(dataset.records(with_suggestions=False, with_responses=False)))


def _bad_records(me_id: Any) -> list[tuple[str, list[Any], list[str]]]:
    """(case, records where the last one is invalid, substrings the error must contain)"""
    ok = {"text": "fine"}
    return [
        (
            "label",
            [ok, {"text": "b", "label": "nope"}],
            ["position 1", "label", "nope", "'pos', 'neg', 'neutral'"],
        ),
        ("terms metadata", [ok, ok, {"text": "b", "lang": "de"}], ["position 2", "lang", "de"]),
        ("integer metadata", [{"text": "b", "n": 5000}], ["position 0", "'n'", "1000"]),
        ("vector", [{"text": "b", "emb": [1.0, 2.0]}], ["emb", "3"]),
        ("rating", [{"text": "b", "rating": 9}], ["rating", "9", "[1, 2, 3, 4, 5]"]),
        (
            "span",
            [
                rg.Record(
                    fields={"text": "abc"},
                    suggestions=[rg.Suggestion("spans", [{"label": "PER", "start": 0, "end": 10}])],
                )
            ],
            ["spans", "3"],
        ),
        (
            "ranking value",
            [
                rg.Record(
                    fields={"text": "abc"},
                    responses=[rg.Response("rank", ["r1", "zz", "r3"], user_id=me_id, status="submitted")],
                )
            ],
            ["rank", "zz", "'r1', 'r2', 'r3'"],
        ),
        (
            "required question",
            [
                rg.Record(
                    fields={"text": "abc"},
                    responses=[rg.Response("comment", "x", user_id=me_id, status="submitted")],
                )
            ],
            ["label", "required"],
        ),
        ("required field", [ok, {"image": "https://example.org/a.png"}], ["position 1", "text"]),
        (
            "extra metadata",
            [rg.Record(fields={"text": "abc"}, metadata={"unknown_key": 1})],
            ["unknown_key", "extra metadata"],
        ),
    ]


def test_invalid_records_are_refused_with_a_useful_message(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    dataset = create_dataset(client, unique("ds"), full_settings(), workspace)
    for case, records, expected in _bad_records(client.me.id):
        with pytest.raises(UnprocessableEntityError) as caught:
            dataset.records.log(records)
        message = str(caught.value)
        for part in expected:
            assert part in message, f"{case}: {part!r} not in {message}"
        assert _count(dataset) == 0, f"{case}: a refused batch must write nothing"


def test_single_score_on_a_multi_label_suggestion_is_accepted(
    client: rg.Argilla, workspace: rg.Workspace
) -> None:
    """quire takes one overall score for a list value (Argilla answers 422); lists must match lengths."""
    dataset = create_dataset(client, unique("ds"), full_settings(), workspace)
    dataset.records.log(
        [
            rg.Record(
                id="one",
                fields={"text": "t"},
                suggestions=[rg.Suggestion("topics", ["tech", "art"], score=0.5)],
            )
        ]
    )
    [record] = list(dataset.records)
    assert (record.suggestions["topics"].value, record.suggestions["topics"].score) == (["tech", "art"], 0.5)
    with pytest.raises(UnprocessableEntityError, match="number of items"):
        dataset.records.log(
            [
                rg.Record(
                    fields={"text": "t"}, suggestions=[rg.Suggestion("topics", ["tech"], score=[0.5, 0.1])]
                )
            ]
        )


def test_extra_metadata_when_allowed(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    dataset.settings.allow_extra_metadata = True
    dataset.update()
    dataset.records.log(
        [rg.Record(id="x", fields={"text": "a"}, metadata={"free_form": {"k": [1, 2]}, "n": 2})]
    )
    [record] = list(dataset.records)
    assert record.metadata == {"free_form": {"k": [1, 2]}, "n": 2}


def test_roles(client: rg.Argilla, workspace: rg.Workspace) -> None:
    dataset = create_dataset(client, unique("ds"), simple_settings(), workspace)
    annotator, annotator_key = user_with_key(client, "annotator")
    admin, admin_key = user_with_key(client, "admin")
    annotator.add_to_workspace(workspace)
    admin.add_to_workspace(workspace)
    as_annotator = rg.Argilla(api_url=client.api_url, api_key=annotator_key)
    as_admin = rg.Argilla(api_url=client.api_url, api_key=admin_key)
    try:
        # an admin manages datasets of its workspaces
        admin_dataset = rg.Dataset(
            name=unique("ds"), settings=simple_settings(), workspace=workspace.name, client=as_admin
        ).create()
        admin_dataset.records.log([{"text": "by the admin", "label": "pos"}])
        assert [r.fields["text"] for r in admin_dataset.records] == ["by the admin"]
        with pytest.raises(ForbiddenError):
            as_admin.users.list()

        # an annotator reads the dataset but cannot create datasets, list users or list records
        found = as_annotator.datasets(dataset.name, workspace=workspace.name)
        assert found is not None and found.id == dataset.id
        with pytest.raises(ForbiddenError, match="not authorized to create a dataset"):
            rg.Dataset(
                name=unique("ds"), settings=simple_settings(), workspace=workspace.name, client=as_annotator
            ).create()
        with pytest.raises(ForbiddenError):
            as_annotator.users.list()
        with pytest.raises(ForbiddenError):  # as in Argilla: the SDK iterates with admin-level endpoints
            list(found.records)

        # someone outside the workspace does not see it
        _, outsider_key = user_with_key(client, "admin")
        as_outsider = rg.Argilla(api_url=client.api_url, api_key=outsider_key)
        assert workspace.name not in [w.name for w in as_outsider.workspaces]
        with pytest.raises(ForbiddenError):
            rg.Dataset(
                name=unique("ds"), settings=simple_settings(), workspace=workspace.id, client=as_outsider
            ).create()
    finally:
        rg.Argilla._set_default(client)
