"""Wire schemas of a dataset's settings: fields, questions, metadata properties, vector settings.

The `settings` of each is stored as the normalized dict of its *Create* schema (defaults filled in),
and returned as stored.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from quire.server.wire import RequestModel, WireDatetime, WireModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Description = Annotated[str, StringConstraints(min_length=1, max_length=1000)]

LABEL_OPTIONS_MAX = 500
SPAN_OPTIONS_MAX = 500

# ---------------------------------------------------------------- fields


class TextFieldSettings(RequestModel):
    type: Literal["text"]
    use_markdown: bool = False


class ImageFieldSettings(RequestModel):
    type: Literal["image"]


class ChatFieldSettings(RequestModel):
    type: Literal["chat"]
    use_markdown: bool = True


class CustomFieldSettings(RequestModel):
    type: Literal["custom"]
    template: str
    advanced_mode: bool = False


FieldSettings = Annotated[
    TextFieldSettings | ImageFieldSettings | ChatFieldSettings | CustomFieldSettings,
    Field(discriminator="type"),
]


class FieldCreate(RequestModel):
    name: Name
    title: Title
    required: bool | None = None
    settings: FieldSettings


class FieldUpdate(RequestModel):
    title: Title | None = None
    settings: FieldSettings | None = None


class FieldOut(WireModel):
    id: uuid.UUID
    name: str
    title: str
    required: bool
    settings: dict[str, Any]
    dataset_id: uuid.UUID
    inserted_at: WireDatetime
    updated_at: WireDatetime


# ---------------------------------------------------------------- questions


class Option(RequestModel):
    value: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    description: Description | None = None


def _unique_values(options: list[Any]) -> None:
    seen: set[Any] = set()
    duplicates: set[str] = set()
    for option in options:
        if option.value in seen:
            duplicates.add(str(option.value))
        seen.add(option.value)
    if duplicates:
        raise ValueError(f"option values must be unique, found duplicates: {sorted(duplicates)}")


def _visible_options_fit(visible: int | None, options: list[Any]) -> None:
    if visible is not None and visible > len(options):
        raise ValueError(
            f"the value for 'visible_options' must be less or equal to the number of items in 'options' "
            f"({len(options)})"
        )


class TextQuestionSettings(RequestModel):
    type: Literal["text"]
    use_markdown: bool = False


class RatingOption(RequestModel):
    value: int = Field(ge=0, le=10)


class RatingQuestionSettings(RequestModel):
    type: Literal["rating"]
    options: list[RatingOption] = Field(min_length=2, max_length=11)

    @model_validator(mode="after")
    def _check(self) -> RatingQuestionSettings:
        _unique_values(self.options)
        return self


class LabelSelectionQuestionSettings(RequestModel):
    type: Literal["label_selection"]
    options: list[Option] = Field(min_length=2, max_length=LABEL_OPTIONS_MAX)
    visible_options: int | None = Field(default=None, ge=3)

    @model_validator(mode="after")
    def _check(self) -> LabelSelectionQuestionSettings:
        _unique_values(self.options)
        _visible_options_fit(self.visible_options, self.options)
        return self


class MultiLabelSelectionQuestionSettings(LabelSelectionQuestionSettings):
    type: Literal["multi_label_selection"]  # type: ignore[assignment]
    options_order: Literal["natural", "suggestion"] = "natural"


class RankingQuestionSettings(RequestModel):
    type: Literal["ranking"]
    options: list[Option] = Field(min_length=2, max_length=50)

    @model_validator(mode="after")
    def _check(self) -> RankingQuestionSettings:
        _unique_values(self.options)
        return self


class SpanQuestionSettings(RequestModel):
    type: Literal["span"]
    field: Name
    options: list[Option] = Field(min_length=1, max_length=SPAN_OPTIONS_MAX)
    visible_options: int | None = Field(default=None, ge=3)
    allow_overlapping: bool = False
    allow_character_annotation: bool = True

    @model_validator(mode="after")
    def _check(self) -> SpanQuestionSettings:
        _unique_values(self.options)
        _visible_options_fit(self.visible_options, self.options)
        return self


QuestionSettings = Annotated[
    TextQuestionSettings
    | RatingQuestionSettings
    | LabelSelectionQuestionSettings
    | MultiLabelSelectionQuestionSettings
    | RankingQuestionSettings
    | SpanQuestionSettings,
    Field(discriminator="type"),
]


class QuestionCreate(RequestModel):
    name: Name
    title: Title
    description: Description | None = None
    required: bool | None = None
    settings: QuestionSettings


# What may change in a question's settings, per type (the type and the option values may not).
# Keys a type does not list are ignored rather than refused: the argilla SDK PATCHes the whole
# settings object it holds (rating and ranking options included) whenever anything changes.


class TextQuestionSettingsUpdate(RequestModel):
    type: Literal["text"]
    use_markdown: bool | None = None


class RatingQuestionSettingsUpdate(RequestModel):
    type: Literal["rating"]


class LabelSelectionQuestionSettingsUpdate(RequestModel):
    type: Literal["label_selection"]
    options: list[Option] | None = Field(default=None, min_length=2, max_length=LABEL_OPTIONS_MAX)
    visible_options: int | None = Field(default=None, ge=3)


class MultiLabelSelectionQuestionSettingsUpdate(RequestModel):
    type: Literal["multi_label_selection"]
    options: list[Option] | None = Field(default=None, min_length=2, max_length=LABEL_OPTIONS_MAX)
    visible_options: int | None = Field(default=None, ge=3)
    options_order: Literal["natural", "suggestion"] | None = None


class RankingQuestionSettingsUpdate(RequestModel):
    type: Literal["ranking"]


class SpanQuestionSettingsUpdate(RequestModel):
    type: Literal["span"]
    options: list[Option] | None = Field(default=None, min_length=1, max_length=SPAN_OPTIONS_MAX)
    visible_options: int | None = Field(default=None, ge=3)
    allow_overlapping: bool | None = None


QuestionSettingsUpdate = Annotated[
    TextQuestionSettingsUpdate
    | RatingQuestionSettingsUpdate
    | LabelSelectionQuestionSettingsUpdate
    | MultiLabelSelectionQuestionSettingsUpdate
    | RankingQuestionSettingsUpdate
    | SpanQuestionSettingsUpdate,
    Field(discriminator="type"),
]


class QuestionUpdate(RequestModel):
    title: Title | None = None
    description: Description | None = None
    settings: QuestionSettingsUpdate | None = None


class QuestionOut(WireModel):
    id: uuid.UUID
    name: str
    title: str
    description: str | None = None
    required: bool
    settings: dict[str, Any]
    dataset_id: uuid.UUID
    inserted_at: WireDatetime
    updated_at: WireDatetime


# ---------------------------------------------------------------- metadata properties


class TermsMetadataSettings(RequestModel):
    type: Literal["terms"]
    values: list[Any] | None = Field(default=None, min_length=1, max_length=250)


class _NumericBounds(RequestModel):
    @model_validator(mode="after")
    def _bounds(self) -> _NumericBounds:
        low, high = getattr(self, "min", None), getattr(self, "max", None)
        if low is not None and high is not None and low >= high:
            raise ValueError(f"'min' ({low}) must be lower than 'max' ({high})")
        return self


class IntegerMetadataSettings(_NumericBounds):
    type: Literal["integer"]
    min: int | None = None
    max: int | None = None


class FloatMetadataSettings(_NumericBounds):
    type: Literal["float"]
    min: float | None = None
    max: float | None = None


MetadataSettings = Annotated[
    TermsMetadataSettings | IntegerMetadataSettings | FloatMetadataSettings, Field(discriminator="type")
]


class MetadataPropertyCreate(RequestModel):
    name: Name
    title: Title
    settings: MetadataSettings
    visible_for_annotators: bool = True


class MetadataPropertyUpdate(RequestModel):
    title: Title | None = None
    visible_for_annotators: bool | None = None


class MetadataPropertyOut(WireModel):
    id: uuid.UUID
    name: str
    title: str
    settings: dict[str, Any]
    visible_for_annotators: bool
    dataset_id: uuid.UUID
    inserted_at: WireDatetime
    updated_at: WireDatetime


# ---------------------------------------------------------------- vector settings

MAX_VECTOR_SETTINGS = 5


class VectorSettingsCreate(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[a-zA-Z0-9_\-]+$")]
    title: Title
    dimensions: int = Field(gt=0, le=65536)


class VectorSettingsUpdate(RequestModel):
    title: Title | None = None


class VectorSettingsOut(WireModel):
    id: uuid.UUID
    name: str
    title: str
    dimensions: int
    dataset_id: uuid.UUID
    inserted_at: WireDatetime
    updated_at: WireDatetime
