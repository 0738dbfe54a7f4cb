"""The branch configuration IT gives a till at install time, and the till's self-enrollment.

IT (or the installer: debconf on Linux, MSI properties on Windows) leaves one INI file::

    [branch]
    server = https://hq.example.com
    store = B001
    code = ABCD-EFGH-JKMN-PQRS   ; one-time enrollment code; removed from the file once used

It is looked up at ``$POS_BRANCH_CONFIG`` if set, else ``/etc/storelink-pos/branch.conf`` on Linux
and ``%PROGRAMDATA%\\Storelink POS\\branch.conf`` on Windows. A till that is not enrolled and
finds the file with a code enrolls itself on start (:func:`enroll_from_branch`, through the same
service ``pos enroll`` uses) and then removes the ``code`` line, atomically and keeping the
file's mode. A refused code or an unreachable server changes nothing: the file keeps its code, the
till keeps retrying (the GUI with a backoff, see :mod:`pos.ui.enrollment`) and reads the file again
before every try, so IT can fix it in place (``dpkg-reconfigure storelink-pos`` or an editor).

Errors are one line naming the file and the field, e.g.
``/etc/storelink-pos/branch.conf: server: must start with https:// or http://, got 'hq.example.com'``.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import re
import stat
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

    from pos.services.terminal import Terminal

log = logging.getLogger(__name__)

ENV_VAR = "POS_BRANCH_CONFIG"
SECTION = "branch"
FILE_NAME = "branch.conf"
#: Store codes as head office makes them (sync/server/stores.py ``add_store``).
STORE_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: The letters an enrollment code is made of (sync/server/stores.py ``_CODE_ALPHABET``: no 0/O,
#: 1/I/L) and its length without the dashes; a test checks the two stay the same.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
_CODE_LINE = re.compile(r"\s*code\s*[=:]", re.IGNORECASE)
_SECTION_LINE = re.compile(r"\s*\[([^\]]*)\]")


class BranchConfigError(ValueError):
    """branch.conf cannot be read or a field is invalid; ``str()`` is one line naming file and field."""


@dataclass(frozen=True)
class BranchConfig:
    path: Path
    server: str
    store: str
    #: The one-time enrollment code (normalised: upper case, dashes in groups of four), or None
    #: once it was used.
    code: str | None


def default_path() -> Path:
    """Where the installer puts branch.conf on this platform (without ``$POS_BRANCH_CONFIG``)."""
    if sys.platform == "win32":
        base = os.environ.get("PROGRAMDATA") or r"C:\ProgramData"
        return Path(base) / "Storelink POS" / FILE_NAME
    return Path("/etc/storelink-pos") / FILE_NAME


def config_path() -> Path:
    """``$POS_BRANCH_CONFIG`` if set, else :func:`default_path`."""
    given = os.environ.get(ENV_VAR, "").strip()
    return Path(given) if given else default_path()


def normalise_code(code: str) -> str:
    """``abcd efgh-jkmn-pqrs`` -> ``ABCD-EFGH-JKMN-PQRS`` (what head office printed)."""
    raw = re.sub(r"[\s-]", "", code).upper()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def check_server(value: str) -> str:
    """The server URL without a trailing slash; raises ValueError with the reason."""
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ValueError(f"must start with https:// or http://, got {value.strip()!r}")
    if not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"has no host name (e.g. https://hq.example.com), got {value.strip()!r}")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError(f"has a port that is not a number, got {value.strip()!r}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"must not have a query or fragment (?, #), got {value.strip()!r}")
    return url


def check_store(value: str) -> str:
    store = value.strip()
    if not STORE_CODE.fullmatch(store):
        raise ValueError(
            f"use the store code head office gave (1 to 32 letters, digits, - or _), got {store!r}"
        )
    return store


def check_code(value: str) -> str:
    raw = re.sub(r"[\s-]", "", value).upper()
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        wrong = sorted({c for c in raw if c not in CODE_ALPHABET})
        why = f"it has {', '.join(repr(c) for c in wrong)}" if wrong else f"it has {len(raw)} characters"
        raise ValueError(
            f"is not an enrollment code ({CODE_LENGTH} letters and digits in groups of four, "
            f"never 0, O, 1, I or L; {why})"
        )
    return normalise_code(raw)


def parse(text: str, path: Path) -> BranchConfig:
    """Read and check the text of a branch.conf; raises :class:`BranchConfigError`."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BranchConfigError(f"{path}: not an INI file: {first}") from None
    if not parser.has_section(SECTION):
        raise BranchConfigError(f"{path}: has no [{SECTION}] section")
    section = parser[SECTION]
    values: dict[str, str] = {}
    for field, check in (("server", check_server), ("store", check_store)):
        given = section.get(field, "").strip()
        if not given:
            raise BranchConfigError(f"{path}: {field}: missing (add '{field} = ...' under [{SECTION}])")
        try:
            values[field] = check(given)
        except ValueError as exc:
            raise BranchConfigError(f"{path}: {field}: {exc}") from None
    code: str | None = None
    given_code = section.get("code", "").strip()
    if given_code:
        try:
            code = check_code(given_code)
        except ValueError as exc:
            raise BranchConfigError(f"{path}: code: {exc}") from None
    return BranchConfig(path=path, server=values["server"], store=values["store"], code=code)


