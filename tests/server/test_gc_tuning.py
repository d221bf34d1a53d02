"""The collector settings of long-running processes (`gc_tuning`), checked in a child process so
that this test process keeps its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from quire.server.gc_tuning import YOUNG_THRESHOLD

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from quire.server.app import create_app
    from quire.server.gc_tuning import tune_for_service

    app = create_app()
    before = gc.get_threshold()
    tune_for_service()
    print(before[1], before[2], *gc.get_threshold(), gc.get_freeze_count())

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after the freeze
    alive = weakref.ref(a)
    del a, b
    gc.collect()
    print(alive() is None)
    """
)


def test_tuning_freezes_the_startup_heap_and_still_collects_new_cycles() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    settings, collected = done.stdout.split("\n")[:2]
    middle_before, old_before, young, middle, old, frozen = map(int, settings.split())
    assert young == YOUNG_THRESHOLD
    assert (middle, old) == (middle_before, old_before)  # the older generations keep their settings
    assert frozen > 10_000  # the modules and the application built at start-up
    assert collected == "True"
