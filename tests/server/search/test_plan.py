"""How filters become SQL plans: ANDed row sets fused into one driven subquery, the driver chosen by
measured size on SQLite, and the indexes SQLite actually uses."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from quire.server.models import Record
from quire.server.search import (
    And,
    MetadataScope,
    Range,
    RecordScope,
    SearchQuery,
    SortBy,
    SuggestionScope,
    Terms,
    Text,
    compile_where,
)
from quire.server.search.conjunction import ESTIMATE_CAP, estimate_sizes
from quire.server.search.context import CompileContext
from quire.server.search.engine import search_records
from quire.server.search.filters import row_sources
from quire.server.search.sorting import sort_key
from tests.server.search.conftest import Store
from tests.server.search.data import Rec, Spec, load_dataset
from tests.server.search.test_errors import context

LANG = Terms(MetadataScope("lang"), ("en",))
N_RANGE = Range(MetadataScope("n"), ge=1, le=3)
LABEL = Terms(SuggestionScope("label"), ("pos",))


def sql(ctx: CompileContext, query: SearchQuery) -> str:
    statement = select(Record.id).where(*compile_where(ctx, query))
    dialect = sqlite.dialect() if ctx.dialect == "sqlite" else postgresql.dialect()
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def driver_of(statement: str) -> str:
    """The part of the SQL between the driver subquery's start and its alias."""
    start = statement.index("FROM (SELECT")
    return statement[start : statement.index(") AS driver", start)]


def test_and_of_row_sets_is_one_driven_subquery() -> None:
    statement = sql(
        context(), SearchQuery(filter=And((N_RANGE, LABEL, LANG, Terms(RecordScope("status"), ("pending",)))))
    )
    assert statement.count("AS driver") == 1
    assert statement.count("EXISTS (SELECT") == 2
    assert "'lang'" in driver_of(statement)  # equality on metadata drives when nothing is measured
    assert "records.status IN ('pending')" in statement


def test_measured_sizes_pick_the_driver() -> None:
    ctx = replace(context(), estimates={LANG: ESTIMATE_CAP, N_RANGE: 12, LABEL: 40})
    assert "'n'" in driver_of(sql(ctx, SearchQuery(filter=And((LANG, N_RANGE, LABEL)))))


def test_a_metadata_probe_names_its_key_not_the_dataset() -> None:
    """The name's number (`metadata_keys`) fixes the dataset: a probe is `record_id = ? AND key_id =
    ?`, which the per-record index serves on SQLite and PostgreSQL semi-joins on."""
    for dialect in ("sqlite", "postgresql"):
        statement = sql(context(dialect), SearchQuery(filter=And((LANG, N_RANGE))))
        probe = statement[statement.index("EXISTS (SELECT") :]
        assert "record_metadata.key_id = (SELECT metadata_keys.id" in probe, dialect
        assert "metadata_keys.name = 'n'" in probe, dialect
        assert "record_metadata.dataset_id" not in statement, dialect


@pytest.mark.parametrize(
    ("dialect", "node", "hinted"),
    [
        ("sqlite", LANG, True),
        ("sqlite", And((Terms(RecordScope("status"), ("pending",)), LANG)), True),
        ("sqlite", Terms(RecordScope("status"), ("pending",)), False),
        ("sqlite", LABEL, True),
        ("postgresql", LANG, False),
    ],
)
def test_dataset_test_is_unindexable_on_sqlite_when_a_subquery_drives(
    dialect: str, node: object, hinted: bool
) -> None:
    statement = sql(context(dialect), SearchQuery(filter=node))  # type: ignore[arg-type]
    assert ("(+ records.dataset_id)" in statement) is hinted
    assert ("records.dataset_id =" in statement) is not hinted


async def test_estimates_count_up_to_the_cap(store: Store) -> None:
    spec = Spec(records=[Rec(metadata={"lang": "en" if i % 10 else "fr", "n": i % 5}) for i in range(40)])
    seeded = await store.seed(spec)
    async with store.database.session(write=False) as session:
        dataset = await load_dataset(session, seeded.dataset_id)
        ctx = CompileContext.for_dataset(dataset, dialect=store.database.dialect)
        fr = Terms(MetadataScope("lang"), ("fr",))
        sizes = await estimate_sizes(
            session, ctx, row_sources(And((LANG, fr, N_RANGE, Terms(RecordScope("status"), ("pending",)))))
        )
    assert sizes == {LANG: 36, fr: 4, N_RANGE: 24}


