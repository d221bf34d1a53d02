"""Dataset settings used across the compat suite: every field, question, metadata and vector type."""

from __future__ import annotations

import argilla as rg

LABELS = ["pos", "neg", "neutral"]
TOPICS = ["sports", "politics", "tech", "art"]
RANKS = ["r1", "r2", "r3"]
SPAN_LABELS = ["PER", "ORG", "LOC"]
LANGS = ["en", "es", "fr"]
EMB_DIM = 3


def full_settings(*, min_submitted: int = 1, guidelines: str = "Label with care.") -> rg.Settings:
    """Every field type, all six question types, terms/integer/float metadata and a vector."""
    return rg.Settings(
        guidelines=guidelines,
        fields=[
            rg.TextField(name="text", title="Text", use_markdown=True),
            rg.ImageField(name="image", required=False),
            rg.ChatField(name="chat", required=False),
            rg.CustomField(name="custom", template="<div>{{record.fields.custom.key}}</div>", required=False),
        ],
        questions=[
            rg.LabelQuestion(name="label", labels=LABELS, title="Sentiment", description="Pick one"),
            rg.MultiLabelQuestion(name="topics", labels=TOPICS, required=False, visible_labels=3),
            rg.RatingQuestion(name="rating", values=[1, 2, 3, 4, 5], required=False),
            rg.RankingQuestion(name="rank", values=RANKS, required=False),
            rg.TextQuestion(name="comment", required=False, use_markdown=True),
            rg.SpanQuestion(
                name="spans", field="text", labels=SPAN_LABELS, required=False, allow_overlapping=False
            ),
        ],
        metadata=[
            rg.TermsMetadataProperty(name="lang", options=LANGS),
            rg.IntegerMetadataProperty(name="n", min=0, max=1000),
            rg.FloatMetadataProperty(name="score"),
        ],
        vectors=[rg.VectorField(name="emb", dimensions=EMB_DIM)],
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def simple_settings(*, min_submitted: int = 1) -> rg.Settings:
    """A small dataset: one text field, a label question, a little metadata and a vector."""
    return rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[
            rg.LabelQuestion(name="label", labels=LABELS),
            rg.RatingQuestion(name="rating", values=[1, 2, 3, 4, 5], required=False),
        ],
        metadata=[rg.IntegerMetadataProperty(name="n"), rg.TermsMetadataProperty(name="lang", options=LANGS)],
        vectors=[rg.VectorField(name="emb", dimensions=EMB_DIM)],
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def create_dataset(
    client: rg.Argilla, name: str, settings: rg.Settings, workspace: rg.Workspace | str | None = None
) -> rg.Dataset:
    return rg.Dataset(name=name, settings=settings, workspace=workspace, client=client).create()
