"""A small hand-made dataset that exercises every scope; expected results in the tests are written
against these five records (positions 0..4)."""

from __future__ import annotations

from tests.server.search.data import Rec, Spec


def sample_spec() -> Spec:
    return Spec(
        vectors={"emb": 3},
        records=[
            Rec(
                external_id="a",
                status="completed",
                fields={"text": "hello world", "extra": "alpha beta"},
                metadata={"lang": "en", "n": 1, "score": 0.5},
                suggestions={
                    "label": {"value": "pos", "score": 0.9, "agent": "gpt-4", "type": "model"},
                    "topics": {"value": ["a", "b"], "score": [0.2, 0.8]},
                    "rating": {"value": 5},
                    "rank": {"value": [{"value": "r1", "rank": 1}, {"value": "r2", "rank": 2}]},
                    "spans": {"value": [{"label": "PER", "start": 0, "end": 5}]},
                    "comment": {"value": "nice"},
                },
                responses={
                    "u1": {"status": "submitted", "values": {"label": "neg", "rating": 2, "topics": ["c"]}}
                },
                vectors={"emb": [1.0, 0.0, 0.0]},
            ),
            Rec(
                external_id="b",
                fields={"text": "hello there", "extra": "gamma"},
                metadata={"lang": "es", "n": 3, "score": 0.75},
                suggestions={
                    "label": {"value": "neg", "score": 0.4, "agent": "human1", "type": "human"},
                    "rating": {"value": 3},
                },
                responses={"u2": {"status": "draft", "values": {"label": "pos", "rating": 4}}},
                vectors={"emb": [0.9, 0.1, 0.0]},
            ),
            Rec(
                external_id=None,
                status="completed",
                fields={"text": "the quick brown fox"},
                metadata={"lang": ["en", "fr"], "n": 5},
                suggestions={"topics": {"value": ["c"], "score": [0.3]}},
                responses={
                    "u1": {"status": "discarded"},
                    "u2": {"status": "submitted", "values": {"label": "neg", "rating": 1}},
                },
                vectors={"emb": [0.0, 1.0, 0.0]},
            ),
            Rec(external_id="d", fields={"text": "world peace"}),
            Rec(
                external_id="e",
                fields={"text": "good world", "extra": "hello"},
                metadata={"lang": "fr", "n": 10, "score": 2.5},
                suggestions={
                    "rank": {"value": [{"value": "r3"}]},
                    "spans": {"value": [{"label": "ORG", "start": 0, "end": 4}]},
                },
                vectors={"emb": [-1.0, 0.0, 0.0]},
            ),
        ],
    )
