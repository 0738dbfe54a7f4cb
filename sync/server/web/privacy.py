"""The shopper's own data: download it as JSON, or delete the account.

- ``GET /account/export``: everything head office keeps about the signed-in shopper, as a JSON file
  (account, points, purchases with their receipts, claims waiting for their sale).
- ``POST /account/delete`` (``confirm`` ticked): deletes the account, its sessions, sign-in mails,
  member short codes and claims. The sales stay at head office, as the stores' books need them,
  but without the person: their ``member_id`` is cleared, so nothing links them to anyone.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, select, update

from sync.server import claims, schema
from sync.server.web import accounts
from sync.server.web.accounts import now_utc
from sync.server.web.purchases import account_purchases, pending_claims, shopper_receipt
from sync.server.web.templating import render, translator

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]


def _engine(request: Request) -> Any:
    return request.app.state.db.engine


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@router.get("/account/export")
def export(request: Request) -> Response:
    """The signed-in shopper's data as a JSON download."""
    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    shopper_id = session.subject_id
    with _engine(request).connect() as conn:
        row = conn.execute(select(schema.shoppers).where(schema.shoppers.c.id == shopper_id)).one()
        purchases = account_purchases(conn, shopper_id, limit=100_000)
        receipts = [shopper_receipt(conn, shopper_id, p.sale_id) for p in purchases]
        data = {
            "exported_at": now_utc(request),
            "account": {
                "member_id": row.id,
                "email": row.email,
                "display_name": row.display_name,
                "created_at": row.created_at,
                "consent_at": row.consent_at,
                "has_password": bool(row.password_hash),
            },
            "points": claims.shopper_points(conn, shopper_id),
            "purchases": [asdict(r) for r in receipts if r is not None],
            "pending_claims": [asdict(p) for p in pending_claims(conn, shopper_id)],
        }
    body = json.dumps(_plain(data), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="storelink-account.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/account/delete")
def delete_account(request: Request, confirm: FormText = "", csrf_token: FormText = "") -> Response:
    """Delete the signed-in shopper's account; its purchases stay at head office, unlinked."""
    from sync.server.web.shopper import _account, _forbidden_form

    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    if not accounts.csrf_ok(request, csrf_token, session):
        return _forbidden_form(request)
    t = translator(request)
    if confirm != "yes":
        return _account(
            request,
            status_code=400,
            delete_error=t.gettext("Tick the box to confirm that you want to delete your account."),
        )
    shopper_id = session.subject_id
    with _engine(request).begin() as conn:
        email = accounts.account_email(conn, "shopper", shopper_id) or ""
        conn.execute(
            update(schema.sales).where(schema.sales.c.member_id == shopper_id).values(member_id=None)
        )
        conn.execute(delete(schema.claims).where(schema.claims.c.shopper_id == shopper_id))
        conn.execute(
            delete(schema.member_short_codes).where(schema.member_short_codes.c.shopper_id == shopper_id)
        )
        conn.execute(delete(schema.mail_codes).where(schema.mail_codes.c.email == email))
        attempts = schema.login_attempts
        conn.execute(delete(attempts).where(attempts.c.key.like(f"shopper:%:{email}")))
        sessions = schema.web_sessions
        conn.execute(
            delete(sessions).where(sessions.c.kind == "shopper", sessions.c.subject_id == shopper_id)
        )
        conn.execute(delete(schema.shoppers).where(schema.shoppers.c.id == shopper_id))
    response = render(request, "deleted.html", t=t)
    accounts.clear_session_cookie(response, request, "shopper")
    return response
