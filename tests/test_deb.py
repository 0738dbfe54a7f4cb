"""The Debian package on the real machine: `make deb` builds it from the bundle, and apt installs,
upgrades, removes and purges it for real (root; CI runs as root).

The upgrade test follows a till through its life: version N installed with its branch
configuration preseeded through debconf, enrolled against a running `pos-central` (a real server
process on a free port), sales made while head office is down, version N+1 (with a new ledger
migration) installed over it: the migration takes a backup first, the unsynced sales are all there,
the chain verifies, they sync once head office is back, and head office saw N+1's version. A
version N+2 whose migration fails rolls back to the backup, says so, and N+1 runs again. Purging
removes a fully synced ledger and keeps one holding unsynced sales.

N+1 is made without a second PyInstaller run: the bundle carries the `pos` package as source files
(packaging/pos.spec), so the test copies the bundle, appends a migration to
`_internal/pos/ledger/migrations.py`, sets the distribution's version in its dist-info, and builds
the .deb from that copy with the same script `make deb` runs.

These tests change the machine (/opt/storelink-pos, /etc/storelink-pos, /var/lib/storelink-pos,
the group storelink-pos): they purge the package first and last.
"""

from __future__ import annotations

import fcntl
import grp
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from central_fixtures import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging" / "deb"))
import build_deb  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DATA = Path("/var/lib/storelink-pos")
CONF = Path("/etc/storelink-pos/branch.conf")
PIN = "4711"
MILK = "4151397130521"  # resources/demo/catalog.csv
BREAD = "4362898819833"  # butter 250 g
N = build_deb.debian_version(build_deb.project_version())

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0, reason="installs the package with apt and dpkg: needs root (CI runs as root)"
    ),
    # Building the bundle (when `make packaging` did not), two more packages and five installs.
    pytest.mark.timeout(1800),
]