def load(path: Path | None = None) -> BranchConfig | None:
    """The branch configuration, or None when there is no file. Raises :class:`BranchConfigError`."""
    where = path if path is not None else config_path()
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except PermissionError:
        raise BranchConfigError(
            f"{where}: cannot be read by this user: add the till's user to the group storelink-pos"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BranchConfigError(f"{where}: cannot be read: {exc}") from None
    return parse(text, where)


def without_code(text: str) -> str:
    """``text`` with every ``code = ...`` line of the [branch] section removed, the rest as it was."""
    kept: list[str] = []
    section = ""
    for line in text.splitlines(keepends=True):
        header = _SECTION_LINE.match(line)
        if header:
            section = header.group(1).strip()
        elif section == SECTION and _CODE_LINE.match(line):
            continue
        kept.append(line)
    return "".join(kept)


def remove_code(path: Path) -> bool:
    """Remove the code line from ``path`` atomically, keeping its mode (and owner when allowed).

    Returns False when there was no code line. The new file is written beside the old one and
    renamed over it, so a crash leaves the old or the new file; where the directory is not writable
    by this user the file is rewritten in place instead. Raises OSError when neither works.
    """
    text = path.read_text(encoding="utf-8")
    new = without_code(text)
    if new == text:
        return False
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except PermissionError:
        # The directory is not ours to write: rewrite the file itself (still readable throughout).
        with path.open("r+", encoding="utf-8") as handle:
            handle.write(new)
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
        return True
    try:
        try:
            os.write(fd, new.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        if hasattr(os, "chown"):
            # Root keeps the file root's; a till user cannot give it away, and the directory's
            # set-group-id bit keeps the group.
            with contextlib.suppress(OSError):
                os.chown(tmp, info.st_uid, info.st_gid)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):
        with contextlib.suppress(OSError):
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    return True


# --- self-enrollment ------------------------------------------------------------------------------


class Outcome(StrEnum):
    NO_FILE = "no-file"  # no branch.conf: nothing to do
    NO_CODE = "no-code"  # branch.conf without a code on a till that is not enrolled
    ALREADY = "already"  # the till is enrolled (a leftover code line was removed)
    ENROLLED = "enrolled"  # enrolled now; the code line was removed
    INVALID = "invalid"  # branch.conf is unreadable or a field is wrong
    REFUSED = "refused"  # head office refused the code (unknown, used, expired)
    UNREACHABLE = "unreachable"  # head office could not be reached


#: Outcomes after which the till tries again (the file may be fixed, the network may come back).
RETRY = frozenset({Outcome.INVALID, Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.NO_CODE})


@dataclass(frozen=True)
class EnrollResult:
    outcome: Outcome
    #: One line for the log and the CLI; the GUI shows :attr:`advice` under it.
    message: str
    path: Path | None = None

    @property
    def retry(self) -> bool:
        return self.outcome in RETRY

    @property
    def advice(self) -> str:
        """What IT should do, in words (English; the GUI shows its own translation)."""
        where = str(self.path) if self.path else "branch.conf"
        return {
            Outcome.INVALID: f"Correct {where}; the till reads it again before each try.",
            Outcome.REFUSED: (
                "Make a new code with `pos-central enroll-code --store STORE` and put it in "
                f"{where} (or run `dpkg-reconfigure storelink-pos`); the till tries it by itself."
            ),
            Outcome.UNREACHABLE: (
                "Check the network and the server address; the till keeps trying by itself."
            ),
            Outcome.NO_CODE: (
                f"Put a one-time enrollment code in {where} (code = ...); the till tries it by itself."
            ),
        }.get(self.outcome, "")


def enroll_from_branch(
    terminal: Terminal,
    *,
    path: Path | None = None,
    terminal_name: str = "",
    http: httpx.Client | None = None,
) -> EnrollResult:
    """Enroll ``terminal`` from branch.conf if it is not enrolled yet; remove the used code.

    Never raises for a bad file, a refused code or an unreachable server: the result says which,
    and nothing was changed (the code stays in the file for the next try).
    """
    from pos.services import syncing
    from sync.client import Offline, Rejected

    where = path if path is not None else config_path()
    try:
        branch = load(where)
    except BranchConfigError as exc:
        return EnrollResult(Outcome.INVALID, str(exc), where)
    if branch is None:
        if terminal.config.enrolled:
            return EnrollResult(Outcome.ALREADY, "this till is enrolled", where)
        return EnrollResult(Outcome.NO_FILE, f"no branch configuration at {where}", where)
    if terminal.config.enrolled:
        message = (
            f"this till is enrolled as {terminal.config.terminal_code} of store {terminal.config.store_code}"
        )
        if branch.code is not None:
            message += _drop_code(where, "the code is not needed any more")
        return EnrollResult(Outcome.ALREADY, message, where)
    if branch.code is None:
        return EnrollResult(
            Outcome.NO_CODE, f"{where}: code: missing, and this till is not enrolled yet", where
        )
    try:
        enrollment = syncing.enroll(
            terminal, branch.server, branch.code, terminal_name=terminal_name, http=http
        )
    except syncing.EnrollmentError as exc:
        cause = exc.__cause__
        if isinstance(cause, Offline):
            return EnrollResult(
                Outcome.UNREACHABLE,
                f"head office at {branch.server} cannot be reached: {cause.detail}",
                where,
            )
        if isinstance(cause, Rejected):
            return EnrollResult(Outcome.REFUSED, f"{where}: code: {exc}", where)
        # Anything else the server said (too old a protocol, an unexpected answer): try again later.
        return EnrollResult(Outcome.UNREACHABLE, f"enrolling with {branch.server} failed: {exc}", where)
    message = (
        f"enrolled as terminal {enrollment.terminal_code} of store {enrollment.store.code} "
        f"{enrollment.store.name} at {branch.server}"
    )
    if enrollment.store.code != branch.store:
        message += (
            f" (note: {where} says store {branch.store}; the code was made for {enrollment.store.code})"
        )
        log.warning("%s", message)
    message += _drop_code(where, "the code was used")
    log.info("%s", message)
    return EnrollResult(Outcome.ENROLLED, message, where)


def _drop_code(path: Path, why: str) -> str:
    try:
        removed = remove_code(path)
    except OSError as exc:
        log.warning("%s: could not remove the code line: %s", path, exc)
        return (
            f"; could not remove the code from {path} ({exc.strerror or exc}): remove the code line by hand"
        )
    return f"; {why} and was removed from {path}" if removed else ""
