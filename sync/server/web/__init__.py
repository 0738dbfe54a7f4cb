"""Shopper pages (/c, /account) and head-office pages (/hq) of pos-central.

``router`` is included by :func:`sync.server.app.create_app`; every page hangs off it.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

__all__ = ["router"]
