"""Branch configuration (pos/branch.py): a till enrolls itself from the file IT drops, against the
real central server, removes the used code atomically keeping the file's mode, and a bad file, a
refused code or an unreachable server change nothing and say what to do."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from central_fixtures import LiveServer, enrollment_code, free_port
from click.testing import CliRunner
from sync_support import central_server

from pos import branch
from pos.cli import cli
from pos.config import load_config
from pos.services.terminal import open_terminal
from sync.server import stores

CODE = "ABCD-EFGH-JKMN-PQRS"


def write(path: Path, text: str, mode: int = 0o640) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def conf(server: str = "https://hq.example.com", store: str = "B001", code: str | None = CODE) -> str:
    lines = ["# written by IT", "[branch]", f"server = {server}", f"store = {store}"]
    if code is not None:
        lines.append(f"code = {code}   ; one-time enrollment code")
    return "\n".join([*lines, "", "[extra]", "code = stays", ""])


def test_a_good_file_is_read_with_the_code_normalised(tmp_path: Path) -> None:
    path = write(
        tmp_path / "branch.conf", conf(server="https://hq.example.com:8443/", code="abcd efgh-jkmnpqrs")
    )
    config = branch.load(path)
    assert config == branch.BranchConfig(path, "https://hq.example.com:8443", "B001", CODE)


def test_no_file_is_none_and_the_env_var_chooses_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POS_BRANCH_CONFIG", str(tmp_path / "elsewhere.conf"))
    assert branch.config_path() == tmp_path / "elsewhere.conf"
    assert branch.load() is None
    monkeypatch.delenv("POS_BRANCH_CONFIG")
    assert branch.config_path() == Path("/etc/storelink-pos/branch.conf")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (conf(server="hq.example.com"), "server: must start with https:// or http://, got 'hq.example.com'"),
        (conf(server="https://"), "server: has no host name"),
        (conf(server="https://hq:80a"), "server: has a port that is not a number"),
        (conf(server="https://hq/?x=1"), "server: must not have a query or fragment"),
        (conf(store="B 001"), "store: use the store code head office gave"),
        (conf(code="ABCD-EFGH-JKMN-PQR0"), "code: is not an enrollment code"),
        (conf(code="ABCD-EFGH"), "it has 8 characters"),
        ("[branch]\nstore = B001\n", "server: missing (add 'server = ...' under [branch])"),
        ("[branch]\nserver = https://hq\n", "store: missing"),
        ("server = https://hq\n", "not an INI file"),
        ("[other]\nserver = https://hq\n", "has no [branch] section"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path / "branch.conf", text)
    with pytest.raises(branch.BranchConfigError) as caught:
        branch.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_the_code_alphabet_is_the_one_head_office_makes_codes_from() -> None:
    assert branch.CODE_ALPHABET == stores._CODE_ALPHABET
    assert branch.check_code("".join(stores._CODE_ALPHABET[:16])) == "ABCD-EFGH-JKMN-PQRS"


def test_removing_the_code_keeps_everything_else_and_the_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "branch.conf", conf(), mode=0o640)
    inode = path.stat().st_ino
    assert branch.remove_code(path) is True
    text = path.read_text(encoding="utf-8")
    assert "ABCD" not in text
    assert "# written by IT" in text and "server = https://hq.example.com" in text
    assert "[extra]\ncode = stays" in text  # only the [branch] section's code goes
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["branch.conf"]  # no temp file left
    assert branch.remove_code(path) is False
    assert branch.load(path) == branch.BranchConfig(path, "https://hq.example.com", "B001", None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with central_server(tmp_path / "central", store_code="B001") as live:
        yield live


def test_a_till_enrolls_itself_from_the_file_and_the_code_is_removed(
    tmp_path: Path, server: LiveServer
) -> None:
    code = enrollment_code(server.db, "B001")
    path = write(tmp_path / "branch.conf", conf(server=server.url + "/", code=code.lower()), mode=0o640)
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        result = branch.enroll_from_branch(terminal, path=path)
        assert result.outcome is branch.Outcome.ENROLLED, result.message
        assert "of store B001" in result.message and "was removed" in result.message
        assert terminal.config.enrolled and terminal.config.server_url == server.url
    assert load_config(tmp_path / "till").store_code == "B001"
    assert "code" not in path.read_text(encoding="utf-8").split("[extra]")[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # The next start: enrolled, nothing to do, and a code IT leaves by mistake is removed unused.
    write(path, conf(server=server.url), mode=0o640)
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        again = branch.enroll_from_branch(terminal, path=path)
    assert again.outcome is branch.Outcome.ALREADY
    assert branch.load(path).code is None  # type: ignore[union-attr]


def test_a_refused_code_changes_nothing_and_says_make_a_new_one(tmp_path: Path, server: LiveServer) -> None:
    path = write(tmp_path / "branch.conf", conf(server=server.url, code=CODE))
    before = path.read_bytes()
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        result = branch.enroll_from_branch(terminal, path=path)
        assert result.outcome is branch.Outcome.REFUSED
        assert result.retry
        assert "not known" in result.message
        assert "pos-central enroll-code" in result.advice
        assert not terminal.config.enrolled
    assert path.read_bytes() == before
    assert not load_config(tmp_path / "till").enrolled
    # IT fixes the file in place; the next try (nothing restarted) enrolls.
    write(path, conf(server=server.url, code=enrollment_code(server.db, "B001")))
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        assert branch.enroll_from_branch(terminal, path=path).outcome is branch.Outcome.ENROLLED


def test_an_unreachable_server_changes_nothing_and_is_retried(tmp_path: Path) -> None:
    path = write(tmp_path / "branch.conf", conf(server=f"http://127.0.0.1:{free_port()}"))
    before = path.read_bytes()
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        result = branch.enroll_from_branch(terminal, path=path)
    assert result.outcome is branch.Outcome.UNREACHABLE
    assert result.retry and "cannot be reached" in result.message
    assert path.read_bytes() == before


def test_a_bad_file_or_no_code_is_reported_not_raised(tmp_path: Path) -> None:
    path = write(tmp_path / "branch.conf", conf(store="no spaces please"))
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
        bad = branch.enroll_from_branch(terminal, path=path)
        write(path, conf(code=None))
        none = branch.enroll_from_branch(terminal, path=path)
        missing = branch.enroll_from_branch(terminal, path=tmp_path / "absent.conf")
    assert bad.outcome is branch.Outcome.INVALID and "store:" in bad.message
    assert none.outcome is branch.Outcome.NO_CODE and "code: missing" in none.message
    assert missing.outcome is branch.Outcome.NO_FILE and not missing.retry


def test_pos_enroll_without_options_uses_the_branch_file(
    tmp_path: Path, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORELINK_SECRETS", "file")
    path = write(tmp_path / "branch.conf", conf(server=server.url, code=CODE))
    monkeypatch.setenv("POS_BRANCH_CONFIG", str(path))
    runner = CliRunner()
    data = str(tmp_path / "till")
    refused = runner.invoke(cli, ["--data-dir", data, "enroll"])
    assert refused.exit_code == 1
    assert "code:" in refused.output and "pos-central enroll-code" in refused.output
    assert "Traceback" not in refused.output
    half = runner.invoke(cli, ["--data-dir", data, "enroll", "--code", CODE])
    assert half.exit_code == 2 and "give both --server and --code, or neither" in half.output
    write(path, conf(server=server.url, code=enrollment_code(server.db, "B001")))
    done = runner.invoke(cli, ["--data-dir", data, "enroll"])
    assert done.exit_code == 0, done.output
    assert "Enrolled: enrolled as terminal" in done.output
    assert branch.load(path).code is None  # type: ignore[union-attr]
    again = runner.invoke(cli, ["--data-dir", data, "enroll"])
    assert again.exit_code == 0 and "Nothing to do" in again.output
