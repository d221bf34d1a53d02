"""Helpers of the listener tests: waiting without timing assertions, datasets under the seeds'
fixed names (in the default workspace, recreated for each test)."""

from __future__ import annotations

import time
from collections.abc import Callable

import quire as rg

WAIT_SECONDS = 60.0
"""Generous: the machine is shared and loaded; only a hang should reach it."""


def wait_for(predicate: Callable[[], object], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def fresh_dataset(client: rg.Quire, name: str, settings: rg.Settings) -> rg.Dataset:
    """A new, published dataset called `name` in the default workspace (an older one is deleted)."""
    old = client.datasets(name)
    if old is not None:
        old.delete()
    return rg.Dataset(name=name, settings=settings, client=client).create()


def text_label_settings() -> rg.Settings:
    return rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.LabelQuestion(name="label", labels=["positive", "negative"])],
        metadata=[rg.IntegerMetadataProperty(name="batch_id")],
        allow_extra_metadata=True,
    )
