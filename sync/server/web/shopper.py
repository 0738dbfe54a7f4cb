"""The shopper's pages: the claim page a receipt QR opens, sign-up/sign-in, and the account.

Routes (all HTML except the member-code JSON the account page polls):

- ``GET /c/{code}`` and ``GET /C/{code}``: the receipt's purchase (or "received, it will appear
  when the store syncs") and the forms to add it; a forged or malformed code is refused at once.
- ``POST /c/{code}/claim``: add the purchase to the signed-in account.
- ``GET /account/signin``, ``POST /account/signin``, ``POST /account/signup``,
  ``POST /account/signout``. A sign-in or sign-up form on a claim page carries the code in
  ``claim`` and adds the purchase as soon as the shopper is in.
- ``GET /account``: purchases, points and the member QR code; ``GET /account/member-code``: the
  member codes for the next day as JSON (see :func:`member_code`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.codes import CLAIM_TTL_DAYS, MEMBER_OFFLINE_HOURS, member_codes_ahead
from sync.server import claims, members, schema, stores
from sync.server.web import accounts
from sync.server.web.accounts import WebSession, now_utc
from sync.server.web.i18n import N_, Translator, ngettext_marker
from sync.server.web.purchases import (
    Receipt,
    account_purchases,
    claims_taken_by_members,
    pending_claims,
    purchase_from_summary,
    shopper_receipt,
)
from sync.server.web.qr import qr_rows, qr_svg
from sync.server.web.templating import render, translator

router = APIRouter(include_in_schema=False)

#: How often the account page fetches its member codes again while online, seconds (settings may
#: override; a ``?refresh=N`` query on /account picks 1..60 for tests and demos). The codes it holds
#: last MEMBER_OFFLINE_HOURS, so a missed fetch changes nothing the shopper sees.
MEMBER_CODE_REFRESH_SECONDS = 300

_MINUTES_LEFT = ngettext_marker("Valid for {n} more minute", "Valid for {n} more minutes")

FormText = Annotated[str, Form()]
_SMALL_NUMBER = re.compile(r"[0-9]{1,2}")


def _engine(request: Request) -> Any:
    return request.app.state.db.engine


def _too_many(t: Translator, wait_seconds: int) -> str:
    return t.ngettext(
        "Too many attempts. Please wait {n} minute and try again.",
        "Too many attempts. Please wait {n} minutes and try again.",
        max(1, (wait_seconds + 59) // 60),
    )


def _mine(check: claims.ClaimCheck) -> str:
    """Where a shopper goes who opens a receipt already in their account: that purchase."""
    if check.sale is not None:
        return f"/account/purchases/{check.sale.id}?added=mine"
    return "/account?added=mine"


def _refused(
    request: Request,
    t: Translator,
    check: claims.ClaimCheck,
    email: str | None,
    session: WebSession | None = None,
    signed_in: bool | None = None,
) -> Response:
    """The page for a code that cannot be added, with the status that says why and a way on."""
    status = check.status
    if status == "malformed":
        return render(
            request,
            "refused.html",
            400,
            t=t,
            reason=status,
            heading=t.gettext("This code is not valid"),
            message=t.gettext("This is not a receipt code. Please scan the QR code on your receipt again."),
            email=email,
        )
    if status == "forged":
        return render(
            request,
            "refused.html",
            403,
            t=t,
            reason=status,
            heading=t.gettext("This code is not valid"),
            message=t.gettext(
                "This code was not issued by our stores. Please scan the QR code on your receipt again."
            ),
            email=email,
        )
    if status == "expired":
        day = t.day(check.code.expires_on) if check.code else ""
        return render(
            request,
            "refused.html",
            410,
            t=t,
            reason=status,
            heading=t.gettext("This code has expired"),
            message=t.ngettext(
                "Receipt codes can be added for {n} day. This one expired on {day}.",
                "Receipt codes can be added for {n} days. This one expired on {day}.",
                CLAIM_TTL_DAYS,
                day=day,
            ),
            email=email,
        )
    # already in another account: say so, and offer the ways on (sign in with the account that has
    # it, which then shows the purchase; or ask the store), never a dead end.
    csrf = accounts.csrf_token_for(request, session)
    response = render(
        request,
        "refused.html",
        409,
        t=t,
        reason="claimed",
        tone="warn",
        heading=t.gettext("This purchase is already in an account"),
        message=t.gettext(
            "Each receipt can be added to one account once. If you added it yourself with another "
            "email address, sign in with that one to see it."
        ),
        help=t.gettext(
            "If it was not you, show the receipt at the store's service desk: they can check "
            "receipt {number} and move it to your account.",
            number=check.sale.receipt_no if check.sale else "",
        ),
        email=email,
        signed_in=session is not None if signed_in is None else signed_in,
        can_sign_out=session is not None,
        claim=check.code.text if check.code else "",
        csrf_token=csrf,
        min_password=accounts.MIN_PASSWORD_LENGTH,
    )
    accounts.remember_csrf_cookie(response, request, csrf, session)
    return response


def _claim_page(
    request: Request,
    code: str,
    *,
    session: WebSession | None,
    status_code: int = 200,
    **form_state: Any,
) -> Response:
    t = translator(request)
    now = now_utc(request)
    with _engine(request).connect() as conn:
        check = claims.check_claim(conn, code, now.date())
        email = accounts.account_email(conn, "shopper", session.subject_id) if session else None
        if check.status == "claimed" and session is not None and check.claimed_by == session.subject_id:
            return RedirectResponse(_mine(check), status_code=303)
        if not check.claimable or check.code is None:
            return _refused(request, t, check, email, session=session)
        purchase = purchase_from_summary(conn, check.sale, "claimed") if check.sale else None
    csrf = accounts.csrf_token_for(request, session)
    response = render(
        request,
        "claim.html",
        status_code,
        t=t,
        code=check.code.text,
        purchase=purchase,
        email=email,
        csrf_token=csrf,
        claim=check.code.text,
        min_password=accounts.MIN_PASSWORD_LENGTH,
        ttl_days=CLAIM_TTL_DAYS,
        **form_state,
    )
    accounts.remember_csrf_cookie(response, request, csrf, session)
    return response


@router.get("/c/{code}")
@router.get("/C/{code}")
def claim_page(request: Request, code: str) -> Response:
    """The page a receipt QR opens."""
    return _claim_page(request, code, session=accounts.request_session(request, "shopper"))


def _forbidden_form(request: Request) -> Response:
    t = translator(request)
    return render(
        request,
        "refused.html",
        403,
        t=t,
        reason="csrf",
        heading=t.gettext("This form has expired. Please try again."),
        message=t.gettext("This form has expired. Please try again."),
        email=None,
    )


def _add_claim(request: Request, code: str, shopper_id: int, now: datetime) -> Response:
    """Add ``code``'s purchase to the account and send the shopper to it (or to why not)."""
    t = translator(request)
    with _engine(request).begin() as conn:
        try:
            outcome = claims.claim_purchase(conn, code, shopper_id, now)
        except claims.ClaimRefused as refused:
            check = refused.check
            if check.status == "claimed" and check.claimed_by == shopper_id:
                return RedirectResponse(_mine(check), status_code=303)
            email = accounts.account_email(conn, "shopper", shopper_id)
            return _refused(request, t, check, email, signed_in=True)
    added = "ready" if outcome.status == "ready" else "pending"
    return RedirectResponse(f"/account?added={added}", status_code=303)


