# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""A lost answer to `pos enroll` no longer burns the code (issue 9, defect 4).

The till makes a device key and keeps it in its data directory before its first attempt; the same
code with the same key gets the same terminal again (a new token replacing the first), another key
is refused. Orphans -- enrolled, never synced -- show at /hq Fleet and are revoked there.

The lost answer is real: a TCP proxy between the till and a real pos-central forwards the enroll
request, reads the server's whole (committed) answer and closes the till's connection instead of
passing it on.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_store,
    central,
    central_db,
    enrollment_code,
)
from sqlalchemy import func, select
from sync_support import central_server
from test_fleet_health import _sign_in

from pos.services import syncing
from pos.services.terminal import open_terminal
from sync.protocol import PROTOCOL_VERSION
from sync.server import schema
from sync.server.db import Database

KEY_A = "A" * 43
KEY_B = "B" * 43


# --- a proxy that loses answers ------------------------------------------------------------------


def _read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP/1.1 message (headers and a Content-Length body) from ``sock``; None at EOF."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, _rest = bytes(buffer).partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    total = len(head) + 4 + (int(match.group(1)) if match else 0)
    while len(buffer) < total:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    message = bytes(buffer[:total])
    del buffer[:total]
    return message


class LosingProxy:
    """Forwards HTTP requests to ``upstream``; while ``lose`` says so for a request, reads the
    server's whole answer, keeps it in ``lost`` and closes the client's connection instead."""

    def __init__(self, upstream: str, lose: Callable[[bytes], bool]) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.lose = lose
        self.lost: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        buffer = bytearray()
        with client, socket.create_connection(self.upstream) as server:
            upstream_buffer = bytearray()
            while (request := _read_message(client, buffer)) is not None:
                server.sendall(request)
                answer = _read_message(server, upstream_buffer)
                if answer is None:
                    return
                if self.lose(request):
                    self.lost.append(answer)
                    return  # the till's connection closes with no answer
                client.sendall(answer)

    def __enter__(self) -> LosingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()


def _first_enroll_only() -> Callable[[bytes], bool]:
    lost = []

    def lose(request: bytes) -> bool:
        if request.startswith(b"POST /v1/enroll ") and not lost:
            lost.append(request)
            return True
        return False

    return lose


def _terminal_count(db: Database) -> int:
    with db.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.terminals)).scalar_one())


# --- end to end: a real till, a real server, a lost answer ------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with central_server(tmp_path) as live:
        yield live


def test_a_till_whose_enroll_answer_was_lost_enrolls_as_the_same_terminal_on_retry(
    server: LiveServer, tmp_path: Path
) -> None:
    code = enrollment_code(server.db, "S01")
    with (
        LosingProxy(server.url, _first_enroll_only()) as proxy,
        open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal,
    ):
        with pytest.raises(syncing.EnrollmentError, match="could not enroll"):
            syncing.enroll(terminal, proxy.url, code)
        assert not terminal.config.enrolled
        # Head office did enroll it: the answer was committed, then lost on the way.
        assert len(proxy.lost) == 1 and b'"terminal_id"' in proxy.lost[0]
        first_token = re.search(rb'"token":"([^"]+)"', proxy.lost[0])
        assert first_token is not None
        assert _terminal_count(server.db) == 1
        key = (terminal.data_dir / syncing.DEVICE_KEY_FILE).read_text().strip()

        enrolled = syncing.enroll(terminal, proxy.url, code)  # the same code again

        assert (terminal.data_dir / syncing.DEVICE_KEY_FILE).read_text().strip() == key
        assert _terminal_count(server.db) == 1, "the retry made a second terminal"
        lost_id = re.search(rb'"terminal_id":(\d+)', proxy.lost[0])
        assert lost_id is not None and enrolled.terminal_id == int(lost_id.group(1))
        assert syncing.sync_once(terminal).ok, "the re-issued token works"
        # The token of the lost answer no longer does: one terminal, one live token.
        stale = server.client.get(
            "/v1/changes", headers={"Authorization": f"Bearer {first_token.group(1).decode()}"}
        )
        assert stale.status_code == 401 and stale.json()["error"] == "unknown_token"


def test_the_device_key_is_kept_before_the_first_attempt(tmp_path: Path) -> None:
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        # Nobody listens on this port: the attempt fails, the key is already on disk.
        with socket.create_server(("127.0.0.1", 0)) as closed:
            port = closed.getsockname()[1]
        with pytest.raises(syncing.EnrollmentError):
            syncing.enroll(terminal, f"http://127.0.0.1:{port}", "ABCD-EFGH-JKMN-PQRS")
        path = terminal.data_dir / syncing.DEVICE_KEY_FILE
        key = path.read_text().strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key)
        assert path.stat().st_mode & 0o077 == 0, "readable by the till's user only"
        assert syncing.enrollment_device_key(terminal.data_dir) == key


# --- the server's rules ---------------------------------------------------------------------------


def _enroll(client: httpx.Client, code: str, key: str | None) -> httpx.Response:
    body = {"code": code, "terminal_name": "Till", "protocol_version": PROTOCOL_VERSION}
    if key is not None:
        body["device_key"] = key
    return client.post("/v1/enroll", json=body)


