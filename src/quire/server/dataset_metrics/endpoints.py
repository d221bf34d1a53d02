"""GET /api/v1/datasets/{id}/metrics: progress, annotators, suggestion quality, agreement."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from quire.server.dataset_metrics.service import dataset_metrics
from quire.server.datasets.endpoints import readable_dataset
from quire.server.deps import ActorDep, SessionDep

router = APIRouter(tags=["datasets"])


class DatasetMetrics(BaseModel):
    progress: dict[str, int]
    annotators: list[dict[str, Any]]
    questions: dict[str, dict[str, Any]]


@router.get("/datasets/{dataset_id}/metrics", response_model=DatasetMetrics)
async def get_dataset_metrics(
    dataset_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    questions: Annotated[
        str | None, Query(description="comma-separated question names (default: all)")
    ] = None,
) -> dict[str, Any]:
    """Progress, per-annotator response counts, and per question: how suggestions compare with the
    submitted responses (accuracy, precision/recall/F1 per label and macro; MAE and Spearman for
    ratings) and inter-annotator agreement (Krippendorff's alpha). See docs/metrics.md."""
    dataset = await readable_dataset(session, actor, dataset_id, with_settings=True)
    names = [n.strip() for n in questions.split(",") if n.strip()] if questions else None
    return await dataset_metrics(session, dataset, questions=names)