@router.post("/c/{code}/claim")
def claim_for_signed_in(request: Request, code: str, csrf_token: FormText = "") -> Response:
    """Add the purchase to the signed-in shopper's account."""
    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse(f"/c/{code}", status_code=303)
    if not accounts.csrf_ok(request, csrf_token, session):
        return _forbidden_form(request)
    return _add_claim(request, code, session.subject_id, now_utc(request))


def _signin_page(request: Request, status_code: int = 200, **form_state: Any) -> Response:
    session = accounts.request_session(request, "shopper")
    if session is not None and status_code == 200:
        return RedirectResponse("/account", status_code=303)
    csrf = accounts.csrf_token_for(request, None)
    response = render(
        request,
        "signin.html",
        status_code,
        csrf_token=csrf,
        claim="",
        min_password=accounts.MIN_PASSWORD_LENGTH,
        **form_state,
    )
    accounts.remember_csrf_cookie(response, request, csrf, None)
    return response


def _form_error(request: Request, claim: str, status_code: int, **form_state: Any) -> Response:
    """Show the forms again with what was wrong: on the claim page if one was being added."""
    if claim:
        return _claim_page(request, claim, session=None, status_code=status_code, **form_state)
    return _signin_page(request, status_code, **form_state)


def _signed_in(request: Request, shopper_id: int, claim: str, now: datetime) -> Response:
    with _engine(request).begin() as conn:
        token, _session = accounts.start_session(conn, "shopper", shopper_id, now)
    response = _add_claim(request, claim, shopper_id, now) if claim else RedirectResponse("/account", 303)
    accounts.set_session_cookie(response, request, "shopper", token)
    response.delete_cookie(accounts.CSRF_COOKIE, path="/")
    return response


