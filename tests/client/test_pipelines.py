"""`rg.pipelines`: seed 004's examples as written, and re-runs that update instead of duplicating.

The seed's blocks are kept in its own words; `port()` changes the import line (`distilabel.steps`
→ `quire.pipelines`), the names (`…ToArgilla` → `…ToQuire`) and the demo server's URL and key (to
the live test server's). The text-generation block of the seed imports `PreferenceToArgilla` but
uses `TextGenerationToArgilla`; its import line is corrected to the name it uses.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import quire as rg
from quire.pipelines import PreferenceToQuire, TextGenerationToQuire
from tests.client.conftest import LiveServer, unique

ROOT = Path(__file__).resolve().parents[2]

PREFERENCE = """
from distilabel.steps import PreferenceToArgilla

to_argilla = PreferenceToArgilla(
    num_generations=2,
    api_url="https://dibt-demo-argilla-space.hf.space/",
    api_key="api.key",
    dataset_name="argilla_dataset",
    dataset_workspace="my_workspace",
)
to_argilla.load()

result = next(
    to_argilla.process(
        [
            {
                "instruction": "instruction",
                "generations": ["first_generation", "second_generation"],
            }
        ],
    )
)
# >>> result
# [{'instruction': 'instruction', 'generations': ['first_generation', 'second_generation']}]
"""

PREFERENCE_WITH_RATINGS = """
result = next(
    to_argilla.process(
        [
            {
                "instruction": "instruction",
                "generations": ["first_generation", "second_generation"],
                "ratings": ["4", "5"],
                "rationales": ["rationale for 4", "rationale for 5"],
            }
        ],
    )
)
# >>> result
# [
#     {
#         'instruction': 'instruction',
#         'generations': ['first_generation', 'second_generation'],
#         'ratings': ['4', '5'],
#         'rationales': ['rationale for 4', 'rationale for 5']
#     }
# ]
"""

TEXT_GENERATION = """
from distilabel.steps import PreferenceToArgilla

to_argilla = TextGenerationToArgilla(
    num_generations=2,
    api_url="https://dibt-demo-argilla-space.hf.space/",
    api_key="api.key",
    dataset_name="argilla_dataset",
    dataset_workspace="my_workspace",
)
to_argilla.load()

result = next(
    to_argilla.process(
        [
            {
                "instruction": "instruction",
                "generation": "generation",
            }
        ],
    )
)
# >>> result
# [{'instruction': 'instruction', 'generation': 'generation'}]
"""


def port(code: str, server: LiveServer, *, uses: str | None = None) -> str:
    ported = code.replace('"https://dibt-demo-argilla-space.hf.space/"', repr(server.url))
    ported = ported.replace('api_key="api.key"', f"api_key={server.api_key!r}")
    if uses is not None:  # the seed's import line names another step than the block uses
        ported = ported.replace(
            "from distilabel.steps import PreferenceToArgilla", f"from distilabel.steps import {uses}"
        )
    ported = ported.replace("from distilabel.steps import", "from quire.pipelines import")
    ported = ported.replace("ToArgilla", "ToQuire")
    assert "distilabel" not in ported and "hf.space" not in ported
    return textwrap.dedent(ported)


def run(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    exec(compile(code, "seed_004", "exec"), namespace)
    return namespace


@pytest.fixture
def my_workspace(server: LiveServer, client: rg.Quire) -> Iterator[rg.Workspace]:
    """The seed's `my_workspace`, without an `argilla_dataset` in it."""
    workspace = client.workspaces("my_workspace") or rg.Workspace(name="my_workspace", client=client).create()
    old = client.datasets("argilla_dataset", workspace=workspace)
    if old is not None:
        old.delete()
    yield workspace
    old = client.datasets("argilla_dataset", workspace=workspace)
    if old is not None:
        old.delete()


def suggestions_of(record: rg.Record) -> dict[str, tuple[Any, str | None]]:
    return {name: (s["value"], s.get("agent")) for name, s in record.to_dict()["suggestions"].items()}


