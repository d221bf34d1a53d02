"""Server status and version."""

from __future__ import annotations

import resource
import sys

from fastapi import APIRouter
from pydantic import BaseModel

from quire import __version__
from quire.server.deps import DatabaseDep

router = APIRouter(tags=["info"])


class Status(BaseModel):
    version: str
    search_engine: dict[str, str]
    memory: dict[str, float]


class Version(BaseModel):
    version: str


@router.get("/status", response_model=Status)
async def get_status(database: DatabaseDep) -> Status:
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Status(
        version=__version__,
        search_engine={"name": f"sql ({database.dialect})", "version": __version__},
        memory={"peak_rss_mb": round(rss_kb / 1024 if sys.platform != "darwin" else rss_kb / 2**20, 1)},
    )


@router.get("/version", response_model=Version)
async def get_version() -> Version:
    return Version(version=__version__)
