"""Author the Windows installer, ``storelink-pos-<version>.msi``, from the onedir bundle.

One file list: the bundle directory (``dist/pos/``, what ``packaging/pos.spec`` builds) is walked
and every file in it becomes one component of the MSI; nothing is listed by hand. The .wxs is
written next to the output for review and handed to ``wixl`` (Debian's msitools; MSYS2 has the
same tools on Windows). Then ``msibuild`` (same msitools) adds what wixl 0.101 cannot express:

* the ``IniFile`` rows that write the public properties ``SERVER``, ``STORE`` and ``CODE`` into
  ``%ProgramData%\\Storelink POS\\branch.conf`` (section ``[branch]``, keys ``server``, ``store``,
  ``code``: the file :mod:`pos.branch` reads), with the ``WriteIniValues`` action. Each key is its
  own *transitive* component conditioned on its property, so an upgrade or repair run without the
  properties leaves the file as it is (and never writes ``server=`` empty). ``RemoveIniValues`` is
  deliberately not scheduled: uninstalling keeps branch.conf;
* ``MsiLockPermissionsEx`` (Windows Installer 5) on that folder: a protected ACL (nothing inherited
  from ProgramData) with full control for SYSTEM and Administrators and modify for the local Users
  group, so the till's account can remove the used code. Its SDDL cannot take a property (Windows
  Installer does not format properties in it), so narrowing it to one account is a step after the
  install (docs/deploying.md). Wine does not apply it: this part is untested here;
* the ``Environment`` row that appends the program folder to the system PATH (removed again on
  uninstall), as the .deb puts ``pos`` on the PATH;
* ``SecureCustomProperties`` so the properties reach the elevated install on Windows.

Product identity: the UpgradeCode is fixed (below), the ProductCode is new for every build, and
``MajorUpgrade`` removes any older or same version before installing (a newer one refuses a
downgrade).
Component GUIDs are derived from the file's path in the bundle, so they stay the same across
versions. Usage (``make msi`` runs it)::

    python packaging/windows/msi.py --bundle dist/pos --out dist/storelink-pos-0.1.0.msi

Standard library only, so the Windows build script can run it with the build's Python.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from xml.sax.saxutils import quoteattr

#: Never change: Windows Installer finds older installs of the product by it (major upgrades).
UPGRADE_CODE = "909E3B9D-3841-44A8-9D6C-B3341776716C"
PRODUCT_NAME = "Storelink POS"
MANUFACTURER = "Storelink"
#: The folder under Program Files and under ProgramData.
FOLDER = "Storelink POS"
#: (property, key in [branch]) written to branch.conf when given.
BRANCH_KEYS = (("SERVER", "server"), ("STORE", "store"), ("CODE", "code"))
BRANCH_FILE = "branch.conf"
#: ``~<<``: starts with, ignoring case (Windows Installer condition syntax).
SERVER_CONDITION = 'NOT SERVER OR SERVER ~<< "https://" OR SERVER ~<< "http://"'
SERVER_MESSAGE = (
    "SERVER must start with https:// or http:// (e.g. SERVER=https://hq.example.com); nothing was installed."
)
BRANCH_SECTION = "branch"
#: Protected (P), inherited by files (OICI): full control (FA) for SYSTEM and Administrators, modify
#: (0x1301bf: read, write, execute, delete) for the local Users group (BU).
BRANCH_SDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;BU)"
#: The Start-menu shortcut starts the first of these the bundle has: a windowed (no console) EXE
#: if the spec makes one, else pos.exe; ``pos`` is the Linux tree CI authors from.
EXECUTABLES = ("posw.exe", "pos.exe", "pos")
ROOT = Path(__file__).resolve().parents[2]


def project_version() -> str:
    """The version in pyproject.toml (the one the app reports)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def msi_version(version: str) -> str:
    """``0.2.0rc1`` -> ``0.2.0``: Windows Installer versions are up to three numbers (major upgrades
    compare the first three)."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if not match:
        raise ValueError(f"version {version!r} does not start with a number")
    parts = [int(p or 0) for p in match.groups()]
    if parts[0] > 255 or parts[1] > 255 or parts[2] > 65535:
        raise ValueError(f"version {version!r} is beyond Windows Installer's 255.255.65535")
    return ".".join(str(p) for p in parts)


def _id(prefix: str, rel: str) -> str:
    return f"{prefix}{hashlib.sha1(rel.encode('utf-8')).hexdigest()[:24]}"


def _guid(rel: str) -> str:
    return str(uuid.uuid5(uuid.UUID(UPGRADE_CODE), "file:" + rel.lower())).upper()


def find_executable(bundle: Path) -> str:
    for name in EXECUTABLES:
        if (bundle / name).is_file():
            return name
    raise SystemExit(f"{bundle}: no {', '.join(EXECUTABLES)} in it; build the bundle first (make bundle)")


def wxs(bundle: Path, version: str) -> tuple[str, list[str]]:
    """The WiX source for ``bundle`` and the ids of its file components."""
    bundle = bundle.resolve()
    exe = find_executable(bundle)
    components: list[str] = []
    lines: list[str] = []

    def walk(directory: Path, depth: int) -> None:
        pad = "  " * depth
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
        for path in entries:
            rel = path.relative_to(bundle).as_posix()
            if path.is_symlink() and path.is_dir():
                raise SystemExit(f"{path}: a symlinked directory cannot go into an MSI")
            if path.is_dir():
                lines.append(f"{pad}<Directory Id={quoteattr(_id('d_', rel))} Name={quoteattr(path.name)}>")
                walk(path, depth + 1)
                lines.append(f"{pad}</Directory>")
            elif path.is_file():
                cid = _id("c_", rel)
                components.append(cid)
                lines.append(f"{pad}<Component Id={quoteattr(cid)} Guid={quoteattr(_guid(rel))} Win64='yes'>")
                lines.append(
                    f"{pad}  <File Id={quoteattr(_id('f_', rel))} Name={quoteattr(path.name)}"
                    f" Source={quoteattr(rel)} KeyPath='yes'/>"
                )
                lines.append(f"{pad}</Component>")

    walk(bundle, 6)
    files = "\n".join(lines)
    refs = "\n".join(f"      <ComponentRef Id='{c}'/>" for c in components)
    branch_components = "\n".join(
        f"""          <Component Id='branch_{key}' Guid='{_guid("branch.conf:" + key)}' Win64='yes'>
            <CreateFolder/>
          </Component>"""
        for _, key in BRANCH_KEYS
    )
    branch_refs = "\n".join(f"      <ComponentRef Id='branch_{key}'/>" for _, key in BRANCH_KEYS)
    source = f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by packaging/windows/msi.py from {bundle.name}/; do not edit. -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="{PRODUCT_NAME}" Language="1033" Version="{msi_version(version)}"
           Manufacturer="{MANUFACTURER}" UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="{PRODUCT_NAME} {version}" Comments="Point-of-sale till" />
    <MajorUpgrade DowngradeErrorMessage="A newer version of {PRODUCT_NAME} is already installed." />
    <MediaTemplate EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="{FOLDER}">
{files}
          <Component Id="path" Guid="{_guid("path")}" Win64="yes">
            <CreateFolder/>
          </Component>
        </Directory>
      </Directory>
      <Directory Id="ProgramMenuFolder">
        <Directory Id="ProgramMenuDir" Name="{FOLDER}">
          <Component Id="startmenu" Guid="{_guid("startmenu")}" Win64="yes">
            <Shortcut Id="startmenu_pos" Name="{PRODUCT_NAME}" Description="Point-of-sale till"
                      Target="[INSTALLDIR]{exe}" WorkingDirectory="INSTALLDIR" />
            <RemoveFolder Id="startmenu_remove" On="uninstall" />
            <RegistryValue Root="HKLM" Key="Software\\{MANUFACTURER}\\{PRODUCT_NAME}" Name="StartMenu"
                           Type="integer" Value="1" KeyPath="yes" />
          </Component>
        </Directory>
      </Directory>
      <Directory Id="CommonAppDataFolder">
        <Directory Id="BRANCHDIR" Name="{FOLDER}">
          <Component Id='branch_dir' Guid='{_guid("branch.conf:dir")}' Win64='yes'>
            <CreateFolder/>
          </Component>
{branch_components}
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Till" Title="{PRODUCT_NAME}" Level="1">
{refs}
      <ComponentRef Id="startmenu"/>
      <ComponentRef Id="path"/>
      <ComponentRef Id="branch_dir"/>
{branch_refs}
    </Feature>
  </Product>
</Wix>
"""
    return source, components


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def post_sql(version: str) -> list[str]:
    """The msibuild queries that add what wixl cannot author (see the module docstring)."""
    queries = [
        "CREATE TABLE `IniFile` (`IniFile` CHAR(72) NOT NULL, `FileName` CHAR(255) NOT NULL LOCALIZABLE, "
        "`DirProperty` CHAR(72), `Section` CHAR(96) NOT NULL LOCALIZABLE, `Key` CHAR(128) NOT NULL "
        "LOCALIZABLE, `Value` CHAR(255) NOT NULL LOCALIZABLE, `Action` SHORT NOT NULL, "
        "`Component_` CHAR(72) NOT NULL PRIMARY KEY `IniFile`)",
        "CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, "
        "`LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` LONGCHAR NOT NULL, "
        "`Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)",
        "INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, `SDDLText`) "
        f"VALUES ('branch_acl', 'BRANCHDIR', 'CreateFolder', {_q(BRANCH_SDDL)})",
        # A SERVER that is no URL stops the install before anything changes (exit 1603, the message
        # in the log); the till checks the rest (store and code) when it reads branch.conf.
        "INSERT INTO `LaunchCondition` (`Condition`, `Description`) VALUES "
        f"({_q(SERVER_CONDITION)}, {_q(SERVER_MESSAGE)})",
        # The program folder on the system PATH (pos.exe enroll/status from a new prompt): appended
        # ([~];), set on install and removed on uninstall (=-), system-wide (*).
        "CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL "
        "LOCALIZABLE, `Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)",
        "INSERT INTO `Environment` (`Environment`, `Name`, `Value`, `Component_`) "
        "VALUES ('path', '=-*PATH', '[~];[INSTALLDIR]', 'path')",
        "INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('RemoveEnvironmentStrings', 3300)",
        "INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('WriteEnvironmentStrings', 5200)",
        # WriteIniValues runs after InstallFiles and before the product registers, as in the
        # standard sequence; RemoveIniValues is left out on purpose (uninstall keeps the file).
        "INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('WriteIniValues', 5100)",
        # wixl has no AllowSameVersionUpgrades: without it a rebuild of the same version (a new
        # ProductCode) would install beside the old one. 513 = migrate features + max inclusive;
        # Attributes is part of the table's key, so the row is replaced rather than updated.
        "DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'",
        "INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) "
        f"VALUES ('{{{UPGRADE_CODE}}}', '{msi_version(version)}', 513, 'WIX_UPGRADE_DETECTED')",
    ]
    for prop, key in BRANCH_KEYS:
        queries.append(
            "INSERT INTO `IniFile` (`IniFile`, `FileName`, `DirProperty`, `Section`, `Key`, `Value`, "
            f"`Action`, `Component_`) VALUES ('branch_{key}', 'BRANCH~1.CON|{BRANCH_FILE}', 'BRANCHDIR', "
            f"'{BRANCH_SECTION}', '{key}', '[{prop}]', 0, 'branch_{key}')"
        )
        # 256: 64-bit; 64: transitive (the condition is evaluated again on a repair).
        queries.append(
            f"UPDATE `Component` SET `Condition` = '{prop}', `Attributes` = 320 "
            f"WHERE `Component` = 'branch_{key}'"
        )
    secure = ";".join(p for p, _ in BRANCH_KEYS)
    queries.append(
        "UPDATE `Property` SET `Value` = 'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;"
        f"{secure}' WHERE `Property` = 'SecureCustomProperties'"
    )
    return queries