def test_seed_preference_blocks(server: LiveServer, client: rg.Quire, my_workspace: rg.Workspace) -> None:
    namespace = run(port(PREFERENCE, server), {})
    assert namespace["result"] == [
        {"instruction": "instruction", "generations": ["first_generation", "second_generation"]}
    ]
    dataset = client.datasets("argilla_dataset", workspace=my_workspace)
    assert dataset is not None
    assert [f.name for f in dataset.fields] == ["id", "instruction", "generations-0", "generations-1"]
    assert [q.name for q in dataset.questions] == [
        "generations-0-rating", "generations-0-rationale", "generations-1-rating", "generations-1-rationale",
    ]  # fmt: skip
    (record,) = list(dataset.records())
    assert record.fields["generations-1"] == "second_generation" and suggestions_of(record) == {}

    run(port(PREFERENCE_WITH_RATINGS, server), namespace)
    assert namespace["result"] == [
        {
            "instruction": "instruction",
            "generations": ["first_generation", "second_generation"],
            "ratings": ["4", "5"],
            "rationales": ["rationale for 4", "rationale for 5"],
        }
    ]
    (updated,) = list(dataset.records())  # the same content: the same record, now with suggestions
    assert updated.id == record.id
    assert suggestions_of(updated) == {
        "generations-0-rating": (4, None),
        "generations-1-rating": (5, None),
        "generations-0-rationale": ("rationale for 4", None),
        "generations-1-rationale": ("rationale for 5", None),
    }


def test_seed_text_generation_block(server: LiveServer, client: rg.Quire, my_workspace: rg.Workspace) -> None:
    namespace = run(port(TEXT_GENERATION, server, uses="TextGenerationToArgilla"), {})
    assert namespace["result"] == [{"instruction": "instruction", "generation": "generation"}]
    dataset = client.datasets("argilla_dataset", workspace=my_workspace)
    assert dataset is not None
    assert [q.name for q in dataset.questions] == ["quality"]
    (record,) = list(dataset.records())
    assert record.fields == {
        "id": hashlib.sha256(b"instruction").hexdigest(),  # groups the generations of an instruction
        "instruction": "instruction",
        "generation": "generation",
    }


@pytest.fixture
def target(server: LiveServer, client: rg.Quire, workspace: rg.Workspace) -> dict[str, Any]:
    return {
        "dataset_name": unique("pipe"),
        "dataset_workspace": workspace.name,
        "api_url": server.url,
        "api_key": server.api_key,
    }


ROWS = [
    {
        "instruction": f"Explain topic {i}",
        "generations": [f"short answer {i}", f"long answer {i}", f"odd answer {i}"],
        "ratings": [3, 5, 1],
        "rationales": ["ok", "thorough", "wrong"],
        "model_name": "judge-llm",
    }
    for i in range(5)
]


def test_preference_rerun_updates_instead_of_duplicating(client: rg.Quire, target: dict[str, Any]) -> None:
    first = PreferenceToQuire(num_generations=3, **target)
    first.load()
    assert next(first.process(ROWS)) == ROWS
    first.unload()

    again = PreferenceToQuire(num_generations=3, **target)  # a second run of the pipeline
    again.load()  # finds the dataset and checks it
    rerated = [{**row, "ratings": ["4", 4.0, 2]} for row in ROWS]
    assert next(again.process(rerated)) == rerated
    assert next(again.process(rerated)) == rerated

    dataset = client.datasets(target["dataset_name"], workspace=target["dataset_workspace"])
    assert dataset is not None
    records = list(dataset.records())
    assert len(records) == len(ROWS)
    for record in records:
        assert suggestions_of(record) == {
            "generations-0-rating": (4, "judge-llm"),
            "generations-1-rating": (4, "judge-llm"),
            "generations-2-rating": (2, "judge-llm"),
            "generations-0-rationale": ("ok", "judge-llm"),
            "generations-1-rationale": ("thorough", "judge-llm"),
            "generations-2-rationale": ("wrong", "judge-llm"),
        }
        assert record.suggestions["generations-0-rating"].type == "model"
    # other content is another record
    next(again.process([{**ROWS[0], "generations": ["a different answer"]}]))
    assert dataset.records.count() == len(ROWS) + 1


