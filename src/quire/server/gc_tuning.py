"""Garbage-collector settings for quire's long-running processes (`quire server`, `quire worker`).

CPython's cyclic collector runs its youngest generation every 700 net allocations of container
objects, and now and then a full collection that walks every tracked object of the process. A
service allocates all the time (a webhook delivery makes a few dozen containers: the request,
its task, headers, the attempt and its result) while almost nothing it allocates forms cycles:
reference counting frees it. With the default settings the dispatcher spent about a third of its
CPU in the collector once its process held a large heap (`benchmarks/delivery.py`, ten receivers).

`tune_for_service()`, called once after start-up:
- collects, then freezes what start-up built (modules, the application, its routes and
  statements): full collections no longer walk it (`gc.freeze`);
- raises the youngest generation's threshold to `YOUNG_THRESHOLD`, so collections run about thirty
  times less often; each walks at most that many young objects (a few megabytes).

Cyclic garbage is still collected, only in larger and rarer steps. Tests do not call it (the
test process builds many applications; freezing would keep each one's cycles forever).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune_for_service() -> None:
    """Freeze the start-up heap and make young collections rarer (see the module docstring)."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
