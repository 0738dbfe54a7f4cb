"""One clear line instead of a traceback, for both command lines (``pos`` and ``pos-central``).

:class:`FriendlyGroup` is the root group of each CLI. Anything a command raises that is not one of
click's own exits becomes ``Error: <one line saying what was wrong>`` on stderr with exit status 1.
With ``--verbose`` (a flag on the root group) the full trace is printed first, for a bug report.
A usage mistake (an unknown, missing or malformed option) is one line too, naming the ``--help``
that lists the options, with click's exit status 2.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

import click


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _database_message(exc: BaseException) -> str | None:
    """SQLAlchemy's errors name the driver's problem in ``orig``; say it without the statement."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return None
    orig = getattr(exc, "orig", None)
    detail = _first_line(str(orig if orig is not None else exc))
    # psycopg: 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  role ...'
    if "FATAL:" in detail:
        detail = detail.split("FATAL:", 1)[1].strip()
    detail = " ".join(detail.split())
    if "does not exist" in detail and ("role" in detail or "database" in detail):
        hint = "create it (see 'Deploying with PostgreSQL' in docs/central.md) or correct --database"
    elif "connection" in detail.lower() or "could not" in detail.lower():
        hint = "check that the database server runs and that --database (or POS_CENTRAL_DATABASE) is right"
    else:
        hint = "run again with --verbose for the details"
    return f"database: {detail}; {hint}"


def _validation_message(exc: BaseException) -> str | None:
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ != "ValidationError" or not callable(errors):
        return None
    parts = []
    for error in errors():
        where = ".".join(str(part) for part in error.get("loc", ())) or "input"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def shorten(message: str) -> str:
    """One line, with any run of 80+ characters without a space or a path separator (a pasted
    value) cut to its ends; paths are shown whole."""
    line = " ".join(message.split())
    return re.sub(r"[^\s/\\]{80,}", lambda m: f"{m.group()[:28]}…{m.group()[-12:]}", line)


def describe(exc: BaseException) -> str:
    """One line for a person: what was wrong, and what to do where that is known."""
    for explain in (_database_message, _validation_message):
        message = explain(exc)
        if message:
            return message
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = _first_line(str(exc))
    if isinstance(exc, ValueError) and text:
        return text
    name = type(exc).__name__
    said = f"{name}: {text}" if text else name
    return f"{said} (run again with --verbose for the details)"


class OneLineUsageError(click.UsageError):
    """Click's usage error in one line: what is wrong, and where the options are listed."""

    def show(self, file: Any = None) -> None:
        where = f" (see `{self.ctx.command_path} --help`)" if self.ctx is not None else ""
        click.echo(f"Error: {shorten(self.format_message())}{where}", err=True)


class FriendlyGroup(click.Group):
    """A root click group whose commands fail with one line (exit 1), the trace only with --verbose."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a group given no command: its help is the answer
        except click.exceptions.UsageError as exc:
            # Click's own wording (a missing option lists its choices on lines of their own).
            raise OneLineUsageError(exc.format_message(), exc.ctx) from None
        except click.exceptions.ClickException as exc:
            exc.message = shorten(exc.message)  # type: ignore[misc]
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("verbose"):
                click.echo(traceback.format_exc().rstrip(), err=True)
            raise click.ClickException(shorten(self.describe_error(exc))) from None

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.exceptions.UsageError as exc:  # an option of the root itself (`pos --bogus`)
            raise OneLineUsageError(exc.format_message(), exc.ctx) from None

    def describe_error(self, exc: BaseException) -> str:
        """The one line for ``exc``; a CLI may know more about its own errors."""
        return describe(exc)