async def test_sqlite_plan_uses_the_metadata_indexes(store: Store) -> None:
    """EXPLAIN QUERY PLAN of a term + range search on a database without statistics: the driver
    comes from the metadata value index, probes use the per-record index (both covering, so the
    metadata rows themselves are never read), records are looked up by id."""
    if store.database.dialect != "sqlite":
        pytest.skip("SQLite's plan")
    seeded = await store.seed(Spec(records=[Rec(metadata={"lang": "en", "n": i}) for i in range(30)]))
    async with store.database.session(write=False) as session:
        dataset = await load_dataset(session, seeded.dataset_id)
        ctx = CompileContext.for_dataset(dataset, dialect="sqlite")
        statement = sql(ctx, SearchQuery(filter=And((LANG, N_RANGE))))
        plan = [row[3] for row in await session.execute(text("EXPLAIN QUERY PLAN " + statement))]
    assert any("USING COVERING INDEX ix_record_metadata_text" in step for step in plan), plan
    assert any(
        "USING COVERING INDEX ix_record_metadata_record (record_id=? AND key_id=?" in step for step in plan
    ), plan
    assert any(
        "SEARCH metadata_keys USING COVERING INDEX sqlite_autoindex_metadata_keys_1 (dataset_id=? AND name=?)"
        in step
        for step in plan
    ), plan
    assert any("SEARCH records USING INDEX sqlite_autoindex_records_1 (id=?)" in step for step in plan), plan
    assert not any(step.startswith("SCAN records") for step in plan), plan


async def test_sqlite_text_term_beside_a_filter_is_driven_by_the_full_text_index(store: Store) -> None:
    """`records.id IN (<text matches>) AND <filter>`: the matches come from FTS5 and their rows by
    rowid. Given an index on `record_texts.dataset_id`, SQLite drove the text term from it instead
    and ran the full-text match once per text of the dataset (seconds on 60k records)."""
    if store.database.dialect != "sqlite":
        pytest.skip("SQLite's plan")
    texts = ["late refund", "battery died", "refund please"] * 10
    seeded = await store.seed(Spec(records=[Rec(fields={"text": t}, metadata={"lang": "en"}) for t in texts]))
    async with store.database.session(write=False) as session:
        dataset = await load_dataset(session, seeded.dataset_id)
        ctx = CompileContext.for_dataset(dataset, dialect="sqlite")
        query = SearchQuery(filter=Terms(RecordScope("status"), ("pending",)), text=Text("refund"))
        statement = select(Record.id).where(*compile_where(ctx, query))
        plan = [row[3] for row in await session.execute(text("EXPLAIN QUERY PLAN " + sql(ctx, query)))]
        found = list(await session.scalars(statement))
    assert len(found) == 20
    assert any("SCAN record_texts_fts VIRTUAL TABLE" in step for step in plan), plan
    assert any("SEARCH record_texts USING INTEGER PRIMARY KEY (rowid=?)" in step for step in plan), plan
    assert not any("dataset_id=?" in step for step in plan if "record_texts" in step), plan


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_sqlite_sort_by_a_terms_property_probes_each_record_by_its_own_index(
    store: Store, order: str
) -> None:
    """The sort value of each record is one probe of `ix_record_metadata_record (record_id, key_id)`;
    through the key's partial value index (where the record is the last column) it was a walk over
    the key's rows per record: seconds on 50k records."""
    if store.database.dialect != "sqlite":
        pytest.skip("SQLite's plan")
    langs = ["en", "fr", "de"] * 10
    seeded = await store.seed(
        Spec(records=[Rec(metadata={"lang": lang, "n": i}) for i, lang in enumerate(langs)])
    )
    async with store.database.session(write=False) as session:
        dataset = await load_dataset(session, seeded.dataset_id)
        ctx = CompileContext.for_dataset(dataset, dialect="sqlite")
        for query in (
            SearchQuery(sort=[SortBy(MetadataScope("lang"), order)]),  # type: ignore[arg-type]
            SearchQuery(filter=N_RANGE, sort=[SortBy(MetadataScope("lang"), order)]),  # type: ignore[arg-type]
        ):
            page = await search_records(session, dataset=dataset, query=query, offset=0, limit=50)
            values = [langs[seeded.index(record_id)] for record_id, _ in page.hits]
            assert values == sorted(values, reverse=order == "desc")
            key = sort_key(ctx, query.sort[0])
            statement = select(Record.id).where(Record.dataset_id == dataset.id).order_by(key)
            compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            plan = [row[3] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
            assert any("ix_record_metadata_record (record_id=? AND key_id=?)" in step for step in plan), plan
            assert not any("ix_record_metadata_text" in step for step in plan), plan


def test_anded_words_share_one_full_text_query_per_field() -> None:
    """`late AND refund AND status:pending` (a query string) runs one full-text query for both
    words; phrases, prefixes and words on another field keep their own."""
    status = Terms(RecordScope("status"), ("pending",))
    for dialect, marker in (("sqlite", "record_texts_fts MATCH"), ("postgresql", "to_tsquery")):
        ctx = context(dialect)
        words = sql(ctx, SearchQuery(filter=And((Text("late"), status, Text("refund")))))
        assert words.count(marker) == 1, words
        assert ('"late" "refund"' if dialect == "sqlite" else "''late'' & ''refund''") in words, words
        kept = And(
            (Text("late"), Text("refund", phrase=True), Text("refu", prefix=True), Text("late", field="text"))
        )
        assert sql(ctx, SearchQuery(filter=kept)).count(marker) == 4
