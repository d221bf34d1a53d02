"""A dataset's settings (fields, questions, metadata properties, vector settings) kept between
requests, checked against `datasets.settings_version`.

Every records request validates against the settings, and loading them through the ORM (four
queries) cost more than writing a small batch. Here they are loaded once per version:

- Any flush that inserts, changes or deletes a `Field`, `Question`, `MetadataProperty` or
  `VectorSettings` bumps its dataset's `settings_version`, in the same transaction (`after_flush`).
- `attach(session, dataset)` reads nothing more than the dataset's row, already loaded: when a
  cached copy has the row's version, the dataset's relationships get its objects; otherwise the
  settings are selected and cached under that version. Whichever process changed them, a later
  transaction sees a new version, so several servers can share a database.
- The cached objects are detached and shared by every session that reads them: the relationships
  (`Dataset.fields`, `.questions`, `.metadata_properties`, `.vectors_settings`) are view-only
  and are only ever read. To change a setting, load it (`session.get`): a session's own object
  stands in for the cached one on its dataset's relationships, pending changes included.
- A session that changed settings itself neither reads nor fills the cache (its changes may still
  roll back).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, event, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from quire.server.models import Base, Dataset, Field, MetadataProperty, Question, VectorSettings, table_of

SETTINGS_CACHE = "quire_settings_cache"
"""Key of the session's `info` holding the cache (`db.Database` sets it on its sessions)."""
_CHANGED = "quire.settings_changed"


def _query(model: type[Base], order: Any) -> Select[Any]:
    table = table_of(model)
    return select(table).where(table.c.dataset_id == bindparam("dataset_id")).order_by(order, table.c.id)


# The order of the relationships on `Dataset`; statements built once.
_QUERIES: tuple[tuple[str, type[Base], Select[Any]], ...] = (
    ("fields", Field, _query(Field, Field.position)),
    ("questions", Question, _query(Question, Question.inserted_at)),
    ("metadata_properties", MetadataProperty, _query(MetadataProperty, MetadataProperty.inserted_at)),
    ("vectors_settings", VectorSettings, _query(VectorSettings, VectorSettings.inserted_at)),
)
_datasets = table_of(Dataset)


@dataclass(frozen=True)
class _Entry:
    version: int
    # per relationship: (identity key, detached object), the objects never in a session
    settings: tuple[tuple[str, tuple[tuple[Any, Base], ...]], ...]


class SettingsCache:
    """Settings by dataset id, the most recently used `size` datasets."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, dataset_id: uuid.UUID, version: int) -> _Entry | None:
        entry = self._entries.get(dataset_id)
        if entry is None or entry.version != version:
            self.misses += 1
            return None
        self._entries.move_to_end(dataset_id)
        self.hits += 1
        return entry

    def put(self, dataset_id: uuid.UUID, entry: _Entry) -> None:
        self._entries[dataset_id] = entry
        self._entries.move_to_end(dataset_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


async def attach(session: AsyncSession, dataset: Dataset) -> None:
    """Give `dataset` (its row just loaded) its settings, from the cache when they are current."""
    cache = session.info.get(SETTINGS_CACHE)
    if not isinstance(cache, SettingsCache) or session.info.get(_CHANGED):
        cache = None
    entry = cache.get(dataset.id, dataset.settings_version) if cache is not None else None
    if entry is None:
        entry = await _select(session, dataset)
        if cache is not None:
            cache.put(dataset.id, entry)
    held = session.sync_session.identity_map
    for name, objects in entry.settings:
        given = []
        for key, obj in objects:
            present = held.get(key)
            given.append(obj if present is None else present)
        set_committed_value(dataset, name, given)


async def _select(session: AsyncSession, dataset: Dataset) -> _Entry:
    settings = []
    for name, model, query in _QUERIES:
        objects = []
        for row in (await session.execute(query, {"dataset_id": dataset.id})).mappings():
            obj = model(**row)
            make_transient_to_detached(obj)
            objects.append((inspect(obj).key, obj))
        settings.append((name, tuple(objects)))
    return _Entry(dataset.settings_version, tuple(settings))


@event.listens_for(Session, "after_flush")
def _bump_settings_versions(session: Session, _flush_context: Any) -> None:
    """Count a change of settings on the dataset's row, in the transaction that makes it."""
    changed: set[uuid.UUID] = {
        obj.dataset_id
        for objects in (session.new, session.dirty, session.deleted)
        for obj in objects
        if isinstance(obj, Field | Question | MetadataProperty | VectorSettings)
    }
    if not changed:
        return
    session.info[_CHANGED] = True
    session.connection().execute(
        update(_datasets)
        .where(_datasets.c.id.in_(sorted(changed)))
        .values(settings_version=_datasets.c.settings_version + 1)
    )
