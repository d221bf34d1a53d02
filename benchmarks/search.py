"""Filtered search over 100,000 records: median latency over HTTP, beside two baselines measured
in the same run.

    python benchmarks/search.py [--records 100000] [--queries 50]

A real `quire server` (SQLite, fresh home) gets N records through `PUT …/records/bulk` (the ingest
benchmark's records: a text field, a terms and a float metadata value, two suggestions), then
answers the query the issue names — a metadata term plus a metadata range, sorted, limit 50 — over
HTTP, `--queries` times (after a few warm-up calls). Printed: median and p95 latency, and a text
query for information.

Baselines, with plain `sqlite3` on the same machine in the same run:
- `naive`: the same filter evaluated straight on the records' JSON metadata (`json_extract`), on
  quire's own database file — what search costs without quire's index rows;
- `ideal`: a flat table with the two values as columns and a composite index — a floor no JSON
  document store reaches.
The figure to reach: median under 50 ms.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ingest import create_dataset, make_items, request_bodies, run_server

CATEGORY, LOW, HIGH = "news", 0.25, 0.75


def _timed(call: object, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)

    items = make_items(args.records, text_chars=200)
    with tempfile.TemporaryDirectory(prefix="quire-search-bench-") as tmp:
        home = Path(tmp)
        db_file = home / "quire.db"
        with run_server(home, f"sqlite:///{db_file}") as server:
            client = httpx.Client(
                base_url=server.base_url, headers={"X-Argilla-Api-Key": server.api_key}, timeout=120
            )
            dataset_id, questions = create_dataset(client)
            started = time.perf_counter()
            for body in request_bodies(items, 500, questions):
                response = client.put(
                    f"/api/v1/datasets/{dataset_id}/records/bulk",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                response.raise_for_status()
            print(f"loaded {args.records:,} records in {time.perf_counter() - started:.1f} s")

            url = f"/api/v1/datasets/{dataset_id}/records/search?limit=50"
            filtered = {
                "filters": {"and": [
                    {"type": "terms", "scope": {"entity": "metadata", "metadata_property": "category"}, "values": [CATEGORY]},
                    {"type": "range", "scope": {"entity": "metadata", "metadata_property": "score"}, "ge": LOW, "le": HIGH},
                ]},
                "sort": [{"scope": {"entity": "metadata", "metadata_property": "score"}, "order": "desc"}],
            }  # fmt: skip
            text = {"query": {"text": {"q": "late refund"}}}
            # the same words in a query string beside a filter: the text term compiles to
            # `records.id IN (<full-text matches>)`
            text_filtered = {"query": {"query_string": "late AND refund AND status:pending"}}

            def search(body: dict[str, object]) -> int:
                response = client.post(url, json=body)
                response.raise_for_status()
                return int(response.json()["total"])

            matches = search(filtered)
            _timed(lambda: search(filtered), 5)  # warm up
            quire_times = _timed(lambda: search(filtered), args.queries)
            text_total = search(text)
            text_times = _timed(lambda: search(text), max(5, args.queries // 5))
            text_filtered_total = search(text_filtered)
            text_filtered_times = _timed(lambda: search(text_filtered), max(5, args.queries // 5))

        raw = sqlite3.connect(db_file)
        naive_sql = (
            "SELECT id, count(*) OVER () FROM records WHERE dataset_id = ? "
            "AND json_extract(metadata, '$.category') = ? "
            "AND json_extract(metadata, '$.score') BETWEEN ? AND ? "
            "ORDER BY json_extract(metadata, '$.score') DESC LIMIT 50"
        )
        dataset_key = raw.execute("SELECT dataset_id FROM records LIMIT 1").fetchone()[0]
        naive_times = _timed(
            lambda: raw.execute(naive_sql, (dataset_key, CATEGORY, LOW, HIGH)).fetchall(),
            max(5, args.queries // 5),
        )
        flat = sqlite3.connect(":memory:")
        flat.execute("CREATE TABLE recs (id INTEGER PRIMARY KEY, category TEXT, score REAL)")
        flat.executemany(
            "INSERT INTO recs (category, score) VALUES (?, ?)", [(i.category, i.score) for i in items]
        )
        flat.execute("CREATE INDEX ix ON recs (category, score)")
        ideal_sql = (
            "SELECT id, count(*) OVER () FROM recs WHERE category = ? AND score BETWEEN ? AND ? "
            "ORDER BY score DESC LIMIT 50"
        )
        ideal_times = _timed(lambda: flat.execute(ideal_sql, (CATEGORY, LOW, HIGH)).fetchall(), args.queries)

    median = statistics.median(quire_times)
    print(f"filter: metadata.category = {CATEGORY!r} AND {LOW} <= metadata.score <= {HIGH}, sorted, limit 50")
    print(f"  matches: {matches:,} of {args.records:,}")
    print(f"  quire over HTTP   {_summary(quire_times)}")
    print(f"  naive JSON scan   {_summary(naive_times)}   (plain sqlite3, same file)")
    print(f"  ideal flat table  {_summary(ideal_times)}   (plain sqlite3, composite index)")
    print(f"text query 'late refund' ({text_total:,} matches): {_summary(text_times)}")
    print(
        f"query string {text_filtered['query']['query_string']!r} ({text_filtered_total:,} matches): "
        f"{_summary(text_filtered_times)}"
    )
    verdict = "meets" if median < 50 else "MISSES"
    ratio = statistics.median(naive_times) / median
    print(
        f"summary: median {median:.1f} ms ({verdict} the 50 ms figure); {ratio:.1f}x faster than the naive JSON scan"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
