"""Dataset settings: fields, questions, metadata properties, vectors, distribution."""

from quire.client.settings.base import Property
from quire.client.settings.fields import ChatField, CustomField, Field, ImageField, TextField
from quire.client.settings.metadata import (
    FloatMetadataProperty,
    IntegerMetadataProperty,
    MetadataProperty,
    TermsMetadataProperty,
    VectorField,
)
from quire.client.settings.questions import (
    LabelQuestion,
    MultiLabelQuestion,
    Question,
    RankingQuestion,
    RatingQuestion,
    SpanQuestion,
    TextQuestion,
)
from quire.client.settings.settings import Settings, SettingsProperties, TaskDistribution

__all__ = [
    "ChatField",
    "CustomField",
    "Field",
    "FloatMetadataProperty",
    "ImageField",
    "IntegerMetadataProperty",
    "LabelQuestion",
    "MetadataProperty",
    "MultiLabelQuestion",
    "Property",
    "Question",
    "RankingQuestion",
    "RatingQuestion",
    "Settings",
    "SettingsProperties",
    "SpanQuestion",
    "TaskDistribution",
    "TermsMetadataProperty",
    "TextField",
    "TextQuestion",
    "VectorField",
]
