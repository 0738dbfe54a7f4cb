"""The Windows installer: authored with wixl from the bundle tree, installed with wine's msiexec.

The MSI is built by ``packaging/windows/msi.py`` from a bundle-shaped tree and installed with
``wine msiexec /i ... /qn SERVER=... STORE=... CODE=...`` into a throwaway WINEPREFIX under
tmp_path. The checks read what landed on the prefix's C: drive: every file of the tree under
Program Files, the Start-menu shortcut, and branch.conf under ProgramData, read back by
:mod:`pos.branch` through its Windows path resolution (``%PROGRAMDATA%`` pointed at the prefix's).
Then a major upgrade (N -> N+1 with a changed file list), a refused downgrade and an uninstall
that keeps branch.conf. Wine stands in for Windows here; docs/deploying.md says what that covers.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos import branch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging" / "windows"))
import msi  # noqa: E402

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("wixl", "msibuild", "msiinfo", "wine")),
    reason="needs wixl, msitools and wine (.ci/run installs them)",
)

SERVER = "https://hq.example.com:8443"
STORE = "B001"
CODE = "ABCD-EFGH-JKMN-PQRS"


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    """A bundle-shaped tree (the executable at the top, the rest under _internal/)."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


BUNDLE_N = {
    "pos.exe": b"MZ version N",
    "_internal/base_library.zip": b"stdlib",
    "_internal/PySide6/plugins/platforms/qwindows.dll": b"qt platform plugin",
    "_internal/pos/resources/receipt.html": "<p>Beleg · 收据</p>".encode(),
    "_internal/only in N.txt": b"dropped by N+1",
}
BUNDLE_N1 = {
    **{k: v for k, v in BUNDLE_N.items() if k != "_internal/only in N.txt"},
    "pos.exe": b"MZ version N+1",
    "posw.exe": b"MZ windowed, N+1",
    "_internal/new in N+1.txt": b"added by N+1",
}


def table(path: Path, name: str) -> list[list[str]]:
    """Rows of one MSI table as msiinfo exports them (without the three header lines)."""
    out = subprocess.run(["msiinfo", "export", str(path), name], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines()[3:]]


class Wine:
    """One throwaway Windows: a WINEPREFIX of its own, its wineserver stopped at the end."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        self.env.update(
            WINEPREFIX=str(prefix),
            WINEARCH="win64",
            WINEDEBUG="-all",
            # No prompts to download Mono or Gecko: an MSI needs neither.
            WINEDLLOVERRIDES="mscoree,mshtml=",
        )
        booted = self.run("wineboot", "-i")
        assert booted.returncode == 0, f"wineboot failed: {booted.stdout[-2000:]}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # Output goes to a file, not a pipe: the wineserver and services wine starts inherit it and
        # outlive the command, and a pipe would keep us waiting until they exit.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
            done = subprocess.run(
                ["wine", *args], env=self.env, stdout=out, stderr=out, timeout=300, check=False
            )
            out.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, out.read(), "")

    def msiexec(self, *args: str) -> int:
        return self.run("msiexec", *args).returncode

    @property
    def program_files(self) -> Path:
        return self.prefix / "drive_c" / "Program Files" / "Storelink POS"

    @property
    def program_data(self) -> Path:
        return self.prefix / "drive_c" / "ProgramData"

    def products(self) -> list[dict[str, str]]:
        """The installed products named Storelink POS, as Windows lists them under Uninstall."""
        out = self.run(
            "reg", "query", r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall", "/s"
        ).stdout
        found: list[dict[str, str]] = []
        current: dict[str, str] = {}
        for line in out.splitlines():
            if line.startswith("HKEY_"):
                current = {"key": line.strip()}
                found.append(current)
            elif line.strip():
                name, _, rest = line.strip().partition("    ")
                current[name] = rest.split("    ", 1)[-1].strip()
        return [p for p in found if p.get("DisplayName") == "Storelink POS"]

    def system_path(self) -> list[str]:
        """The system PATH's entries, as Windows keeps them in the registry."""
        out = self.run(
            "reg", "query", r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment", "/v", "PATH"
        ).stdout
        line = next(line for line in out.splitlines() if line.strip().startswith("PATH"))
        return line.split("REG_", 1)[1].split(None, 1)[1].strip().split(";")

    def stop(self) -> None:
        """Stop this prefix's wineserver (and the programs it runs) and delete the prefix (~700 MB)."""
        subprocess.run(["wineserver", "-k"], env=self.env, check=False, timeout=60)
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def wine(tmp_path: Path) -> Iterator[Wine]:
    box = Wine(tmp_path / "prefix")
    yield box
    box.stop()


