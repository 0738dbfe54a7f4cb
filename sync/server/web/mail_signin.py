"""Signing a shopper in by mail: a one-time link and a 6-digit code, either works once, 15 minutes.

- ``POST /account/email`` (``email``, ``claim``): sends the mail and shows the page to type the code
  (an address without an account gets one when the code or link is used: signing in and joining
  are one step). Sends per address and per client are rate-limited.
- ``POST /account/code`` (``email``, ``code``, ``claim``): signs in with the code. Wrong codes count
  against the address and the client (10 and 50 in the sign-in window), and a mail's code dies
  after 5 wrong tries, so 100 quick guesses at one address are refused long before they could hit.
- ``GET /account/link/{token}``: a page with one button (mail scanners that open links must not use
  them up); ``POST`` to the same address signs in. A used, expired or unknown link explains itself
  and offers a new mail.

A receipt code carried by the form (``claim``) is kept with the mail, so the purchase is added the
moment the shopper is in, even from the link opened on another tab.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.codes import CodeError, parse_claim_code
from sync.server import schema
from sync.server.mail import MailNotSent, send_mail
from sync.server.web import accounts
from sync.server.web.accounts import SigninLimit, now_utc
from sync.server.web.i18n import Translator
from sync.server.web.templating import render, translator

router = APIRouter(include_in_schema=False)

MAIL_CODE_LIFETIME = timedelta(minutes=15)
MAIL_CODE_DIGITS = 6
#: Wrong codes one mail survives before its code (not its link) stops working.
MAIL_CODE_MAX_FAILURES = 5
#: Mails one address may be sent, and wrong codes it may be tried with, in the sign-in window.
MAILS_PER_ADDRESS = 5
CODE_TRIES_PER_ADDRESS = 10
#: Per client address: a shared office or phone network may hold several shoppers.
CLIENT_FACTOR = 5

FormText = Annotated[str, Form()]
_CODE = re.compile(r"[0-9]{6}")


def _engine(request: Request) -> Any:
    return request.app.state.db.engine


def _window(request: Request) -> timedelta:
    settings = getattr(request.app.state, "settings", None)
    return timedelta(seconds=int(getattr(settings, "login_window_seconds", accounts.DEFAULT_WINDOW_SECONDS)))


def _limit(request: Request, what: str, address: str, allowed: int) -> SigninLimit:
    return SigninLimit(
        keys=(
            (f"shopper:{what}:{address}"[:300], allowed),
            (f"shopper:{what}-client:{accounts.client_address(request)}"[:300], allowed * CLIENT_FACTOR),
        ),
        window=_window(request),
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _clean_claim(claim: str) -> str:
    """The receipt code a form carried, if it is one (anything else is dropped, not stored)."""
    try:
        return parse_claim_code(claim).text if claim else ""
    except CodeError:
        return ""


def _too_many(t: Translator, wait_seconds: int) -> str:
    return t.ngettext(
        "Too many attempts. Please wait {n} minute and try again.",
        "Too many attempts. Please wait {n} minutes and try again.",
        max(1, (wait_seconds + 59) // 60),
    )


def _mail_page(request: Request, status_code: int = 200, **state: Any) -> Response:
    """The page that says a mail was sent and takes its code."""
    session = accounts.request_session(request, "shopper")
    csrf = accounts.csrf_token_for(request, None)
    response = render(
        request,
        "mail_sent.html",
        status_code,
        csrf_token=csrf,
        minutes=int(MAIL_CODE_LIFETIME.total_seconds() // 60),
        signed_in=session is not None,
        **state,
    )
    accounts.remember_csrf_cookie(response, request, csrf, None)
    return response


def _mail_form_error(request: Request, claim: str, status_code: int, **state: Any) -> Response:
    from sync.server.web.shopper import _form_error

    return _form_error(request, claim, status_code, **state)


def _mail_body(t: Translator, *, code: str, link: str, minutes: int) -> str:
    return "\n\n".join(
        [
            t.gettext("Your code to sign in to Storelink: {code}", code=code),
            t.gettext("Or open this link to sign in:") + "\n" + link,
            t.ngettext(
                "The code and the link work once, for {n} minute.",
                "The code and the link work once, for {n} minutes.",
                minutes,
            ),
            t.gettext("Forgot your password? Once signed in, you can set a new one on your account page."),
            t.gettext("If you did not ask for this mail, ignore it: nobody can sign in without it."),
        ]
    )


@router.post("/account/email")
def send_signin_mail(
    request: Request, email: FormText = "", claim: FormText = "", csrf_token: FormText = ""
) -> Response:
    """Send a sign-in link and code to ``email``."""
    from sync.server.web.shopper import _forbidden_form

    if not accounts.csrf_ok(request, csrf_token, None):
        return _forbidden_form(request)
    t = translator(request)
    now = now_utc(request)
    address = accounts.normalise_email(email)
    claim = _clean_claim(claim.strip()[:100])
    problem = accounts.email_problem(address)
    if problem:
        return _mail_form_error(request, claim, 400, mail_email=address[:254], mail_error=problem.text(t))
    limit = _limit(request, "mail", address, MAILS_PER_ADDRESS)
    token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**MAIL_CODE_DIGITS):0{MAIL_CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    with _engine(request).begin() as conn:
        wait = accounts.seconds_until_allowed(conn, limit, now)
        if not wait:
            accounts.record_attempt(conn, limit, now)  # every mail counts
            row_id = conn.execute(
                insert(schema.mail_codes)
                .values(
                    email=address,
                    link_hash=_sha256(token),
                    code_hash=_sha256(f"{salt}:{code}"),
                    salt=salt,
                    claim=claim,
                    created_at=now,
                    expires_at=now + MAIL_CODE_LIFETIME,
                    failures=0,
                )
                .returning(schema.mail_codes.c.id)
            ).scalar_one()
    if wait:
        response = _mail_form_error(request, claim, 429, mail_email=address, mail_error=_too_many(t, wait))
        response.headers["Retry-After"] = str(wait)
        return response
    settings = request.app.state.settings
    link = f"{settings.public_url.rstrip('/')}/account/link/{token}"
    minutes = int(MAIL_CODE_LIFETIME.total_seconds() // 60)
    try:
        send_mail(
            settings,
            to=address,
            subject=t.gettext("Your sign-in code: {code}", code=code),
            body=_mail_body(t, code=code, link=link, minutes=minutes),
            language=t.html_lang,
        )
    except MailNotSent:
        with _engine(request).begin() as conn:  # a mail that never left cannot be used either
            conn.execute(
                update(schema.mail_codes).where(schema.mail_codes.c.id == row_id).values(used_at=now)
            )
        return _mail_form_error(
            request,
            claim,
            503,
            mail_email=address,
            mail_error=t.gettext("We could not send the mail just now. Please try again in a few minutes."),
        )
    return _mail_page(request, email=address, claim=claim)


def _shopper_for(conn: Any, address: str, now: datetime) -> int:
    """The shopper with ``address``; a new account (consent given now) if there is none."""
    account = accounts.find_account(conn, "shopper", address)
    if account is not None:
        return int(account.id)
    return int(
        conn.execute(
            insert(schema.shoppers)
            .values(email=address, password_hash="", display_name="", created_at=now, consent_at=now)
            .returning(schema.shoppers.c.id)
        ).scalar_one()
    )


def _sign_in_as(request: Request, address: str, claim: str, now: datetime) -> Response:
    from sync.server.web.shopper import _signed_in

    try:
        with _engine(request).begin() as conn:
            shopper_id = _shopper_for(conn, address, now)
    except IntegrityError:  # two first sign-ins at once: the other one created the account
        with _engine(request).begin() as conn:
            shopper_id = _shopper_for(conn, address, now)
    return _signed_in(request, shopper_id, claim, now)


@router.post("/account/code")
def signin_with_code(
    request: Request,
    email: FormText = "",
    code: FormText = "",
    claim: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Sign in with the 6-digit code from the mail (and add the purchase the mail carries)."""
    from sync.server.web.shopper import _forbidden_form

    if not accounts.csrf_ok(request, csrf_token, None):
        return _forbidden_form(request)
    t = translator(request)
    now = now_utc(request)
    address = accounts.normalise_email(email)[:254]
    claim = _clean_claim(claim.strip()[:100])
    typed = code.replace(" ", "").replace("-", "").strip()
    if accounts.email_problem(address):
        return _mail_form_error(
            request,
            claim,
            400,
            mail_email=address,
            mail_error=t.gettext("Please enter a valid email address."),
        )
    if not _CODE.fullmatch(typed):
        return _mail_page(
            request,
            400,
            email=address,
            claim=claim,
            code_error=t.gettext("Please enter the 6 digits from the mail."),
        )
    limit = _limit(request, "mail-code", address, CODE_TRIES_PER_ADDRESS)
    codes = schema.mail_codes
    with _engine(request).begin() as conn:
        wait = accounts.seconds_until_allowed(conn, limit, now)
        matched = None
        if not wait:
            rows = conn.execute(
                select(codes).where(
                    codes.c.email == address,
                    codes.c.used_at.is_(None),
                    codes.c.expires_at > now,
                    codes.c.failures < MAIL_CODE_MAX_FAILURES,
                )
            ).all()
            for row in rows:
                if hmac.compare_digest(row.code_hash, _sha256(f"{row.salt}:{typed}")):
                    matched = row
            if matched is not None:
                used = conn.execute(
                    update(codes)
                    .where(codes.c.id == matched.id, codes.c.used_at.is_(None))
                    .values(used_at=now)
                ).rowcount
                if used != 1:
                    matched = None
            if matched is None:
                accounts.record_attempt(conn, limit, now)
                ids = [row.id for row in rows]
                if ids:
                    conn.execute(
                        update(codes).where(codes.c.id.in_(ids)).values(failures=codes.c.failures + 1)
                    )
            else:
                accounts.forget_failures(conn, limit.email_key)
    if wait:
        response = _mail_page(request, 429, email=address, claim=claim, code_error=_too_many(t, wait))
        response.headers["Retry-After"] = str(wait)
        return response
    if matched is None:
        return _mail_page(
            request,
            401,
            email=address,
            claim=claim,
            code_error=t.gettext(
                "This code is wrong, used or expired. Check the newest mail, or send a new one."
            ),
        )
    return _sign_in_as(request, address, matched.claim or claim, now)


