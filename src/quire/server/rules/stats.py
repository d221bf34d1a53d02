"""`feedback_stats`: per question, over the *submitted* responses of the runs of one payload.

    {"<question>": {"n": int, "avg": float | null, "values": {"<answer>": int}, "show_feedback_arrow": bool}}

- `n`: how many numeric answers there are (rating questions; 0 for the others).
- `avg`: the mean of those answers, `null` when `n` is 0.
- `values`: counts of categorical answers: a label (`label_selection`), each selected label
  (`multi_label_selection`), each span's label (`span`), the option(s) ranked first (`ranking`).
  Empty for rating and text questions.
- `show_feedback_arrow`: true for numeric (rating) questions, whose `avg` can be compared over
  time; false for the others.

Every question of the dataset has an entry, answered or not; draft and discarded responses do not
count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NUMERIC_QUESTIONS = frozenset({"rating"})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _labels(kind: str, value: Any) -> list[str]:
    """The categorical members of one answer."""
    if kind == "label_selection":
        return [value] if isinstance(value, str) else []
    if kind == "multi_label_selection":
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    if kind == "span":
        if not isinstance(value, list):
            return []
        return [s["label"] for s in value if isinstance(s, dict) and isinstance(s.get("label"), str)]
    if kind == "ranking":
        if not isinstance(value, list):
            return []
        ranked: list[tuple[int, Any]] = []
        for position, item in enumerate(value, start=1):
            if isinstance(item, dict):
                rank = item.get("rank")
                ranked.append((rank if isinstance(rank, int) else position, item.get("value")))
        if not ranked:
            return []
        first = min(rank for rank, _ in ranked)
        return [v for rank, v in ranked if rank == first and isinstance(v, str)]
    return []


def feedback_stats(
    questions: Sequence[tuple[str, str]], responses: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`questions`: `(name, type)` of the dataset's questions; `responses`: response dicts with
    `status` and `values` (`{question: {"value": …}}`)."""
    kinds = dict(questions)
    counts: dict[str, int] = dict.fromkeys(kinds, 0)
    sums: dict[str, float] = dict.fromkeys(kinds, 0.0)
    values: dict[str, Counter[str]] = {name: Counter() for name in kinds}
    for response in responses:
        if response.get("status") != "submitted":
            continue
        for name, answer in (response.get("values") or {}).items():
            kind = kinds.get(name)
            if kind is None or not isinstance(answer, Mapping):
                continue
            value = answer.get("value")
            if kind in NUMERIC_QUESTIONS:
                number = _number(value)
                if number is not None:
                    counts[name] += 1
                    sums[name] += number
            else:
                values[name].update(_labels(kind, value))
    return {
        name: {
            "n": counts[name],
            "avg": sums[name] / counts[name] if counts[name] else None,
            "show_feedback_arrow": kind in NUMERIC_QUESTIONS,
            "values": dict(values[name]),
        }
        for name, kind in kinds.items()
    }
