"""Head office's server packages are an extra (``storelink-pos[central]``, or ``pip install
pos-central``): a till does not install them. What needs them checks first and says so in one line.
"""

from __future__ import annotations

import importlib.util
import sys

#: The import names of the ``central`` extra's packages the server cannot start without.
CENTRAL_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "multipart")


def missing_central() -> list[str]:
    """Which of head office's server packages are not installed (empty: all are)."""
    return [name for name in CENTRAL_MODULES if importlib.util.find_spec(name) is None]


def central_missing_message(what: str) -> str | None:
    """One line saying ``what`` needs the server packages and how to get them; None when installed."""
    missing = missing_central()
    if not missing:
        return None
    return (
        f"{what} needs head office's server packages, which are not installed here "
        f"(missing: {', '.join(missing)}): install them with `pip install pos-central` "
        "(or `pip install 'storelink-pos[central]'`)"
    )


def pos_central() -> None:
    """The ``pos-central`` console script: the server's command line, or one line saying what is missing."""
    message = central_missing_message("pos-central")
    if message is not None:
        print(f"Error: {message}", file=sys.stderr)
        raise SystemExit(1)
    from sync.server.cli import main

    main()