def _forbidden_page(request: Request) -> Response:
    from sync.server.web.shopper import _forbidden_form

    return _forbidden_form(request)


def _link_row(request: Request, token: str) -> Any | None:
    if not 20 <= len(token) <= 100:
        return None
    with _engine(request).connect() as conn:
        return conn.execute(
            select(schema.mail_codes).where(schema.mail_codes.c.link_hash == _sha256(token))
        ).first()


def _link_refused(request: Request, t: Translator, row: Any | None, now: datetime) -> Response | None:
    """The page for a link that cannot be used (with a form for a new mail), or None if it can."""
    if row is None:
        status, heading = 404, t.gettext("This sign-in link is not valid")
    elif row.used_at is not None:
        status, heading = 410, t.gettext("This sign-in link has already been used")
    elif accounts.utc(row.expires_at) <= now:
        status, heading = 410, t.gettext("This sign-in link has expired")
    else:
        return None
    csrf = accounts.csrf_token_for(request, None)
    response = render(
        request,
        "mail_link.html",
        status,
        t=t,
        minutes=int(MAIL_CODE_LIFETIME.total_seconds() // 60),
        heading=heading,
        usable=False,
        csrf_token=csrf,
        email=row.email if row is not None else "",
        claim=row.claim if row is not None else "",
    )
    accounts.remember_csrf_cookie(response, request, csrf, None)
    return response


@router.get("/account/link/{token}")
def link_page(request: Request, token: str) -> Response:
    """The page a sign-in link opens: one button, so a mail scanner's visit uses nothing up."""
    t = translator(request)
    row = _link_row(request, token)
    refused = _link_refused(request, t, row, now_utc(request))
    if refused is not None or row is None:
        return refused or _forbidden_page(request)
    csrf = accounts.csrf_token_for(request, None)
    response = render(
        request,
        "mail_link.html",
        t=t,
        minutes=int(MAIL_CODE_LIFETIME.total_seconds() // 60),
        heading=t.gettext("Sign in"),
        usable=True,
        csrf_token=csrf,
        email=row.email,
        claim=row.claim,
        token=token,
    )
    accounts.remember_csrf_cookie(response, request, csrf, None)
    return response


@router.post("/account/link/{token}")
def signin_with_link(request: Request, token: str, csrf_token: FormText = "") -> Response:
    """Use the link: sign in (creating the account on first use) and add the purchase it carries."""
    from sync.server.web.shopper import _forbidden_form

    if not accounts.csrf_ok(request, csrf_token, None):
        return _forbidden_form(request)
    t = translator(request)
    now = now_utc(request)
    row = _link_row(request, token)
    refused = _link_refused(request, t, row, now)
    if refused is not None or row is None:
        return refused or _forbidden_page(request)
    codes = schema.mail_codes
    with _engine(request).begin() as conn:
        used = conn.execute(
            update(codes).where(codes.c.id == row.id, codes.c.used_at.is_(None)).values(used_at=now)
        ).rowcount
    if used != 1:  # used in another tab a moment ago
        return _link_refused(request, t, _link_row(request, token), now) or _forbidden_form(request)
    return _sign_in_as(request, row.email, row.claim, now)
