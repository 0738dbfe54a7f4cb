"""Upkeep of the shopper pages' gettext catalogs (``sync/server/web/locale/*.po``).

``python -m sync.server.web.catalogs`` extracts every text marked with ``_``, ``gettext``, ``N_``
or ``ngettext`` in ``sync/server/web`` (code and templates), rewrites the catalogs keeping the
translations they hold, and lists (exit 1) the texts that still need one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog

from sync.server.web.i18n import CATALOGS, _read_catalog, _translations

MessageId = str | tuple[str, str]
_KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "ngettext_marker": (1, 2)}


def _web_dir() -> Path:
    return Path(__file__).resolve().parent


def source_messages() -> dict[MessageId, list[tuple[str, int]]]:
    """Every text marked for translation in this package's code and templates, with where it is."""
    from babel.messages.extract import extract
    from jinja2.ext import babel_extract

    found: dict[MessageId, list[tuple[str, int]]] = {}
    root = _web_dir()
    sources: Iterable[tuple[Path, object]] = [
        *((path, "python") for path in sorted(root.glob("*.py"))),
        *((path, babel_extract) for path in sorted((root / "templates").rglob("*.html"))),
    ]
    for path, method in sources:
        with path.open("rb") as handle:
            for lineno, message, _comments, _context in extract(
                method,  # type: ignore[arg-type]
                handle,
                keywords=_KEYWORDS,
                options={"trim_blocks": "true", "lstrip_blocks": "true"},
            ):
                if isinstance(message, tuple):
                    if len(message) < 2 or not message[0] or not message[1]:
                        continue
                    key: MessageId = (str(message[0]), str(message[1]))
                elif message:
                    key = str(message)
                else:
                    continue
                found.setdefault(key, []).append((str(path.relative_to(root.parent.parent.parent)), lineno))
    return found


def update_catalogs() -> dict[str, list[MessageId]]:
    """Rewrite ``locale/*.po`` with every marked text, keeping the translations they hold.

    Returns, per catalog, the texts still without a (complete) translation.
    """
    from babel.messages.pofile import write_po

    messages = source_messages()
    missing: dict[str, list[MessageId]] = {}
    for name in CATALOGS.values():
        old = _read_catalog(name)
        fresh = Catalog(locale=name, project="Storelink POS shopper pages", charset="utf-8")
        for key, places in sorted(messages.items(), key=lambda item: str(item[0])):
            lookup = key[0] if isinstance(key, tuple) else key
            held = old.get(lookup)
            kept = held.string if held is not None and held.id == key else ""
            string: str | tuple[str, ...] = tuple(kept) if isinstance(kept, list | tuple) else kept or ""
            if isinstance(key, tuple) and not isinstance(string, tuple):
                string = ("",) * fresh.num_plurals
            fresh.add(key, string, locations=places)
            texts = string if isinstance(string, tuple) else (string,)
            if not all(texts):
                missing.setdefault(name, []).append(key)
        target = _web_dir() / "locale" / f"{name}.po"
        with target.open("wb") as handle:
            write_po(handle, fresh, width=100, omit_header=False, sort_output=True)
    _translations.cache_clear()
    return missing


if __name__ == "__main__":
    import sys

    still_missing = update_catalogs()
    for catalog_name, texts in still_missing.items():
        print(f"{catalog_name}: {len(texts)} without a translation", file=sys.stderr)
        for text in texts:
            print(f"  {text!r}", file=sys.stderr)
    sys.exit(1 if still_missing else 0)
