"""Where the terminal's bundled files (``resources/``) are: in a checkout, an installed wheel and a
frozen bundle.

The repository keeps them in the top-level ``resources/`` folder; the wheel ships that folder as
package data ``pos/resources`` (``setup.py`` maps the package ``pos.resources`` to it), and the
PyInstaller bundle (``packaging/pos.spec``) puts it at the same place, ``pos/resources`` next to the
frozen ``pos`` package. ``$POS_RESOURCES_DIR`` overrides all of them (``pos --self-test`` on a
resource folder under test).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pos

#: Environment variable naming another resource folder (tests, ``pos --self-test``).
RESOURCES_ENV = "POS_RESOURCES_DIR"


@cache
def _found() -> Path:
    package = Path(pos.__file__).resolve().parent
    installed = package / "resources"  # a wheel or the bundle
    if installed.is_dir():
        return installed
    return package.parent / "resources"  # a checkout (source or editable install)


def resources_dir() -> Path:
    """The resource folder: ``$POS_RESOURCES_DIR``, else ``pos/resources`` when installed or frozen,
    else the checkout's top-level ``resources/``."""
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    return _found()


def resource_path(*parts: str) -> Path:
    """The path of one bundled file, e.g. ``resource_path("receipts", "receipt.txt.j2")``."""
    return resources_dir().joinpath(*parts)
