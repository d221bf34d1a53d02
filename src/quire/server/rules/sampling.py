"""Deterministic sampling: whether a record is in a rule's sample depends only on the rule's id and
the record's id, so re-runs, backfills and every process agree, and over many records the fraction
kept is the sampling rate.
"""

from __future__ import annotations

import hashlib
import uuid

_SCALE = float(2**64)


def sample_point(rule_id: uuid.UUID, record_id: uuid.UUID) -> float:
    """A number in [0, 1), uniform over records, fixed for a (rule, record) pair."""
    digest = hashlib.sha256(rule_id.bytes + record_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_sample(rule_id: uuid.UUID, record_id: uuid.UUID, rate: float) -> bool:
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return sample_point(rule_id, record_id) < rate
