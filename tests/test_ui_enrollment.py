"""The first start of a till installed with a branch.conf, in the real window against the real
central server: it says what is wrong (unreachable, refused) and what to do, sells nothing, keeps the
code, and enrolls by itself as soon as IT fixes the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from central_fixtures import LiveServer, enrollment_code, free_port
from sync_support import central_server

from pos import branch
from pos.services.terminal import Terminal, open_terminal
from pos.ui.enrollment import EnrollmentScreen, enroll_before_selling
from pos.ui.i18n import set_language

WAIT_MS = 20_000


def conf(server: str, code: str) -> str:
    return f"[branch]\nserver = {server}\nstore = B001\ncode = {code}\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with central_server(tmp_path / "central", store_code="B001") as live:
        yield live


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    set_language("en")
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as core:
        yield core


def test_unreachable_then_fixed_by_it_enrolls_without_a_restart(
    qtbot, tmp_path: Path, server: LiveServer, terminal: Terminal
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "branch.conf"
    path.write_text(conf(f"http://127.0.0.1:{free_port()}", enrollment_code(server.db, "B001")))
    screen = EnrollmentScreen(lambda: branch.enroll_from_branch(terminal, path=path), path)
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitUntil(lambda: screen.last is not None, timeout=WAIT_MS)
    assert screen.last is not None and screen.last.outcome is branch.Outcome.UNREACHABLE
    assert "cannot sell until it is" in screen.state.text()
    assert "cannot be reached" in screen.advice.text() and str(path) in screen.advice.text()
    assert screen.next_try.text() == "Next try in 5 s."
    assert screen.isVisible() and not terminal.config.enrolled
    # IT corrects the address in place: the screen notices the file changed and tries at once.
    with qtbot.waitSignal(screen.accepted, timeout=WAIT_MS):
        path.write_text(conf(server.url, enrollment_code(server.db, "B001")))
    assert screen.last is not None and screen.last.outcome is branch.Outcome.ENROLLED
    assert terminal.config.enrolled and terminal.config.store_code == "B001"
    loaded = branch.load(path)
    assert loaded is not None and loaded.code is None


def test_a_refused_code_says_call_it_and_quit_leaves_everything_as_it_was(
    qtbot, tmp_path: Path, server: LiveServer, terminal: Terminal
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "branch.conf"
    path.write_text(conf(server.url, "ABCD-EFGH-JKMN-PQRS"))
    before = path.read_bytes()
    screen = EnrollmentScreen(lambda: branch.enroll_from_branch(terminal, path=path), path)
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitUntil(lambda: screen.last is not None, timeout=WAIT_MS)
    assert screen.last is not None and screen.last.outcome is branch.Outcome.REFUSED
    assert "refused the enrollment code" in screen.advice.text()
    assert "not known" in screen.detail.text()
    with qtbot.waitSignal(screen.rejected, timeout=WAIT_MS):
        screen.quit.click()
    assert path.read_bytes() == before
    assert not terminal.config.enrolled


def test_a_till_without_a_branch_file_or_already_enrolled_starts_at_once(
    tmp_path: Path, terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POS_BRANCH_CONFIG", str(tmp_path / "absent.conf"))
    assert enroll_before_selling(terminal) is True
    assert enroll_before_selling(None) is True
