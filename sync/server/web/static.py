"""The pages' CSS and JavaScript, served from the installed package (no CDN, no internet)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from sync.server.web.templating import STATIC_FILES, static_file

router = APIRouter(include_in_schema=False)


@router.get("/static/web/{name}")
def static(name: str) -> Response:
    """One of the pages' static files; anything else is 404."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return PlainTextResponse("no such file", status_code=404)
    return Response(
        static_file(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