def test_same_code_same_key_same_terminal_other_key_refused(central: LiveServer) -> None:
    add_store(central.db)
    code = enrollment_code(central.db)
    first = _enroll(central.client, code, KEY_A)
    assert first.status_code == 200, first.text
    again = _enroll(central.client, code, KEY_A)
    assert again.status_code == 200, again.text
    assert again.json()["terminal_id"] == first.json()["terminal_id"]
    assert again.json()["claim_key"] == first.json()["claim_key"]
    assert again.json()["token"] != first.json()["token"]
    for other in (KEY_B, None):
        refused = _enroll(central.client, code, other)
        assert refused.status_code == 409 and refused.json()["error"] == "code_used", refused.text
    assert _terminal_count(central.db) == 1
    token = again.json()["token"]
    assert central.client.get("/v1/changes", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # Once the till has been in touch it had its answer: the code is spent for good.
    late = _enroll(central.client, code, KEY_A)
    assert late.status_code == 409 and late.json()["error"] == "code_used"
    assert central.client.get("/v1/changes", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_device_key_that_is_not_one_is_refused(central: LiveServer) -> None:
    add_store(central.db)
    code = enrollment_code(central.db)
    for bad in ("short", "x" * 65, "A" * 42 + "/", 42):
        answer = central.client.post(
            "/v1/enroll",
            json={
                "code": code,
                "terminal_name": "T",
                "protocol_version": PROTOCOL_VERSION,
                "device_key": bad,
            },
        )
        assert answer.status_code == 422, answer.text
    assert _terminal_count(central.db) == 0


# --- orphans at /hq Fleet ---------------------------------------------------------------------------


def test_an_orphan_shows_at_hq_fleet_and_is_revoked_there(server: LiveServer) -> None:
    code = enrollment_code(server.db, "S01")
    orphan = _enroll(server.client, code, KEY_A).json()
    headers = {"Authorization": f"Bearer {orphan['token']}"}
    with _sign_in(server) as hq:
        page = hq.get("/hq/fleet").text
        row = page.split(f'data-terminal="{orphan["terminal_code"]}"', 1)[1].split("</tr>", 1)[0]
        assert "enrolled, never synced" in row
        form = row.split('action="/hq/fleet/revoke"', 1)[1].split("</form>", 1)[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None

        # Without the CSRF token, or without the confirmation, nothing happens.
        refused = hq.post("/hq/fleet/revoke", data={"terminal": orphan["terminal_code"], "confirm": "yes"})
        assert refused.status_code == 403
        unconfirmed = hq.post(
            "/hq/fleet/revoke", data={"terminal": orphan["terminal_code"], "csrf_token": token.group(1)}
        )
        assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.text
        unknown = hq.post(
            "/hq/fleet/revoke", data={"terminal": "S01-T99", "confirm": "yes", "csrf_token": token.group(1)}
        )
        assert unknown.status_code == 400 and "no terminal" in unknown.text
        assert server.client.get("/v1/changes", headers=headers).status_code == 200

        done = hq.post(
            "/hq/fleet/revoke",
            data={"terminal": orphan["terminal_code"], "confirm": "yes", "csrf_token": token.group(1)},
            follow_redirects=True,
        )
        assert done.status_code == 200 and f"Terminal {orphan['terminal_code']} revoked" in done.text
        row = done.text.split(f'data-terminal="{orphan["terminal_code"]}"', 1)[1].split("</tr>", 1)[0]
        assert "revoked" in row and "/hq/fleet/revoke" not in row
    answer = server.client.get("/v1/changes", headers=headers)
    assert answer.status_code == 401 and answer.json()["error"] == "terminal_revoked"
    # A revoked orphan cannot be answered again either.
    assert _enroll(server.client, code, KEY_A).status_code == 409


def test_pos_central_terminal_revoke_revokes_an_orphan(server: LiveServer) -> None:
    from click.testing import CliRunner

    from sync.server.cli import main

    orphan = _enroll(server.client, enrollment_code(server.db, "S01"), KEY_A).json()
    result = CliRunner().invoke(
        main, ["terminal", "revoke", "--database", str(server.db.engine.url), orphan["terminal_code"]]
    )
    assert result.exit_code == 0, result.output
    answer = server.client.get("/v1/changes", headers={"Authorization": f"Bearer {orphan['token']}"})
    assert answer.status_code == 401


def test_revoking_at_hq_with_a_terminal_that_is_no_terminal_is_a_clear_400(central: LiveServer) -> None:
    add_store(central.db)
    with _sign_in(central) as hq:
        token = re.search(r'name="csrf_token" value="([^"]+)"', hq.get("/hq/fleet").text)
        assert token is not None
        for odd in ("S01\x00T1", "²", "9" * 4301, "x" * 5000, ""):
            answer = hq.post(
                "/hq/fleet/revoke", data={"terminal": odd, "confirm": "yes", "csrf_token": token.group(1)}
            )
            # A NUL may be refused before the lookup (422, text a database cannot hold); never a 5xx.
            assert answer.status_code in ((400, 422) if "\x00" in odd else (400,)), (
                odd[:20],
                answer.status_code,
            )
            assert "no terminal" in answer.text or "\x00" in odd
