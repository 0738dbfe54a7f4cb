"""The terminal API under ``/v1``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, SUPPORTED_PROTOCOL_VERSIONS, Hello
from sync.server.errors import ERROR_RESPONSES

router = APIRouter()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@router.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    """Liveness: answers while the process runs."""
    return {"status": "ok"}


@router.get("/v1/hello", response_model=Hello, responses=ERROR_RESPONSES, tags=["terminal"])
def hello(request: Request) -> Hello:
    """Protocol versions this server speaks, its clock, and the batch limits."""
    return Hello(
        protocol_versions=list(SUPPORTED_PROTOCOL_VERSIONS),
        server_time=iso(datetime.now(UTC)),
        max_batch_entries=MAX_BATCH_ENTRIES,
        max_batch_bytes=MAX_BATCH_BYTES,
        public_url=request.app.state.settings.public_url,
    )
