"""/api/v1 fields, questions, metadata properties and vector settings of a dataset."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from quire.server.datasets import settings_service as service
from quire.server.datasets.endpoints import managed_dataset, readable_dataset
from quire.server.datasets.settings_schemas import (
    FieldCreate,
    FieldOut,
    FieldUpdate,
    MetadataPropertyCreate,
    MetadataPropertyOut,
    MetadataPropertyUpdate,
    QuestionCreate,
    QuestionOut,
    QuestionUpdate,
    VectorSettingsCreate,
    VectorSettingsOut,
    VectorSettingsUpdate,
)
from quire.server.deps import ActorDep, SessionDep
from quire.server.lookup import get_or_404
from quire.server.models import Field, MetadataProperty, Question, VectorSettings
from quire.server.wire import Items

router = APIRouter(tags=["dataset settings"])


# ---------------------------------------------------------------- fields


@router.get("/datasets/{dataset_id}/fields", response_model=Items[FieldOut])
async def list_fields(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Items[FieldOut]:
    dataset = await readable_dataset(session, actor, dataset_id, with_settings=True)
    return Items[FieldOut](items=[FieldOut.model_validate(f) for f in dataset.fields])


@router.post("/datasets/{dataset_id}/fields", status_code=status.HTTP_201_CREATED, response_model=FieldOut)
async def create_field(
    dataset_id: uuid.UUID, body: FieldCreate, session: SessionDep, actor: ActorDep
) -> Field:
    dataset = await managed_dataset(session, actor, dataset_id)
    return await service.create_field(session, dataset, body)


@router.patch("/fields/{field_id}", response_model=FieldOut)
async def update_field(field_id: uuid.UUID, body: FieldUpdate, session: SessionDep, actor: ActorDep) -> Field:
    field = await get_or_404(session, Field, field_id)
    await managed_dataset(session, actor, field.dataset_id)
    return await service.update_field(session, field, body)


@router.delete("/fields/{field_id}", response_model=FieldOut)
async def delete_field(field_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Field:
    field = await get_or_404(session, Field, field_id)
    dataset = await managed_dataset(session, actor, field.dataset_id)
    return await service.delete_field(session, dataset, field)


# ---------------------------------------------------------------- questions


@router.get("/datasets/{dataset_id}/questions", response_model=Items[QuestionOut])
async def list_questions(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Items[QuestionOut]:
    dataset = await readable_dataset(session, actor, dataset_id, with_settings=True)
    return Items[QuestionOut](items=[QuestionOut.model_validate(q) for q in dataset.questions])


@router.post(
    "/datasets/{dataset_id}/questions", status_code=status.HTTP_201_CREATED, response_model=QuestionOut
)
async def create_question(
    dataset_id: uuid.UUID, body: QuestionCreate, session: SessionDep, actor: ActorDep
) -> Question:
    dataset = await managed_dataset(session, actor, dataset_id)
    return await service.create_question(session, dataset, body)


@router.patch("/questions/{question_id}", response_model=QuestionOut)
async def update_question(
    question_id: uuid.UUID, body: QuestionUpdate, session: SessionDep, actor: ActorDep
) -> Question:
    question = await get_or_404(session, Question, question_id)
    await managed_dataset(session, actor, question.dataset_id)
    return await service.update_question(session, question, body)


@router.delete("/questions/{question_id}", response_model=QuestionOut)
async def delete_question(question_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Question:
    question = await get_or_404(session, Question, question_id)
    dataset = await managed_dataset(session, actor, question.dataset_id)
    return await service.delete_question(session, dataset, question)


# ---------------------------------------------------------------- metadata properties


@router.get("/datasets/{dataset_id}/metadata-properties", response_model=Items[MetadataPropertyOut])
async def list_metadata_properties(
    dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> Items[MetadataPropertyOut]:
    dataset = await managed_dataset(session, actor, dataset_id, with_settings=True)
    return Items[MetadataPropertyOut](
        items=[MetadataPropertyOut.model_validate(p) for p in dataset.metadata_properties]
    )


@router.get("/me/datasets/{dataset_id}/metadata-properties", response_model=Items[MetadataPropertyOut])
async def list_my_metadata_properties(
    dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> Items[MetadataPropertyOut]:
    """Annotators only see the properties marked `visible_for_annotators`."""
    dataset = await readable_dataset(session, actor, dataset_id, with_settings=True)
    annotator = actor.role == "annotator"
    visible = [p for p in dataset.metadata_properties if p.visible_for_annotators or not annotator]
    return Items[MetadataPropertyOut](items=[MetadataPropertyOut.model_validate(p) for p in visible])


@router.post(
    "/datasets/{dataset_id}/metadata-properties",
    status_code=status.HTTP_201_CREATED,
    response_model=MetadataPropertyOut,
)
async def create_metadata_property(
    dataset_id: uuid.UUID, body: MetadataPropertyCreate, session: SessionDep, actor: ActorDep
) -> MetadataProperty:
    dataset = await managed_dataset(session, actor, dataset_id)
    return await service.create_metadata_property(session, dataset, body)


@router.get("/metadata-properties/{property_id}", response_model=MetadataPropertyOut)
async def get_metadata_property(
    property_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> MetadataProperty:
    prop = await get_or_404(session, MetadataProperty, property_id)
    await readable_dataset(session, actor, prop.dataset_id)
    return prop


@router.patch("/metadata-properties/{property_id}", response_model=MetadataPropertyOut)
async def update_metadata_property(
    property_id: uuid.UUID, body: MetadataPropertyUpdate, session: SessionDep, actor: ActorDep
) -> MetadataProperty:
    prop = await get_or_404(session, MetadataProperty, property_id)
    await managed_dataset(session, actor, prop.dataset_id)
    return await service.update_metadata_property(session, prop, body)


@router.delete("/metadata-properties/{property_id}", response_model=MetadataPropertyOut)
async def delete_metadata_property(
    property_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> MetadataProperty:
    prop = await get_or_404(session, MetadataProperty, property_id)
    await managed_dataset(session, actor, prop.dataset_id)
    return await service.delete_metadata_property(session, prop)


# ---------------------------------------------------------------- vector settings


@router.get("/datasets/{dataset_id}/vectors-settings", response_model=Items[VectorSettingsOut])
async def list_vector_settings(
    dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> Items[VectorSettingsOut]:
    dataset = await readable_dataset(session, actor, dataset_id, with_settings=True)
    return Items[VectorSettingsOut](
        items=[VectorSettingsOut.model_validate(v) for v in dataset.vectors_settings]
    )


@router.post(
    "/datasets/{dataset_id}/vectors-settings",
    status_code=status.HTTP_201_CREATED,
    response_model=VectorSettingsOut,
)
async def create_vector_settings(
    dataset_id: uuid.UUID, body: VectorSettingsCreate, session: SessionDep, actor: ActorDep
) -> VectorSettings:
    dataset = await managed_dataset(session, actor, dataset_id)
    return await service.create_vector_settings(session, dataset, body)


@router.patch("/vectors-settings/{settings_id}", response_model=VectorSettingsOut)
async def update_vector_settings(
    settings_id: uuid.UUID, body: VectorSettingsUpdate, session: SessionDep, actor: ActorDep
) -> VectorSettings:
    vs = await get_or_404(session, VectorSettings, settings_id, label="Vector settings")
    await managed_dataset(session, actor, vs.dataset_id)
    return await service.update_vector_settings(session, vs, body)


@router.delete("/vectors-settings/{settings_id}", response_model=VectorSettingsOut)
async def delete_vector_settings(
    settings_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> VectorSettings:
    vs = await get_or_404(session, VectorSettings, settings_id, label="Vector settings")
    await managed_dataset(session, actor, vs.dataset_id)
    return await service.delete_vector_settings(session, vs)
