"""What ships: the wheels (storelink-pos and pos-central) installed into a fresh venv work from
outside the repository, and the till never loads head office's server packages.

The fresh venv gets the *project* only from the built wheels; the third-party packages come from
the test's own environment through a .pth file naming a folder of links to its site-packages (every
entry except this project's own), so nothing is downloaded and the project's files cannot come from
the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_MODULES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "multipart")
OWN = ("pos", "sync", "storelink_pos", "pos_central", "__editable__", "_storelink", "__pycache__")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything pointing at the source tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "POS_RESOURCES_DIR")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "STORELINK_SECRETS": "file", **extra})
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install pos-central`` from the two wheels built from this tree.

    Returns the venv's bin directory."""
    base = tmp_path_factory.mktemp("dist")
    # From a clean copy of the tree (its files as git sees them, without build/ or other leftovers),
    # so the wheel holds what a fresh clone builds.
    source = base / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = base / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(wheels),
            str(source),
            str(source / "packaging" / "pos-central"),
        ],
        check=True,
        cwd=base,
        env=clean_env(),
    )
    # The third-party packages of this environment, without this project (editable or not).
    deps = base / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith(OWN) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    target = base / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "shared-deps.pth").write_text(f"{deps}\n")
    # By its own name, from the wheels: pos-central pulls storelink-pos[central] from the same folder.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheels),
            "pos-central",
        ],
        check=True,
        cwd=base,
        env=clean_env(),
    )
    return target / "bin"


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=300)


def test_the_installed_project_comes_from_the_wheel_with_its_resources(
    installed: Path, tmp_path: Path
) -> None:
    out = run(
        [
            str(installed / "python"),
            "-c",
            "import pos, sync.server, json; from pos.hardware.resources import resources_dir;"
            "from pos.services.fleet import app_version;"
            "print(json.dumps([pos.__file__, sync.server.__file__, str(resources_dir()), app_version()]))",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    pos_file, server_file, resources, version = json.loads(out.stdout)
    venv_root = installed.parent
    for path in (pos_file, server_file, resources):
        assert Path(path).is_relative_to(venv_root), path
        assert not Path(path).is_relative_to(ROOT), path
    assert Path(resources) == Path(pos_file).parent / "resources"
    shipped = sorted(p.relative_to(resources).as_posix() for p in Path(resources).rglob("*") if p.is_file())
    in_repo = sorted(
        p.relative_to(ROOT / "resources").as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()
    )
    assert shipped == in_repo
    assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    # The server's own data (templates, static files, page translations) ships as well.
    web = Path(server_file).parent / "web"
    assert (web / "templates" / "base.html").is_file() and (web / "locale" / "de.po").is_file()


def test_installed_pos_demo_standalone_reaches_the_sale_screen(installed: Path, tmp_path: Path) -> None:
    out = run(
        [str(installed / "pos"), "demo", "--standalone", "--data-dir", str(tmp_path / "demo")],
        tmp_path,
        POS_STARTUP_PROBE="1111",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["sale_screen_painted"] >= report["sign_in_painted"]
    assert report["scan_field_focused"] is True
    # The demo catalog came from the installed resources.
    catalog = run(
        [str(installed / "pos"), "--data-dir", str(tmp_path / "demo"), "catalog", "search", "milk"], tmp_path
    )
    assert catalog.returncode == 0 and catalog.stdout.strip(), catalog.stderr


def test_installed_self_test_passes(installed: Path, tmp_path: Path) -> None:
    out = run([str(installed / "pos"), "--self-test"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    resources = next(line for line in out.stdout.splitlines() if line.split()[1] == "resources")
    assert str(installed.parent) in resources


def test_installed_version_and_pos_central_help(installed: Path, tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = run([str(installed / "pos"), "--version"], tmp_path)
    assert (out.returncode, out.stdout.strip()) == (0, f"storelink-pos {version}")
    central = run([str(installed / "pos-central"), "--help"], tmp_path)
    assert central.returncode == 0, central.stderr
    assert "serve" in central.stdout


def test_pos_central_distribution_is_in_step_with_storelink_pos() -> None:
    main = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    central = tomllib.loads((ROOT / "packaging" / "pos-central" / "pyproject.toml").read_text())["project"]
    assert central["version"] == main["version"]
    assert central["dependencies"] == [f"storelink-pos[central]=={main['version']}"]
    # The till's own requirements name none of head office's server packages.
    till = " ".join(main["dependencies"]).lower()
    for name in (
        "fastapi",
        "uvicorn",
        "sqlalchemy",
        "alembic",
        "psycopg",
        "python-multipart",
        "httptools",
        "uvloop",
    ):
        assert name not in till
        assert name in " ".join(main["optional-dependencies"]["central"]).lower()


IMPORT_CHECK = """
import importlib, json, sys
for name in {modules}:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {server} or m.startswith('sync.server'))))
"""


def till_modules() -> list[str]:
    """Every module of pos and sync except head office's server (sync/server) and ``python -m pos``."""
    found = []
    for top in ("pos", "sync"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[:2] == ("sync", "server") or parts[-1] == "__main__":
                continue
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(found)


def test_importing_the_till_loads_no_server_module(tmp_path: Path) -> None:
    modules = till_modules()
    assert {"pos.cli", "pos.app", "pos.cli_sync", "pos.demo", "sync.client", "sync.engine"} <= set(modules)
    code = IMPORT_CHECK.format(modules=modules, server=set(SERVER_MODULES))
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**clean_env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


#: Run with head office's packages made unimportable, as on a till installed without them.
WITHOUT_SERVER = """
import sys
for name in {server}:
    sys.modules[name] = None  # what an uninstalled package looks like to import and find_spec
sys.argv = {argv}
{call}
"""


@pytest.mark.parametrize(
    ("argv", "call", "expected"),
    [
        (
            ["pos-central", "--help"],
            "from sync.extras import pos_central; pos_central()",
            "pos-central needs",
        ),
        (
            ["pos", "demo", "--data-dir", "{data}"],
            "from pos.cli import main; main()",
            "`pos demo` runs head office's server",
        ),
    ],
)
def test_without_the_server_packages_one_line_says_what_to_install(
    tmp_path: Path, argv: list[str], call: str, expected: str
) -> None:
    argv = [a.format(data=tmp_path / "demo") for a in argv]
    code = WITHOUT_SERVER.format(server=set(SERVER_MODULES), argv=argv, call=call)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**clean_env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"Error: {expected}")
    assert "pip install pos-central" in lines[0] and "fastapi" in lines[0]
    assert not (tmp_path / "demo").exists()
