"""A dataset's settings: fields, questions, metadata properties and vector settings. Never commits.

Publishing freezes the shape records are validated against: fields cannot be added or removed, nor
questions, afterwards. Metadata properties and vector settings can still be added.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets import settings_schemas as s
from quire.server.errors import Conflict, Invalid
from quire.server.events.emit import emit_dataset_event
from quire.server.models import Dataset, DatasetStatus, Field, MetadataProperty, Question, VectorSettings


def _published(dataset: Dataset) -> bool:
    return dataset.status == DatasetStatus.ready


async def _changed(session: AsyncSession, dataset_id: uuid.UUID) -> None:
    """Every change of a dataset's settings is a `dataset.updated` event."""
    await session.flush()
    dataset = await session.get(Dataset, dataset_id)
    if dataset is not None:
        await emit_dataset_event(session, "dataset.updated", dataset)


async def _name_taken(session: AsyncSession, model: Any, dataset: Dataset, name: str) -> bool:
    return bool(
        await session.scalar(select(exists().where(model.dataset_id == dataset.id, model.name == name)))
    )


# ---------------------------------------------------------------- fields


async def create_field(session: AsyncSession, dataset: Dataset, body: s.FieldCreate) -> Field:
    if _published(dataset):
        raise Invalid("Field cannot be created for a published dataset")
    if await _name_taken(session, Field, dataset, body.name):
        raise Conflict(f"Field with name `{body.name}` already exists for dataset with id `{dataset.id}`")
    last = await session.scalar(select(func.max(Field.position)).where(Field.dataset_id == dataset.id))
    field = Field(
        dataset_id=dataset.id,
        name=body.name,
        title=body.title,
        required=True if body.required is None else body.required,
        settings=body.settings.model_dump(),
        position=(last or 0) + 1,
    )
    session.add(field)
    await _changed(session, field.dataset_id)
    return field


async def update_field(session: AsyncSession, field: Field, body: s.FieldUpdate) -> Field:
    if body.settings is not None:
        if body.settings.type != field.settings["type"]:
            raise Invalid(
                f"Field type cannot be changed. Expected '{field.settings['type']}' but got '{body.settings.type}'"
            )
        field.settings = body.settings.model_dump()
    if body.title is not None:
        field.title = body.title
    await _changed(session, field.dataset_id)
    return field


async def delete_field(session: AsyncSession, dataset: Dataset, field: Field) -> Field:
    if _published(dataset):
        raise Invalid("Fields cannot be deleted for a published dataset")
    spans = await session.scalars(select(Question).where(Question.dataset_id == dataset.id))
    for question in spans:
        if question.settings.get("type") == "span" and question.settings.get("field") == field.name:
            raise Invalid(
                f"Field `{field.name}` is used by span question `{question.name}`; delete the question first"
            )
    await session.delete(field)
    await _changed(session, field.dataset_id)
    return field


# ---------------------------------------------------------------- questions


async def create_question(session: AsyncSession, dataset: Dataset, body: s.QuestionCreate) -> Question:
    if _published(dataset):
        raise Invalid("questions cannot be created for a published dataset")
    if await _name_taken(session, Question, dataset, body.name):
        raise Conflict(f"Question with name `{body.name}` already exists for dataset with id `{dataset.id}`")
    settings = body.settings.model_dump()
    if settings["type"] == "span":
        await _check_span_field(session, dataset, settings["field"])
    question = Question(
        dataset_id=dataset.id,
        name=body.name,
        title=body.title,
        description=body.description,
        required=True if body.required is None else body.required,
        settings=settings,
    )
    session.add(question)
    await _changed(session, question.dataset_id)
    return question


async def _check_span_field(session: AsyncSession, dataset: Dataset, field_name: str) -> None:
    fields = {f.name: f for f in await session.scalars(select(Field).where(Field.dataset_id == dataset.id))}
    if field_name not in fields:
        raise Invalid(f"'{field_name}' is not a valid field name.\nValid field names are {sorted(fields)!r}")
    if fields[field_name].settings.get("type") != "text":
        raise Invalid(
            f"span questions need a text field; '{field_name}' is a {fields[field_name].settings['type']} field"
        )
    for question in await session.scalars(select(Question).where(Question.dataset_id == dataset.id)):
        if question.settings.get("type") == "span" and question.settings.get("field") == field_name:
            raise Invalid(f"'{field_name}' is already used by span question with id '{question.id}'")