def run(
    *args: str | Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def pos(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed till's command, as IT runs it (/usr/bin/pos, its data dir /var/lib/storelink-pos)."""
    return run(
        "/usr/bin/pos",
        *args,
        check=check,
        env={"POS_DATA_DIR": "", "POS_BRANCH_CONFIG": "", "QT_QPA_PLATFORM": "offscreen"},
    )


def apt_install(deb: Path, *extra: str) -> float:
    started = time.perf_counter()
    run("apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", *extra, deb.resolve())
    return time.perf_counter() - started


def purge() -> None:
    run("dpkg", "--purge", "storelink-pos", check=False)
    shutil.rmtree(DATA, ignore_errors=True)
    shutil.rmtree(CONF.parent, ignore_errors=True)
    run("sh", "-c", "echo PURGE | debconf-communicate storelink-pos", check=False)


@pytest.fixture(scope="module")
def machine() -> Iterator[None]:
    """One test run at a time owns the machine's package state; clean before and after."""
    with open("/tmp/storelink-pos-deb-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        purge()
        try:
            yield
        finally:
            purge()


@pytest.fixture(scope="module")
def deb_n() -> Path:
    """Version N: `make deb` (up to date after `make packaging`; builds the bundle if needed)."""
    pyinstaller = VENV_BIN / "pyinstaller"
    run("make", "-C", ROOT, "deb", f"PYINSTALLER={pyinstaller}", f"PYTHON={sys.executable}")
    path = ROOT / "dist" / f"storelink-pos_{N}_amd64.deb"
    assert path.is_file()
    return path


def bundle_with_migration(tmp: Path, version: str, name: str, body: str, base: Path | None = None) -> Path:
    """A copy of the bundle as version ``version`` with one more ledger migration ``name``."""
    target = tmp / f"bundle-{version}"
    shutil.copytree(base or ROOT / "dist" / "pos", target, symlinks=True)
    internal = target / "_internal"
    migrations = internal / "pos" / "ledger" / "migrations.py"
    assert migrations.is_file(), "the bundle must carry pos/ as source (packaging/pos.spec)"
    with migrations.open("a", encoding="utf-8") as handle:
        handle.write(f'\n\n@migration("{name}")\ndef _{name}(db: sqlite_utils.Database) -> None:\n{body}\n')
    (info,) = internal.glob("storelink_pos-*.dist-info")
    metadata = info / "METADATA"
    text = re.sub(
        r"^Version: .*$", f"Version: {version}", metadata.read_text(encoding="utf-8"), count=1, flags=re.M
    )
    metadata.write_text(text, encoding="utf-8")
    info.rename(info.with_name(f"storelink_pos-{version}.dist-info"))
    return target


def build(bundle: Path, out: Path, version: str) -> Path:
    assert build_deb.main(["--bundle", str(bundle), "--out", str(out), "--version", version]) == 0
    return out / f"storelink-pos_{build_deb.debian_version(version)}_amd64.deb"


class Central:
    """`pos-central serve` from the dev venv on a fixed free port, stopped and started again."""

    def __init__(self, folder: Path) -> None:
        self.database = str(folder / "central.sqlite3")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.cli("init")
        self.cli("store", "add", "--code", "B001", "--name", "Harbour", "--currency", "EUR",
                 "--locale", "de_DE", "--tax-mode", "inclusive")  # fmt: skip
        self.cli("staff", "add", "--store", "B001", "--name", "Ada", "--role", "manager", "--pin", PIN)
        self.cli("catalog", "import", str(ROOT / "resources" / "demo" / "catalog.csv"))

    def cli(self, *args: str) -> str:
        return run(
            VENV_BIN / "pos-central", *args, env={"POS_CENTRAL_DATABASE": self.database}
        ).stdout.strip()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [VENV_BIN / "pos-central", "serve", "--database", self.database, "--port", str(self.port)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        ready = threading.Event()
        stderr = self.process.stderr
        assert stderr is not None

        def drain() -> None:
            for line in stderr:
                if "Uvicorn running on" in line:
                    ready.set()
            ready.set()  # the process ended

        self.drain = threading.Thread(target=drain, daemon=True)
        self.drain.start()
        ready.wait(60)
        assert self.process.poll() is None, "pos-central serve did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.drain.join(30)
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def terminal(self) -> sqlite3.Row:
        with sqlite3.connect(self.database) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM terminals").fetchone()
        assert row is not None
        return row

    def sales_of(self, terminal_id: int) -> int:
        with sqlite3.connect(self.database) as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM journal WHERE terminal_id = ? AND type = 'sale.completed'",
                    (terminal_id,),
                ).fetchone()[0]
            )


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    server = Central(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def status() -> dict[str, object]:
    return json.loads(pos("status", "--json").stdout)


def test_install_enroll_sell_offline_upgrade_and_sync(
    machine: None, deb_n: Path, central: Central, tmp_path: Path
) -> None:
    central.start()
    code = central.cli("enroll-code", "--store", "B001").splitlines()[0]
    selections = (
        f"storelink-pos storelink-pos/server string {central.url}\n"
        "storelink-pos storelink-pos/store string B001\n"
        f"storelink-pos storelink-pos/code password {code}\n"
    )
    subprocess.run(["debconf-set-selections"], input=selections, text=True, check=True)
    seconds = apt_install(deb_n)
    print(f"\napt-get install of {deb_n.name} ({deb_n.stat().st_size / 1e6:.1f} MB): {seconds:.1f} s")

    # Installed where IT expects it, with the branch file readable by root and the group only.
    assert Path("/usr/bin/pos").is_file() and Path("/opt/storelink-pos/pos").is_file()
    assert Path("/usr/share/applications/storelink-pos.desktop").is_file()
    info = CONF.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert grp.getgrgid(info.st_gid).gr_name == "storelink-pos" and info.st_uid == 0
    assert f"code = {code}" in CONF.read_text()
    data = DATA.stat()
    assert stat.S_IMODE(data.st_mode) == 0o2770 and grp.getgrgid(data.st_gid).gr_name == "storelink-pos"
    assert run("debconf-show", "storelink-pos").stdout.count(code) == 0  # the code lives in the file only
    # Every library the installed till links with is found (bundled or from Depends).
    elves = build_deb.elf_files(Path("/opt/storelink-pos"))
    missing = [line for line in run("ldd", *elves, check=False).stdout.splitlines() if "not found" in line]
    assert missing == []
    assert pos("--version").stdout.strip().endswith(N)
    # The installed till checks itself (Qt, SQLite, ledger, QR, receipts, printer, keyring).
    checked = pos("--self-test")
    assert "bundle /opt/storelink-pos" in checked.stdout and "FAIL" not in checked.stdout
    assert not (DATA / "ledger.sqlite3").exists()  # it used a directory of its own

    # First start: the till enrolls itself from branch.conf and removes the used code.
    enrolled = pos("enroll")
    assert "Enrolled: enrolled as terminal" in enrolled.stdout
    assert "code" not in CONF.read_text().split("[branch]")[1]
    assert stat.S_IMODE(CONF.stat().st_mode) == 0o640
    pos("sync")  # catalog and staff

    # Head office goes down; the till sells on.
    central.stop()
    for scans in ([MILK], [MILK, BREAD], [BREAD]):
        pos("sell", "--pin", PIN, *[arg for code in scans for arg in ("--scan", code)])
    queued = int(pos("ledger", "unsynced").stdout)
    assert queued >= 3
    receipts = [
        json.loads(line)["receipt_no"]
        for line in pos("export", "--format", "jsonl", "--what", "sales").stdout.splitlines()
    ]
    assert len(set(receipts)) == 3

    # Version N+1 with a new ledger migration, installed over N.
    v1 = f"{N}.post1"
    bundle1 = bundle_with_migration(
        tmp_path,
        v1,
        "9001_upgrade_note",
        '    db.execute("CREATE TABLE upgrade_note (id INTEGER PRIMARY KEY)")',
    )
    deb1 = build(bundle1, tmp_path / "out", v1)
    print(f"upgrade to {deb1.name}: {apt_install(deb1):.1f} s")
    assert pos("--version").stdout.strip().endswith(v1)
    assert status()["queued_events"] == queued  # the first start of N+1: the migration runs now
    assert int(pos("ledger", "unsynced").stdout) == queued
    before = sorted((DATA / "backups").glob("ledger-*-before-migration.sqlite3"))
    assert len(before) == 1
    with sqlite3.connect(f"file:{before[0]}?mode=ro", uri=True) as backup:
        assert backup.execute("SELECT count(*) FROM sales").fetchone()[0] == 3
        assert "upgrade_note" not in {r[0] for r in backup.execute("SELECT name FROM sqlite_master")}
    sales_now = [
        json.loads(line)["receipt_no"]
        for line in pos("export", "--format", "jsonl", "--what", "sales").stdout.splitlines()
    ]
    assert sales_now == receipts
    assert "OK: the journal's chain verifies" in pos("ledger", "verify").stdout

    # Head office is back: everything syncs, and it saw N+1.
    central.start()
    pos("sync")
    assert int(pos("ledger", "unsynced").stdout) == 0
    terminal = central.terminal()
    assert central.sales_of(terminal["id"]) == 3
    assert terminal["app_version"] == v1
    assert terminal["ledger_schema"] == "9001_upgrade_note"
    assert terminal["platform"] == "linux-x86_64"

    # Version N+2's migration fails: rolled back to the backup, the till says so, N+1 runs again.
    v2 = f"{N}.post2"
    bundle2 = bundle_with_migration(
        tmp_path,
        v2,
        "9002_breaks",
        '    db.execute("ALTER TABLE sales ADD COLUMN flavour TEXT")\n    raise RuntimeError("flavour cannot be filled in")',
        base=bundle1,
    )
    ledger = DATA / "ledger.sqlite3"
    apt_install(build(bundle2, tmp_path / "out", v2))
    refused = pos("status", check=False)
    assert refused.returncode == 1
    assert "could not update the ledger" in refused.stderr and "rolled back" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(list((DATA / "backups").glob("ledger-*-before-migration.sqlite3"))) == 2
    apt_install(deb1, "--allow-downgrades")
    assert pos("status").returncode == 0
    assert "OK" in pos("ledger", "verify").stdout
    assert (
        sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        .execute("SELECT count(*) FROM sales")
        .fetchone()[0]
        == 3
    )

    # Removing keeps the ledger and the branch file; purging a fully synced till removes both.
    run("dpkg", "-r", "storelink-pos")
    assert not Path("/usr/bin/pos").exists() and ledger.exists() and CONF.exists()
    run("dpkg", "--purge", "storelink-pos")
    assert not DATA.exists() and not CONF.parent.exists()


def test_purge_never_deletes_a_ledger_holding_unsynced_sales(machine: None, deb_n: Path) -> None:
    # IT drops its own branch.conf before installing: kept as written, made 0640 root:storelink-pos.
    dropped = "# IT's own file\n[branch]\nserver = https://hq.example.com\nstore = B001\ncode = ABCD-EFGH-JKMN-PQRS\n"
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(dropped)
    os.chmod(CONF, 0o644)
    apt_install(deb_n)
    assert CONF.read_text() == dropped
    info = CONF.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640 and grp.getgrgid(info.st_gid).gr_name == "storelink-pos"
    refused = pos("sell", "--pin", PIN, "--scan", MILK, check=False)
    assert refused.returncode == 1 and "not enrolled yet and cannot sell" in refused.stderr
    CONF.unlink()  # IT decides this one runs standalone
    pos("catalog", "import", str(ROOT / "resources" / "demo" / "catalog.csv"))
    pos("staff", "add", "--name", "Ada", "--role", "manager", "--pin", PIN)
    pos("sell", "--pin", PIN, "--scan", MILK)
    unsynced = int(pos("ledger", "unsynced").stdout)
    assert unsynced > 0
    removed = run("dpkg", "-r", "storelink-pos")
    assert f"holds {unsynced} journal entries head office has not received" in removed.stderr
    purged = run("dpkg", "--purge", "storelink-pos")
    assert "NOT deleting /var/lib/storelink-pos" in purged.stderr
    assert (DATA / "ledger.sqlite3").is_file()
    with sqlite3.connect(f"file:{DATA / 'ledger.sqlite3'}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 1
