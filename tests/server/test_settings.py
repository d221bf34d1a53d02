"""Server settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from quire.server.settings import Settings, default_home


def test_empty_variables_mean_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QUIRE_HOME", "QUIRE_DATABASE_URL", "QUIRE_OWNER_USERNAME", "QUIRE_OWNER_API_KEY"):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.home == default_home()
    assert settings.resolved_database_url == f"sqlite:///{default_home() / 'quire.db'}"
    assert settings.owner_username == "quire" and settings.owner_api_key is None


def test_set_variables_are_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUIRE_HOME", str(tmp_path))
    monkeypatch.setenv("QUIRE_OWNER_USERNAME", "boss")
    settings = Settings()
    assert settings.home == tmp_path and settings.owner_username == "boss"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'quire.db'}"
