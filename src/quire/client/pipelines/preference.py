"""`PreferenceToQuire`: an instruction and its generations side by side, rated 1–5 each."""

from __future__ import annotations

import logging
from typing import Any

from quire.client.pipelines.base import QuireStep, Row, content_id, instruction_hash
from quire.client.records.record import Record
from quire.client.records.suggestions import Suggestion
from quire.client.settings import Question, RatingQuestion, Settings, TextField, TextQuestion

__all__ = ["PreferenceToQuire"]

logger = logging.getLogger("quire.pipelines")

RATINGS = (1, 2, 3, 4, 5)


def _rating(value: Any) -> int | None:
    """1–5 from an int, a whole float or a numeric string ("4"); None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    if not number.is_integer() or int(number) not in RATINGS:
        return None
    return int(number)


class PreferenceToQuire(QuireStep):
    """Pushes `{"instruction": str, "generations": list[str], "ratings"?: list, "rationales"?:
    list[str], "model_name"?: str}` rows: one record per row with the fields `id` (SHA-256 of the
    instruction), `instruction`, `generations-0` … `generations-{n-1}`, and per generation a
    `generations-{i}-rating` question (1–5) and a `generations-{i}-rationale` text question.

    Ratings (ints or numeric strings, 1–5) and rationales become suggestions of those questions,
    of type `model` with the row's `model_name` (else the step's `model_name`) as agent; a rating
    outside 1–5 is skipped with a warning. The record id is derived from the instruction and the
    generations, so a re-run updates the same records (new ratings replace the old suggestions).
    """

    kind = "preference"

    def __init__(self, *, num_generations: int, model_name: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        if not isinstance(num_generations, int) or num_generations < 1:
            raise ValueError(f"num_generations must be a positive int, got {num_generations!r}")
        self.num_generations = num_generations
        self.model_name = model_name

    @property
    def inputs(self) -> list[str]:
        return ["instruction", "generations"]

    @property
    def optional_inputs(self) -> list[str]:
        return ["ratings", "rationales", "model_name"]

    def _generation_names(self) -> list[str]:
        return [f"generations-{i}" for i in range(self.num_generations)]

    def settings(self) -> Settings:
        questions: list[Question] = []
        for name in self._generation_names():
            questions.append(
                RatingQuestion(
                    name=f"{name}-rating",
                    title=f"Rate {name} given the instruction (1 = worst, 5 = best)",
                    values=list(RATINGS),
                )
            )
            questions.append(
                TextQuestion(
                    name=f"{name}-rationale", title=f"Rationale behind the rating of {name}", required=False
                )
            )
        return Settings(
            fields=[
                TextField(name="id", title="id"),
                TextField(name="instruction", title="instruction"),
                *[
                    TextField(name=n, title=n, required=i == 0)
                    for i, n in enumerate(self._generation_names())
                ],
            ],
            questions=questions,
        )

    def required_fields(self) -> list[str]:
        return ["id", "instruction", *self._generation_names()]

    def required_questions(self) -> list[str]:
        return [f"{n}-{kind}" for n in self._generation_names() for kind in ("rating", "rationale")]

    def records_for(self, row: Row) -> list[Record]:
        instruction = self.value(row, "instruction")
        if not isinstance(instruction, str):
            raise TypeError(f"instruction must be a string, got {type(instruction).__name__}")
        generations = self.value(row, "generations")
        if not isinstance(generations, list) or not generations:
            raise TypeError("generations must be a non-empty list of strings")
        if len(generations) > self.num_generations:
            raise ValueError(
                f"{len(generations)} generations but the step has num_generations={self.num_generations}"
            )
        fields: dict[str, Any] = {"id": instruction_hash(instruction), "instruction": instruction}
        for name, generation in zip(self._generation_names(), generations, strict=False):
            if generation is not None:
                fields[name] = str(generation)
        agent = row.get(self.column("model_name")) or self.model_name
        suggestions: list[Suggestion] = []
        ratings = row.get(self.column("ratings")) or []
        for index, raw in enumerate(ratings[: len(generations)]):
            rating = _rating(raw)
            if rating is None:
                if raw is not None:
                    logger.warning(
                        "skipped rating %r of generation %d: not an integer from 1 to 5", raw, index
                    )
                continue
            suggestions.append(Suggestion(f"generations-{index}-rating", rating, agent=agent, type="model"))
        rationales = row.get(self.column("rationales")) or []
        for index, rationale in enumerate(rationales[: len(generations)]):
            if isinstance(rationale, str) and rationale.strip():
                suggestions.append(
                    Suggestion(f"generations-{index}-rationale", rationale, agent=agent, type="model")
                )
        return [
            Record(
                id=content_id(self.kind, instruction, [str(g) for g in generations]),
                fields=fields,
                suggestions=suggestions,
            )
        ]
