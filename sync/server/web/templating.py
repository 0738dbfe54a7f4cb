"""Jinja2 templates and static files, loaded from the installed package (no paths on disk)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from sync.server.web.i18n import Translator, translator_for

_env = Environment(
    loader=PackageLoader("sync.server.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Static files the pages use, with their media types; nothing else is served.
STATIC_FILES = {
    "app.css": "text/css; charset=utf-8",
    "account.js": "text/javascript; charset=utf-8",
    "forms.js": "text/javascript; charset=utf-8",
}


def translator(request: Request) -> Translator:
    return translator_for(request.headers.get("accept-language"))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` in the browser's language as an HTML response."""
    t = context.pop("t", None) or translator(request)
    settings = getattr(request.app.state, "settings", None)
    context.setdefault("privacy_url", getattr(settings, "privacy_url", "") or "")
    context.setdefault("custom_consent", getattr(settings, "consent_text", "") or "")
    html = _env.get_template(name).render(t=t, _=t.gettext, ngettext=t.ngettext, **context)
    response = HTMLResponse(html, status_code=status_code)
    # Pages show personal data and carry CSRF tokens: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Content-Language"] = t.html_lang
    return response


def static_file(name: str) -> bytes:
    """The bytes of a packaged static file (``name`` must be in STATIC_FILES)."""
    return resources.files("sync.server.web").joinpath("static", name).read_bytes()
