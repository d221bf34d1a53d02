"""Pipeline steps that push generated data to quire (`rg.pipelines`, also `quire.pipelines`).

They follow distilabel's Argilla steps (`load()`, `process(inputs)` yielding the inputs) and run
standalone: distilabel is not needed. Record ids are derived from the content, so running a
pipeline again updates its records instead of duplicating them.
"""

from quire.client.pipelines.base import QuireStep, content_id
from quire.client.pipelines.preference import PreferenceToQuire
from quire.client.pipelines.text_generation import TextGenerationToQuire

__all__ = ["PreferenceToQuire", "QuireStep", "TextGenerationToQuire", "content_id"]
