"""Shopper pages (/c, /account) and head-office pages (/hq) of pos-central.

``router`` is included by :func:`sync.server.app.create_app`; every page hangs off it. The pages
are server-rendered Jinja2 templates packaged with the code; CSS, JavaScript, QR codes and charts
all come from this server, so nothing is fetched from the internet.
"""

from __future__ import annotations

from fastapi import APIRouter

from sync.server.web import hq, mail_signin, privacy, shopper, static

router = APIRouter(include_in_schema=False)
router.include_router(static.router)
router.include_router(shopper.router)
router.include_router(mail_signin.router)
router.include_router(privacy.router)
router.include_router(hq.router)

__all__ = ["router"]
