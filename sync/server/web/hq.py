"""Head-office pages under ``/hq``, for admin users (``pos-central admin add``).

- ``GET /hq``: today and the last 30 days per store: sales, amount, the share claimed by online
  accounts, top products, a daily chart.
- ``GET /hq/fleet``: every terminal per store: online or offline by its last contact, queued
  entries, app version (outdated marked), ledger health, enrolled but never synced, revoked.
- ``GET /hq/problems``: conflicts and quarantined journal entries to look at.
- ``POST /hq/fleet/revoke``: revoke a terminal (form with CSRF token and a confirmation box).
- ``GET/POST /hq/signin``, ``POST /hq/signout``.

Every page needs an admin session; without one it redirects (303) to the sign-in page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sync.server import stores
from sync.server.web import accounts
from sync.server.web.accounts import WebSession, now_utc
from sync.server.web.charts import daily_sales_chart
from sync.server.web.figures import (
    DayFigures,
    FleetRules,
    describe_offset,
    describe_span,
    fleet,
    member_attempts,
    problems,
    share,
    store_figures,
)
from sync.server.web.templating import render, translator

router = APIRouter(prefix="/hq", include_in_schema=False)

FormText = Annotated[str, Form()]


def _engine(request: Request) -> Any:
    return request.app.state.db.engine


def _admin(request: Request) -> tuple[WebSession | None, str | None]:
    session = accounts.request_session(request, "admin")
    if session is None:
        return None, None
    with _engine(request).connect() as conn:
        email = accounts.account_email(conn, "admin", session.subject_id)
    if email is None:  # the admin was removed while signed in
        return None, None
    return session, email


def _to_signin() -> Response:
    return RedirectResponse("/hq/signin", status_code=303)


def _page(request: Request, name: str, session: WebSession, email: str, **context: Any) -> Response:
    return render(
        request,
        name,
        admin_email=email,
        csrf_token=session.csrf_token,
        describe_span=describe_span,
        describe_offset=describe_offset,
        share=share,
        **context,
    )


@router.get("")
@router.get("/")
def dashboard(request: Request) -> Response:
    """Sales per store: today, the last 30 days, the share claimed online, top products."""
    session, email = _admin(request)
    if session is None or email is None:
        return _to_signin()
    t = translator(request)
    now = now_utc(request)
    with _engine(request).connect() as conn:
        stores = store_figures(conn, now)
    charts = {}
    for store in stores:

        def money(amount: int, currency: str = store.currency) -> str:
            return t.money(amount, currency)

        def label(d: DayFigures) -> str:
            return f"{d.day.day}.{d.day.month}."

        charts[store.store_id] = daily_sales_chart(
            store.days, money=money, day_label=label, title=f"{store.name}: sales per day, last 30 days"
        )
    return _page(request, "hq/dashboard.html", session, email, t=t, stores=stores, charts=charts, now=now)


@router.get("/fleet")
def fleet_page(request: Request) -> Response:
    """Every terminal: online or offline by last contact, queue, version, ledger health, revoked."""
    session, email = _admin(request)
    if session is None or email is None:
        return _to_signin()
    return _fleet(request, session, email)


def _fleet(
    request: Request, session: WebSession, email: str, *, status: int = 200, error: str | None = None
) -> Response:
    now = now_utc(request)
    settings = request.app.state.settings
    rules = FleetRules(
        offline_after=timedelta(seconds=settings.offline_after_seconds),
        min_app_version=settings.min_app_version,
    )
    with _engine(request).connect() as conn:
        terminals = fleet(conn, now, rules)
    response = _page(
        request,
        "hq/fleet.html",
        session,
        email,
        terminals=terminals,
        now=now,
        rules=rules,
        error=error,
        revoked=request.query_params.get("revoked", "")[:64] or None,
    )
    response.status_code = status
    return response


@router.post("/fleet/revoke")
def revoke(
    request: Request, terminal: FormText = "", confirm: FormText = "", csrf_token: FormText = ""
) -> Response:
    """Revoke a terminal (an orphan enrolled but never synced, a lost or replaced till): its token
    gets 401 from now on, as with ``pos-central terminal revoke``."""
    session, email = _admin(request)
    if session is None or email is None:
        return _to_signin()
    if not accounts.csrf_ok(request, csrf_token, session):
        return _fleet(request, session, email, status=403, error="This form has expired. Please try again.")
    if confirm != "yes":
        return _fleet(
            request, session, email, status=400, error="Tick the box to confirm revoking the terminal."
        )
    try:
        with _engine(request).begin() as conn:
            row = stores.revoke_terminal(conn, terminal=terminal[:100], now=now_utc(request))
    except stores.InputError as exc:
        return _fleet(request, session, email, status=400, error=str(exc))
    return RedirectResponse(f"/hq/fleet?revoked={quote(row.code)}", status_code=303)


@router.get("/problems")
def problems_page(request: Request) -> Response:
    """Conflicts, quarantined journal entries and refused member credits, newest first."""
    session, email = _admin(request)
    if session is None or email is None:
        return _to_signin()
    with _engine(request).connect() as conn:
        conflicts, quarantined, open_conflicts, quarantined_count = problems(conn)
        attempts, attempts_count = member_attempts(conn)
    return _page(
        request,
        "hq/problems.html",
        session,
        email,
        conflicts=conflicts,
        quarantined=quarantined,
        open_conflicts=open_conflicts,
        quarantined_count=quarantined_count,
        t=translator(request),
        member_attempts=attempts,
        member_attempts_count=attempts_count,
    )


def _signin_form(request: Request, status_code: int = 200, **state: Any) -> Response:
    csrf = accounts.csrf_token_for(request, None)
    response = render(request, "hq/signin.html", status_code, csrf_token=csrf, **state)
    accounts.remember_csrf_cookie(response, request, csrf, None)
    return response


@router.get("/signin")
def signin_page(request: Request) -> Response:
    session, _email = _admin(request)
    if session is not None:
        return RedirectResponse("/hq", status_code=303)
    return _signin_form(request)


@router.post("/signin")
def signin(
    request: Request, email: FormText = "", password: FormText = "", csrf_token: FormText = ""
) -> Response:
    """Sign a head-office user in; failures count towards the sign-in rate limit."""
    if not accounts.csrf_ok(request, csrf_token, None):
        return _signin_form(request, 403, error="This form has expired. Please try again.")
    now: datetime = now_utc(request)
    address = accounts.normalise_email(email)
    limit = accounts.signin_limit(request, "admin", address)
    with _engine(request).begin() as conn:
        wait = accounts.seconds_until_allowed(conn, limit, now)
        if wait:
            response = _signin_form(
                request,
                429,
                email=address,
                error=f"Too many attempts. Please wait {max(1, (wait + 59) // 60)} minutes and try again.",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        admin = accounts.find_account(conn, "admin", address)
        if admin is None or not accounts.password_matches(admin.password_hash, password):
            accounts.record_attempt(conn, limit, now)
            admin_id = None
        else:
            accounts.forget_failures(conn, limit.email_key)
            token, _session = accounts.start_session(conn, "admin", int(admin.id), now)
            admin_id = int(admin.id)
    if admin_id is None:
        return _signin_form(request, 401, email=address, error="Email or password is wrong.")
    response = RedirectResponse("/hq", status_code=303)
    accounts.set_session_cookie(response, request, "admin", token)
    accounts.remember_device(response, request, "admin", address)
    return response


@router.post("/signout")
def signout(request: Request, csrf_token: FormText = "") -> Response:
    session = accounts.request_session(request, "admin")
    if session is None:
        return _to_signin()
    if not accounts.csrf_ok(request, csrf_token, session):
        return _signin_form(request, 403, error="This form has expired. Please try again.")
    with _engine(request).begin() as conn:
        accounts.end_session(conn, request.cookies.get(accounts.ADMIN_COOKIE))
    response = _to_signin()
    accounts.clear_session_cookie(response, request, "admin")
    return response