def build(bundle: Path, out: Path, version: str, *, wixl: str = "wixl", msibuild: str = "msibuild") -> Path:
    """Write ``out`` (and ``out`` with suffix ``.wxs``) from ``bundle``; returns ``out``."""
    for tool in (wixl, msibuild):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool}: not found; install msitools and wixl (apt-get install wixl msitools)")
    source, _ = wxs(bundle, version)
    out.parent.mkdir(parents=True, exist_ok=True)
    wxs_path = out.with_suffix(".wxs")
    wxs_path.write_text(source, encoding="utf-8")
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    # wixl takes Source paths relative to its working directory only: run it in the bundle.
    subprocess.run(
        [wixl, "-a", "x64", "-o", str(tmp.resolve()), str(wxs_path.resolve())], check=True, cwd=bundle
    )
    for query in post_sql(version):
        subprocess.run([msibuild, str(tmp), "-q", query], check=True)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "pos", help="onedir bundle (dist/pos)")
    parser.add_argument("--version", default=None, help="product version (default: pyproject.toml's)")
    parser.add_argument("--out", type=Path, default=None, help="default dist/storelink-pos-<version>.msi")
    parser.add_argument("--wixl", default=os.environ.get("WIXL", "wixl"))
    parser.add_argument("--msibuild", default=os.environ.get("MSIBUILD", "msibuild"))
    args = parser.parse_args(argv)
    version = args.version or project_version()
    out = args.out or ROOT / "dist" / f"storelink-pos-{version}.msi"
    if not args.bundle.is_dir():
        print(f"{args.bundle}: no bundle directory; build it first (make bundle)", file=sys.stderr)
        return 1
    build(args.bundle, out, version, wixl=args.wixl, msibuild=args.msibuild)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