def installed_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_msi_lists_every_file_of_the_bundle_and_writes_branch_conf_from_properties(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "pos", BUNDLE_N)
    out = msi.build(tree, tmp_path / "storelink-pos-1.2.3.msi", "1.2.3")

    names = sorted(row[2] for row in table(out, "File"))
    assert names == sorted(Path(rel).name for rel in BUNDLE_N)
    properties = dict(row[:2] for row in table(out, "Property"))
    assert properties["ProductVersion"] == "1.2.3"
    assert properties["UpgradeCode"] == "{" + msi.UPGRADE_CODE + "}"
    assert {"SERVER", "STORE", "CODE"} <= set(properties["SecureCustomProperties"].split(";"))
    ini = {row[4]: row for row in table(out, "IniFile")}
    assert {key: (row[1], row[3], row[5]) for key, row in ini.items()} == {
        "server": ("BRANCH~1.CON|branch.conf", "branch", "[SERVER]"),
        "store": ("BRANCH~1.CON|branch.conf", "branch", "[STORE]"),
        "code": ("BRANCH~1.CON|branch.conf", "branch", "[CODE]"),
    }
    conditions = {row[0]: row[4] for row in table(out, "Component")}
    assert [conditions[f"branch_{key}"] for key in ("server", "store", "code")] == ["SERVER", "STORE", "CODE"]
    # Older and same versions are replaced (a rebuild has a new ProductCode); newer ones refuse.
    upgrade = sorted((row[1], row[2], row[4], row[6]) for row in table(out, "Upgrade"))
    assert upgrade == [
        ("", "1.2.3", "513", "WIX_UPGRADE_DETECTED"),
        ("1.2.3", "", "2", "WIX_DOWNGRADE_DETECTED"),
    ]
    sequence = {row[0] for row in table(out, "InstallExecuteSequence")}
    assert {"WriteIniValues", "RemoveExistingProducts"} <= sequence
    assert "RemoveIniValues" not in sequence  # uninstall keeps branch.conf
    assert msi.SERVER_CONDITION in {row[0] for row in table(out, "LaunchCondition")}
    directories = {row[0]: row for row in table(out, "Directory")}
    assert directories["INSTALLDIR"][1:] == ["ProgramFiles64Folder", "Storelink POS"]
    assert directories["BRANCHDIR"][1:] == ["CommonAppDataFolder", "Storelink POS"]
    # Windows applies this ACL to the folder (wine does not: see docs/deploying.md).
    assert [row[:4] for row in table(out, "MsiLockPermissionsEx")] == [
        [
            "branch_acl",
            "BRANCHDIR",
            "CreateFolder",
            "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;BU)",
        ]
    ]

    environment = [row[1:] for row in table(out, "Environment")]
    assert environment == [["=-*PATH", "[~];[INSTALLDIR]", "path"]]
    assert [row[4] for row in table(out, "Shortcut")] == ["[INSTALLDIR]pos.exe"]

    # Component GUIDs follow the file's path, so version N+1 keeps them for the files it keeps.
    again = msi.build(make_tree(tmp_path / "pos1", BUNDLE_N1), tmp_path / "n1.msi", "1.2.4")
    guids = {row[0]: row[1] for row in table(out, "Component")}
    guids_again = {row[0]: row[1] for row in table(again, "Component")}
    kept = [c for c in guids if c in guids_again]
    assert len(kept) == len(BUNDLE_N) - 1 + 6  # the kept files, start menu, PATH, branch folder, keys
    assert all(guids[c] == guids_again[c] for c in kept)
    assert [row[4] for row in table(again, "Shortcut")] == ["[INSTALLDIR]posw.exe"]  # windowed, no console


def test_msi_version_is_what_windows_installer_compares() -> None:
    assert msi.msi_version("0.1.0") == "0.1.0"
    assert msi.msi_version("2.3rc1") == "2.3.0"
    with pytest.raises(ValueError, match="255"):
        msi.msi_version("256.0.0")


