"""The SDK stays light: it works with only its base dependencies, never imports the server, and
`import quire` itself loads nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = (
    "fastapi", "starlette", "sqlalchemy", "alembic", "aiosqlite", "asyncpg", "uvicorn", "luqum",
    "numpy", "pandas", "pyarrow", "datasets", "orjson", "aiohttp", "argilla", "quire.server",
)  # fmt: skip


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter where importing any `BLOCKED` package fails."""
    prelude = textwrap.dedent(
        f"""
        import importlib.abc, sys
        BLOCKED = {BLOCKED!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                    raise ImportError(f"{{name}} is not installed (blocked by the test)")
                return None
        sys.meta_path.insert(0, Block())
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_the_sdk_works_with_only_its_base_dependencies() -> None:
    result = run_isolated(
        """
        import sys
        import quire
        assert "quire.client" not in sys.modules and "httpx" not in sys.modules, "import quire loads nothing"
        import quire as rg
        settings = rg.Settings(
            fields=[rg.TextField(name="text")],
            questions=[rg.LabelQuestion(name="label", labels=["a", "b"])],
        )
        client = rg.Quire(api_url="http://127.0.0.1:9", api_key="k", retries=0)
        dataset = rg.Dataset(name="d", settings=settings, client=client)
        record = rg.Record(fields={"text": "x"}, suggestions=[rg.Suggestion("label", "a")])
        from quire.client.http import dumps
        assert dumps({"a": 1}) == b'{"a":1}'
        try:
            client.workspaces.list()
        except rg.APIConnectionError:
            pass
        try:
            from quire.client.records.export import to_datasets
            to_datasets([record])
        except ImportError as exc:
            assert 'pip install "quire[datasets]"' in str(exc)
        else:
            raise AssertionError("to_datasets without the datasets library")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"pydantic", "tqdm"})
        print("ok", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_importing_the_server_does_not_load_the_sdk() -> None:
    code = "import sys, quire.server.app; print('quire.client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_sdk_does_not_import_the_server() -> None:
    from pathlib import Path

    import quire.client

    root = Path(quire.client.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "quire.server" in path.read_text() or "from quire import server" in path.read_text()
    ]
    assert offenders == []
