"""`TextGenerationToQuire`: instruction + generation records with a 👎/👍 quality question."""

from __future__ import annotations

from typing import Any

from quire.client.pipelines.base import QuireStep, Row, content_id, instruction_hash
from quire.client.records.record import Record
from quire.client.settings import LabelQuestion, Settings, TextField

__all__ = ["TextGenerationToQuire"]


class TextGenerationToQuire(QuireStep):
    """Pushes `{"instruction": str, "generation": str | list[str]}` rows: one record per distinct
    generation, with the fields `id` (SHA-256 of the instruction), `instruction`, `generation`,
    and a `quality` label question (`bad` 👎 / `good` 👍).

    The record id is derived from the instruction and the generation, so a re-run updates the same
    records. `num_generations` is accepted (the seed's example passes it) and not needed: every
    generation of a list becomes a record.
    """

    kind = "text_generation"

    def __init__(self, *, num_generations: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.num_generations = num_generations

    @property
    def inputs(self) -> list[str]:
        return ["instruction", "generation"]

    def settings(self) -> Settings:
        return Settings(
            fields=[
                TextField(name="id", title="id"),
                TextField(name="instruction", title="instruction"),
                TextField(name="generation", title="generation"),
            ],
            questions=[
                LabelQuestion(
                    name="quality",
                    title="What's the quality of the generation for the given instruction?",
                    labels={"bad": "👎", "good": "👍"},
                )
            ],
        )

    def required_fields(self) -> list[str]:
        return ["id", "instruction", "generation"]

    def records_for(self, row: Row) -> list[Record]:
        instruction = self.value(row, "instruction")
        if not isinstance(instruction, str):
            raise TypeError(f"instruction must be a string, got {type(instruction).__name__}")
        generations = self.value(row, "generation")
        if not isinstance(generations, list):
            generations = [generations]
        records: list[Record] = []
        seen: set[str] = set()
        for generation in generations:
            if generation is None or generation in seen:
                continue
            if not isinstance(generation, str):
                raise TypeError(f"a generation must be a string, got {type(generation).__name__}")
            seen.add(generation)
            records.append(
                Record(
                    id=content_id(self.kind, instruction, generation),
                    fields={
                        "id": instruction_hash(instruction),
                        "instruction": instruction,
                        "generation": generation,
                    },
                )
            )
        return records
