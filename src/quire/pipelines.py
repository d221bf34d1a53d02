"""`rg.pipelines` / `from quire.pipelines import PreferenceToQuire`: pipeline steps that push
generated data to quire (see `quire.client.pipelines`)."""

from quire.client.pipelines import PreferenceToQuire, QuireStep, TextGenerationToQuire, content_id

__all__ = ["PreferenceToQuire", "QuireStep", "TextGenerationToQuire", "content_id"]