def test_wine_install_upgrade_and_uninstall(
    tmp_path: Path, wine: Wine, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = msi.build(make_tree(tmp_path / "n", BUNDLE_N), tmp_path / "dist" / "storelink-pos-0.1.0.msi", "0.1.0")
    n1 = msi.build(
        make_tree(tmp_path / "n1", BUNDLE_N1), tmp_path / "dist" / "storelink-pos-0.1.1.msi", "0.1.1"
    )

    # The same version built again: a new ProductCode, as every build has.
    rebuilt = msi.build(tmp_path / "n1", tmp_path / "dist" / "rebuilt" / "storelink-pos-0.1.1.msi", "0.1.1")

    # A SERVER that is no URL is refused before anything is installed or written.
    assert wine.msiexec("/i", str(n), "/qn", "SERVER=hq.example.com", f"STORE={STORE}", f"CODE={CODE}") != 0
    assert not wine.program_files.exists()
    assert not (wine.program_data / "Storelink POS").exists()
    assert wine.products() == []

    # Install N the way IT's deployment tool does.
    assert wine.msiexec("/i", str(n), "/qn", f"SERVER={SERVER}", f"STORE={STORE}", f"CODE={CODE}") == 0
    assert installed_files(wine.program_files) == BUNDLE_N
    assert [p["DisplayVersion"] for p in wine.products()] == ["0.1.0"]
    shortcut = next(wine.prefix.glob("drive_c/**/Start Menu/Programs/Storelink POS/Storelink POS.lnk"))
    assert b"C:\\Program Files\\Storelink POS\\pos.exe" in shortcut.read_bytes()
    program = "C:\\Program Files\\Storelink POS\\"
    assert wine.system_path().count(program) == 1

    # branch.conf is where the app looks on Windows, and the app's own parser reads it back.
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delenv(branch.ENV_VAR, raising=False)
    monkeypatch.setenv("PROGRAMDATA", str(wine.program_data))
    conf = branch.config_path()
    assert conf == wine.program_data / "Storelink POS" / "branch.conf"
    assert branch.load() == branch.BranchConfig(path=conf, server=SERVER, store=STORE, code=CODE)
    # The till removes the code once it enrolled (the file as Windows' WritePrivateProfileString left it).
    assert branch.remove_code(conf)
    assert branch.load() == branch.BranchConfig(path=conf, server=SERVER, store=STORE, code=None)

    # Major upgrade to N+1 without properties: one product, N+1's files only, branch.conf untouched.
    before = conf.read_bytes()
    assert wine.msiexec("/i", str(n1), "/qn") == 0
    assert installed_files(wine.program_files) == BUNDLE_N1
    assert [p["DisplayVersion"] for p in wine.products()] == ["0.1.1"]
    assert conf.read_bytes() == before
    assert b"C:\\Program Files\\Storelink POS\\posw.exe" in shortcut.read_bytes()  # the windowed EXE
    assert wine.system_path().count(program) == 1

    # Going back to N is refused and changes nothing.
    assert wine.msiexec("/i", str(n), "/qn", "SERVER=https://old.example.com") != 0
    assert installed_files(wine.program_files) == BUNDLE_N1
    assert [p["DisplayVersion"] for p in wine.products()] == ["0.1.1"]
    assert conf.read_bytes() == before

    # A rebuild of the same version (a new ProductCode) replaces it too, never installs beside it.
    assert wine.msiexec("/i", str(rebuilt), "/qn") == 0
    assert [p["DisplayVersion"] for p in wine.products()] == ["0.1.1"]
    assert installed_files(wine.program_files) == BUNDLE_N1
    n1 = rebuilt

    # A reinstall of N+1 given only SERVER changes that key and keeps the rest.
    assert (
        wine.msiexec(
            "/i", str(n1), "/qn", "REINSTALL=ALL", "REINSTALLMODE=omus", "SERVER=https://hq2.example.com"
        )
        == 0
    )
    assert branch.load() == branch.BranchConfig(
        path=conf, server="https://hq2.example.com", store=STORE, code=None
    )

    # Uninstall removes the program and the shortcut, and keeps the till's configuration.
    assert wine.msiexec("/x", str(n1), "/qn") == 0
    assert not wine.program_files.exists()
    assert not shortcut.exists()
    assert wine.products() == []
    assert program not in wine.system_path()
    parsed = configparser.ConfigParser()
    parsed.read(conf, encoding="utf-8")
    assert dict(parsed["branch"]) == {"server": "https://hq2.example.com", "store": STORE}


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` (symlinks followed: a Windows tree has none) and its SHA-256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_make_msi_of_the_bundle_installs_it_with_its_branch_conf(
    wine: Wine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real artefact: ``make msi`` authors dist/storelink-pos-<version>.msi from dist/pos/ (the
    Linux bundle here; ``make packaging`` builds both before the suite, so this make is a no-op in
    CI), and a silent install with the three properties puts every file of the bundle under
    Program Files and branch.conf where the till reads it."""
    pyinstaller = Path(sys.executable).parent / "pyinstaller"
    subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "msi", f"PYINSTALLER={pyinstaller}"],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    version = msi.project_version()
    package = ROOT / "dist" / f"storelink-pos-{version}.msi"
    bundle = ROOT / "dist" / "pos"

    assert wine.msiexec("/i", str(package), "/qn", f"SERVER={SERVER}", f"STORE={STORE}", f"CODE={CODE}") == 0
    assert digests(wine.program_files) == digests(bundle)
    assert [p["DisplayVersion"] for p in wine.products()] == [msi.msi_version(version)]

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delenv(branch.ENV_VAR, raising=False)
    monkeypatch.setenv("PROGRAMDATA", str(wine.program_data))
    conf = wine.program_data / "Storelink POS" / "branch.conf"
    assert branch.load() == branch.BranchConfig(path=conf, server=SERVER, store=STORE, code=CODE)