def test_text_generation_rerun_and_lists(client: rg.Quire, target: dict[str, Any]) -> None:
    rows = [
        {"instruction": "Say hi", "generation": ["hi", "hello", "hi"]},
        {"instruction": "Count", "generation": "1 2 3"},
    ]
    for _ in range(2):
        step = TextGenerationToQuire(**target)
        step.load()
        assert next(step.process(rows)) == rows
        step.unload()
    dataset = client.datasets(target["dataset_name"], workspace=target["dataset_workspace"])
    assert dataset is not None
    assert sorted(r.fields["generation"] for r in dataset.records()) == ["1 2 3", "hello", "hi"]


def test_load_validates_an_existing_dataset(client: rg.Quire, target: dict[str, Any]) -> None:
    text = TextGenerationToQuire(**target)
    text.load()
    preference = PreferenceToQuire(num_generations=2, **target)
    with pytest.raises(ValueError, match=r"missing fields \['generations-0', 'generations-1'\]"):
        preference.load()
    with pytest.raises(RuntimeError, match="load"):
        next(PreferenceToQuire(num_generations=2, **target).process(ROWS))


def test_bad_rows_and_ratings(target: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    step = PreferenceToQuire(num_generations=2, model_name="fallback-judge", **target)
    step.load()
    with caplog.at_level(logging.WARNING, logger="quire.pipelines"):
        next(step.process([{"instruction": "i", "generations": ["a", "b"], "ratings": ["7", None]}]))
    assert "skipped rating '7'" in caplog.text
    (record,) = list(step.dataset.records())
    assert suggestions_of(record) == {}
    with pytest.raises(ValueError, match=r"row 1 of the batch.*'generations'"):
        next(step.process([{"instruction": "i", "generations": ["a"]}, {"instruction": "no generations"}]))
    with pytest.raises(ValueError, match="3 generations but the step has num_generations=2"):
        next(step.process([{"instruction": "i", "generations": ["a", "b", "c"]}]))
    next(step.process([{"instruction": "j", "generations": ["a"], "ratings": [2]}]))
    mapped = PreferenceToQuire(num_generations=2, input_mappings={"instruction": "prompt"}, **target)
    mapped.load()
    next(mapped.process([{"prompt": "k", "generations": ["a", "b"], "ratings": [1, 2]}]))
    records = {r.fields["instruction"]: r for r in step.dataset.records()}
    assert suggestions_of(records["j"]) == {"generations-0-rating": (2, "fallback-judge")}
    assert records["k"].fields["generations-1"] == "b"


def test_steps_work_without_distilabel() -> None:
    code = textwrap.dedent(
        """
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("distilabel", "argilla", "fastapi"):
                    raise ImportError(name + " is blocked")
        sys.meta_path.insert(0, Block())
        import quire as rg
        step = rg.pipelines.PreferenceToQuire(num_generations=2, dataset_name="d", api_url="http://127.0.0.1:9")
        assert step.inputs == ["instruction", "generations"]
        assert [r.id for r in step.records_for({"instruction": "i", "generations": ["a", "b"]})] == [
            r.id for r in step.records_for({"instruction": "i", "generations": ["a", "b"]})
        ]
        from quire.pipelines import TextGenerationToQuire
        print("ok", "distilabel" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok False"


def test_the_docs_example_runs(server: LiveServer, client: rg.Quire, my_workspace: rg.Workspace) -> None:
    text = (ROOT / "docs" / "sdk.md").read_text()
    section = text[text.index("## Pipeline steps") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match
    code = (
        match.group(1)
        .replace('"http://127.0.0.1:6900"', repr(server.url))
        .replace('"qk_…"', repr(server.api_key))
    )
    name = unique("preferences")
    namespace = run(code.replace('"preferences"', repr(name)), {})
    assert namespace["result"][0]["model_name"] == "judge-llm"
    dataset = client.datasets(name, workspace=my_workspace)
    assert dataset is not None
    (record,) = list(dataset.records())
    assert record.suggestions["generations-1-rating"].value == 5
    assert record.suggestions["generations-1-rating"].agent == "judge-llm"
