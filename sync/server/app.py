"""The ``pos-central`` web application: terminal API under ``/v1``, shopper and head-office pages.

:func:`create_app` builds the FastAPI app from :class:`ServerSettings`. It leaves on ``app.state``:
``db`` (:class:`Database`), ``settings``, ``signing_key`` (Ed25519, signs member codes),
``secret_key`` (bytes: sessions, CSRF) and ``limits`` (rate limiting).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace

from fastapi import FastAPI

from sync.protocol import MAX_BATCH_BYTES, PROTOCOL_VERSION
from sync.server import api, keys
from sync.server.db import Database
from sync.server.errors import BodyLimit, install_error_handlers
from sync.server.limits import Limits, PushGate
from sync.server.settings import ServerSettings, default_database_url


def create_app(settings: ServerSettings, db: Database | None = None) -> FastAPI:
    """The app for ``settings``; migrates the database to the newest schema first.

    Pass ``db`` to share an already open :class:`Database` (tests); otherwise one is opened from
    ``settings.database_url`` (a SQLite file in the user data directory when empty).
    """
    from sync.server import web

    if not settings.database_url:
        settings = replace(settings, database_url=default_database_url())
    if db is None:
        db = Database.from_url(settings.database_url, pool_size=settings.pool_size)
    db.migrate()
    with db.begin() as conn:
        signing_key = keys.signing_key(conn)
        secret_key = settings.secret_key or keys.server_secret(conn)

    app = FastAPI(
        title="Storelink POS central API",
        version=str(PROTOCOL_VERSION),
        description="Terminal API of pos-central. Every error is a 4xx with an ErrorBody.",
        # Swagger UI and ReDoc load their scripts from a CDN; stores may have no internet.
        docs_url=None,
        redoc_url=None,
    )
    app.state.db = db
    app.state.settings = settings
    app.state.signing_key = signing_key
    app.state.secret_key = secret_key
    app.state.limits = Limits(settings)
    install_error_handlers(app)
    # Room above the batch limit for the envelope; anything larger is refused unread.
    app.add_middleware(BodyLimit, max_bytes=MAX_BATCH_BYTES + 64 * 1024)
    app.add_middleware(PushGate, limits=app.state.limits)
    # Outermost: a terminal speaking another protocol is told so before anything else.
    app.add_middleware(api.ProtocolGate)
    app.include_router(api.router)
    app.include_router(web.router)
    return app


#: Environment variable through which ``pos-central serve --workers N`` hands settings to workers.
SETTINGS_ENV = "POS_CENTRAL_SERVE_SETTINGS"


def settings_to_environment(settings: ServerSettings) -> str:
    """``settings`` as the JSON :func:`app_from_environment` reads (the secret key stays out)."""
    values = {k: v for k, v in asdict(settings).items() if k != "secret_key"}
    return json.dumps(values)


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker process, from the settings its parent put in the environment."""
    values = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
    return create_app(ServerSettings(**values))