@router.get("/account/signin")
def signin_page(request: Request) -> Response:
    return _signin_page(request)


@router.post("/account/signin")
def signin(
    request: Request,
    email: FormText = "",
    password: FormText = "",
    claim: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Sign a shopper in (and add the purchase whose code the form carried)."""
    if not accounts.csrf_ok(request, csrf_token, None):
        return _forbidden_form(request)
    t = translator(request)
    now = now_utc(request)
    address = accounts.normalise_email(email)
    limit = accounts.signin_limit(request, "shopper", address)
    with _engine(request).begin() as conn:
        wait = accounts.seconds_until_allowed(conn, limit, now)
        if wait:
            response = _form_error(
                request,
                claim,
                429,
                signin_email=address,
                signin_error=_too_many(t, wait),
            )
            response.headers["Retry-After"] = str(wait)
            return response
        account = accounts.find_account(conn, "shopper", address)
        if account is None or not accounts.password_matches(account.password_hash, password):
            accounts.record_attempt(conn, limit, now)
            shopper_id = None
        else:
            accounts.forget_failures(conn, limit.email_key)
            shopper_id = int(account.id)
    if shopper_id is None:
        return _form_error(
            request, claim, 401, signin_email=address, signin_error=t.gettext("Email or password is wrong.")
        )
    response = _signed_in(request, shopper_id, claim, now)
    accounts.remember_device(response, request, "shopper", address)
    return response


@router.post("/account/signup")
def signup(
    request: Request,
    email: FormText = "",
    password: FormText = "",
    display_name: FormText = "",
    claim: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Create a shopper account, sign it in (and add the purchase whose code the form carried)."""
    if not accounts.csrf_ok(request, csrf_token, None):
        return _forbidden_form(request)
    t = translator(request)
    now = now_utc(request)
    address = accounts.normalise_email(email)
    problem = accounts.email_problem(address) or accounts.password_problem(password)
    if problem:
        message = problem.text(t)
        return _form_error(request, claim, 400, signup_email=address, signup_error=message)
    limit = accounts.signup_limit(request)
    with _engine(request).begin() as conn:
        wait = accounts.seconds_until_allowed(conn, limit, now)
        if not wait:
            accounts.record_attempt(conn, limit, now)  # every sign-up counts, not only failed ones
    if wait:
        response = _form_error(
            request,
            claim,
            429,
            signup_email=address,
            signup_error=_too_many(t, wait),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    password_hash = accounts.hash_password(password)
    try:
        with _engine(request).begin() as conn:
            if accounts.find_account(conn, "shopper", address) is not None:
                raise _EmailTaken
            shopper_id = conn.execute(
                insert(schema.shoppers)
                .values(
                    email=address,
                    password_hash=password_hash,
                    display_name=display_name.strip()[:100],
                    created_at=now,
                )
                .returning(schema.shoppers.c.id)
            ).scalar_one()
    except (_EmailTaken, IntegrityError):
        return _form_error(
            request,
            claim,
            409,
            signin_email=address,
            signup_error=t.gettext("An account with this email already exists. Please sign in."),
        )
    return _signed_in(request, int(shopper_id), claim, now)


class _EmailTaken(Exception):
    pass


_NEXT_AFTER_SIGNOUT = re.compile(r"/[cC]/[A-Za-z2-7]{48}")


@router.post("/account/signout")
def signout(request: Request, csrf_token: FormText = "", next: FormText = "") -> Response:
    """End the shopper's session and forget its cookie."""
    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    if not accounts.csrf_ok(request, csrf_token, session):
        return _forbidden_form(request)
    with _engine(request).begin() as conn:
        accounts.end_session(conn, request.cookies.get(accounts.SHOPPER_COOKIE))
    # Only our own claim pages are followed (a claim code is 48 characters), so the form can send
    # a shopper neither elsewhere nor an unbounded Location header.
    target = next if _NEXT_AFTER_SIGNOUT.fullmatch(next) else "/account/signin"
    response = RedirectResponse(target, status_code=303)
    accounts.clear_session_cookie(response, request, "shopper")
    return response


def _refresh_seconds(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    seconds = int(getattr(settings, "member_code_refresh_seconds", MEMBER_CODE_REFRESH_SECONDS))
    asked = request.query_params.get("refresh", "")
    # ASCII digits only: str.isdigit() also takes "²" (int() then raises) and 4,301 digits (int()
    # refuses to read that many); anything else keeps the default.
    if _SMALL_NUMBER.fullmatch(asked) and 1 <= int(asked) <= 60:
        seconds = int(asked)
    return seconds


def _member_codes(request: Request, shopper_id: int) -> list[dict[str, Any]]:
    """The codes from the current window on, as the page needs them to work offline for a day:
    each with its QR modules and the short code a cashier can type."""
    hours = int(
        getattr(getattr(request.app.state, "settings", None), "member_code_hours", MEMBER_OFFLINE_HOURS)
    )
    batch = member_codes_ahead(
        member_id=shopper_id, signing_key=request.app.state.signing_key, now=now_utc(request), hours=hours
    )
    with _engine(request).begin() as conn:
        shorts = [members.short_code_for(conn, shopper_id, start, end) for start, end, _code in batch]
    return [
        {
            "code": code,
            "short": f"{short[:4]} {short[4:8]} {short[8:]}",
            "valid_from": start.isoformat(),
            "valid_until": end.isoformat(),
            "rows": list(qr_rows(code)),
        }
        for (start, end, code), short in zip(batch, shorts, strict=True)
    ]


@router.post("/account/password")
def set_password(request: Request, password: FormText = "", csrf_token: FormText = "") -> Response:
    """Set (or replace) the signed-in shopper's password: how a forgotten one is reset, by mail."""
    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    if not accounts.csrf_ok(request, csrf_token, session):
        return _forbidden_form(request)
    t = translator(request)
    problem = accounts.password_problem(password)
    if problem:
        return _account(request, status_code=400, password_error=problem.text(t))
    with _engine(request).begin() as conn:
        conn.execute(
            update(schema.shoppers)
            .where(schema.shoppers.c.id == session.subject_id)
            .values(password_hash=accounts.hash_password(password))
        )
    return RedirectResponse("/account?added=password", status_code=303)


@router.get("/account")
def account_page(request: Request, added: str = "") -> Response:
    """The shopper's purchases, points and member code."""
    return _account(request, added)


def _account(request: Request, added: str = "", status_code: int = 200, **form_state: Any) -> Response:
    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    t = translator(request)
    with _engine(request).connect() as conn:
        email = accounts.account_email(conn, "shopper", session.subject_id)
        has_password = bool(
            conn.execute(
                select(schema.shoppers.c.password_hash).where(schema.shoppers.c.id == session.subject_id)
            ).scalar()
        )
        purchases = account_purchases(conn, session.subject_id)
        pending = pending_claims(conn, session.subject_id)
        taken = claims_taken_by_members(conn, session.subject_id)
        points = claims.shopper_points(conn, session.subject_id)
        home_meaning, _ = stores.store_texts(conn, stores.latest_store_id(conn, session.subject_id))
    codes = _member_codes(request, session.subject_id)
    current = codes[0]
    remaining = max(
        0, int((datetime.fromisoformat(current["valid_until"]) - now_utc(request)).total_seconds())
    )
    return render(
        request,
        "account.html",
        t=t,
        email=email,
        purchases=purchases,
        pending=pending,
        taken=taken,
        points=points,
        member_code=current["code"],
        member_short=current["short"],
        member_until=current["valid_until"],
        member_svg=qr_svg(current["code"], label=t.gettext("Your member code")),
        member_minutes=max(1, (remaining + 59) // 60),
        member_left_one=t.plural_pattern(*_MINUTES_LEFT, 1),
        member_left_other=t.plural_pattern(*_MINUTES_LEFT, 5),
        now=now_utc(request).isoformat(),
        member_codes=codes,
        refresh_seconds=_refresh_seconds(request),
        csrf_token=session.csrf_token,
        added=added if added in ("ready", "pending", "mine", "password") else "",
        has_password=has_password,
        points_meaning=home_meaning or _chain_text(request, "points_meaning"),
        min_password=accounts.MIN_PASSWORD_LENGTH,
        status_code=status_code,
        **form_state,
    )


def _chain_text(request: Request, name: str) -> str:
    """The chain's default text (``pos-central serve --points-meaning / --return-policy``)."""
    return str(getattr(getattr(request.app.state, "settings", None), name, "") or "")


def _receipt_texts(request: Request, conn: Connection, receipt: Receipt) -> tuple[str, str]:
    """(points meaning, return policy) for a purchase: its store's own, else the chain's."""
    meaning, policy = stores.store_texts(conn, receipt.store_id)
    return meaning or _chain_text(request, "points_meaning"), policy or _chain_text(request, "return_policy")


_TENDER_NAMES = {"cash": N_("Cash"), "card": N_("Card"), "voucher": N_("Voucher")}


@router.get("/account/purchases/{sale_id}/receipt.pdf")
def purchase_pdf(request: Request, sale_id: str) -> Response:
    """One purchase's receipt as a PDF download."""
    from sync.server.web.receipt_pdf import receipt_pdf

    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    t = translator(request)
    receipt = None
    if len(sale_id) <= 36:
        with _engine(request).connect() as conn:
            receipt = shopper_receipt(conn, session.subject_id, sale_id)
            if receipt is not None:
                meaning, policy = _receipt_texts(request, conn, receipt)
    if receipt is None:
        return purchase_page(request, sale_id)  # the page that says it is not in the account
    body = receipt_pdf(
        receipt,
        t,
        tender_names={kind: t.gettext(name) for kind, name in _TENDER_NAMES.items()},
        points_meaning=meaning,
        return_policy=policy,
    )
    safe = re.sub(r"[^A-Za-z0-9-]", "_", receipt.receipt_no)[:40]
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{safe}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/account/purchases/{sale_id}")
def purchase_page(request: Request, sale_id: str, added: str = "") -> Response:
    """One purchase as its full receipt, with the returns made against it."""
    session = accounts.request_session(request, "shopper")
    if session is None:
        return RedirectResponse("/account/signin", status_code=303)
    t = translator(request)
    receipt = None
    if len(sale_id) <= 36:
        with _engine(request).connect() as conn:
            receipt = shopper_receipt(conn, session.subject_id, sale_id)
            if receipt is not None:
                meaning, policy = _receipt_texts(request, conn, receipt)
    if receipt is None:
        return render(
            request,
            "refused.html",
            404,
            t=t,
            reason="no-purchase",
            heading=t.gettext("This purchase is not in your account"),
            message=t.gettext("Your purchases are listed on your account page."),
            email=True,
        )
    return render(
        request,
        "purchase.html",
        t=t,
        r=receipt,
        added="mine" if added == "mine" else "",
        tender_names={kind: t.gettext(name) for kind, name in _TENDER_NAMES.items()},
        points_meaning=meaning,
        return_policy=policy,
    )


@router.get("/account/member-code")
def member_code(request: Request) -> Response:
    """The signed-in shopper's member codes from the current window on, as JSON.

    ``codes`` lists ``{code, valid_from, valid_until, rows}`` (``rows``: the QR modules as ``0``/``1``
    strings, drawn by the page); ``code``, ``svg``, ``issued_at`` and ``expires_at`` are the current
    one; ``now`` is head office's clock, so a phone with a wrong clock still shows the right code.
    """
    session = accounts.request_session(request, "shopper")
    if session is None:
        return JSONResponse(
            {"error": "not_signed_in", "detail": "sign in to get a member code"},
            status_code=401,
            headers={"Cache-Control": "no-store"},
        )
    t = translator(request)
    codes = _member_codes(request, session.subject_id)
    current = codes[0]
    return JSONResponse(
        {
            "code": current["code"],
            "svg": qr_svg(current["code"], label=t.gettext("Your member code")),
            "issued_at": current["valid_from"],
            "expires_at": current["valid_until"],
            "now": now_utc(request).isoformat(),
            "codes": codes,
        },
        headers={"Cache-Control": "no-store"},
    )
