"""Sending mail to shoppers through a real SMTP server (``ServerSettings.smtp_*``).

Without ``smtp_host`` a mail is written to the server's log instead (demos on one machine); a
production server sets the host. A failure to hand the mail over is :class:`MailNotSent`, which the
pages turn into a clear "could not send" message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

log = logging.getLogger("pos_central.mail")

#: Seconds to wait for the SMTP server before telling the shopper the mail could not be sent.
SMTP_TIMEOUT_SECONDS = 15


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused the mail."""


def send_mail(settings: Any, *, to: str, subject: str, body: str, language: str) -> None:
    """Send a plain-text mail to ``to`` (raises MailNotSent)."""
    message = EmailMessage()
    message["From"] = getattr(settings, "mail_from", "Storelink <no-reply@storelink.example>")
    message["To"] = to
    message["Subject"] = subject
    message["Content-Language"] = language
    message["Message-ID"] = make_msgid(domain="storelink.example")
    message.set_content(body)
    host = getattr(settings, "smtp_host", None)
    if not host:
        log.warning(
            "no SMTP server configured (pos-central serve --smtp-host); the mail to %s:\n%s", to, body
        )
        return
    try:
        with smtplib.SMTP(
            host, int(getattr(settings, "smtp_port", 25)), timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            if getattr(settings, "smtp_starttls", False):
                smtp.starttls(context=ssl.create_default_context())
            username = getattr(settings, "smtp_username", None)
            if username:
                smtp.login(username, getattr(settings, "smtp_password", None) or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mail to %s not sent: %s", to, exc)
        raise MailNotSent(str(exc)) from exc