async def update_question(session: AsyncSession, question: Question, body: s.QuestionUpdate) -> Question:
    if body.title is not None:
        question.title = body.title
    if "description" in body.model_fields_set:
        question.description = body.description
    if body.settings is not None:
        question.settings = _merged_question_settings(question.settings, body.settings)
    await _changed(session, question.dataset_id)
    return question


def _merged_question_settings(current: dict[str, Any], update: s.QuestionSettingsUpdate) -> dict[str, Any]:
    kind = current["type"]
    if update.type != kind:
        raise Invalid(f"question type cannot be changed. expected '{kind}' but got '{update.type}'")
    changes = {k: v for k, v in update.model_dump(exclude={"type"}).items() if v is not None}
    merged = {**current, **changes}
    if "options" in changes:
        old_values = sorted(o["value"] for o in current["options"])
        new_values = sorted(o["value"] for o in changes["options"])
        if len(old_values) != len(new_values):
            raise Invalid(
                f"the number of options cannot be modified. expected {len(old_values)} but got {len(new_values)}"
            )
        if old_values != new_values:
            unexpected = sorted(set(new_values) - set(old_values))
            raise Invalid(
                f"the option values cannot be modified. found unexpected option values: {unexpected!r}"
            )
    visible = merged.get("visible_options")
    if visible is not None and visible > len(merged.get("options", [])):
        raise Invalid(
            "the value for 'visible_options' must be less or equal to the number of items in 'options' "
            f"({len(merged.get('options', []))})"
        )
    if kind == "span" and current.get("allow_overlapping") and not merged.get("allow_overlapping"):
        raise Invalid("'allow_overlapping' can't be disabled because responses may become inconsistent")
    return merged


async def delete_question(session: AsyncSession, dataset: Dataset, question: Question) -> Question:
    if _published(dataset):
        raise Invalid("questions cannot be deleted for a published dataset")
    await session.delete(question)
    await _changed(session, question.dataset_id)
    return question


# ---------------------------------------------------------------- metadata properties


async def create_metadata_property(
    session: AsyncSession, dataset: Dataset, body: s.MetadataPropertyCreate
) -> MetadataProperty:
    if await _name_taken(session, MetadataProperty, dataset, body.name):
        raise Conflict(
            f"Metadata property with name `{body.name}` already exists for dataset with id `{dataset.id}`"
        )
    prop = MetadataProperty(
        dataset_id=dataset.id,
        name=body.name,
        title=body.title,
        settings=body.settings.model_dump(),
        visible_for_annotators=body.visible_for_annotators,
    )
    session.add(prop)
    await _changed(session, prop.dataset_id)
    return prop


async def update_metadata_property(
    session: AsyncSession, prop: MetadataProperty, body: s.MetadataPropertyUpdate
) -> MetadataProperty:
    if body.title is not None:
        prop.title = body.title
    if body.visible_for_annotators is not None:
        prop.visible_for_annotators = body.visible_for_annotators
    await _changed(session, prop.dataset_id)
    return prop


async def delete_metadata_property(session: AsyncSession, prop: MetadataProperty) -> MetadataProperty:
    await session.delete(prop)
    await _changed(session, prop.dataset_id)
    return prop


# ---------------------------------------------------------------- vector settings


async def create_vector_settings(
    session: AsyncSession, dataset: Dataset, body: s.VectorSettingsCreate
) -> VectorSettings:
    count = await session.scalar(select(func.count()).where(VectorSettings.dataset_id == dataset.id))
    if (count or 0) >= s.MAX_VECTOR_SETTINGS:
        raise Invalid(
            f"The maximum number of vector settings ({s.MAX_VECTOR_SETTINGS}) has been reached for dataset "
            f"with id `{dataset.id}`"
        )
    if await _name_taken(session, VectorSettings, dataset, body.name):
        raise Conflict(
            f"Vector settings with name `{body.name}` already exists for dataset with id `{dataset.id}`"
        )
    vs = VectorSettings(dataset_id=dataset.id, name=body.name, title=body.title, dimensions=body.dimensions)
    session.add(vs)
    await _changed(session, vs.dataset_id)
    return vs


async def update_vector_settings(
    session: AsyncSession, vs: VectorSettings, body: s.VectorSettingsUpdate
) -> VectorSettings:
    if body.title is not None:
        vs.title = body.title
    await _changed(session, vs.dataset_id)
    return vs


async def delete_vector_settings(session: AsyncSession, vs: VectorSettings) -> VectorSettings:
    await session.delete(vs)
    await _changed(session, vs.dataset_id)
    return vs
