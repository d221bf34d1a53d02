"""The SDK examples of README.md and docs/sdk.md's quick start run against a live server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import quire as rg
from tests.client.conftest import LiveServer, unique

ROOT = Path(__file__).resolve().parents[2]


def python_block_after(path: Path, heading: str) -> str:
    text = path.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {heading!r} in {path}"
    return match.group(1)


@pytest.mark.parametrize(
    ("path", "heading"), [(ROOT / "README.md", "## Python SDK"), (ROOT / "docs" / "sdk.md", "## Quick start")]
)
def test_example_runs(
    server: LiveServer, path: Path, heading: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = python_block_after(path, heading)
    code = code.replace('"http://127.0.0.1:6900"', repr(server.url)).replace('"qk_…"', repr(server.api_key))
    code = code.replace('name="reviews"', f"name={unique('reviews')!r}")
    namespace: dict[str, object] = {}
    exec(compile(code, str(path), "exec"), namespace)
    client = namespace["client"]
    assert isinstance(client, rg.Quire)
    client.close()
    assert "positive" in capsys.readouterr().out
