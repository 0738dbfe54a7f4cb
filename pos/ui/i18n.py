"""The terminal's languages: English (the source text), German and Simplified Chinese.

Strings are marked with ``_("...")`` (or ``N_("...")`` where they are translated later) and looked
up in gettext catalogs under ``resources/translations/<lang>.po``, read at run time with babel, so a
fresh clone needs no compile step. The cashier's screens use the terminal's language
(:func:`set_language`); the customer display and the receipt use the store's (:func:`translate`).
This module does not import Qt so the receipt and tests can use it too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from pos.hardware.resources import resource_path

#: Language code -> the language's own name, in the order the language menu shows them.
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "zh_CN": "简体中文"}
SOURCE_LANGUAGE = "en"

_current = SOURCE_LANGUAGE
_listeners: list[Callable[[str], None]] = []


def normalise(language: str) -> str:
    """Map a locale or language name (``de_DE``, ``zh-Hans-CN``, ``zh``) to one of :data:`LANGUAGES`."""
    text = language.replace("-", "_")
    if text in LANGUAGES:
        return text
    base = text.split("_")[0].lower()
    if base == "zh":
        return "zh_CN"
    return base if base in LANGUAGES else SOURCE_LANGUAGE


@cache
def catalog(language: str) -> dict[str, str]:
    """The translations of one language: English source text -> translated text (empty ones left out)."""
    if language == SOURCE_LANGUAGE:
        return {}
    path = resource_path("translations", f"{language}.po")
    with path.open("rb") as handle:
        messages = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in messages if m.id and m.string and not m.fuzzy}


def translate(text: str, language: str) -> str:
    """``text`` in ``language``; the English text if that language lacks it."""
    return catalog(normalise(language)).get(text, text)


def _(text: str) -> str:
    """``text`` in the terminal's current language."""
    return translate(text, _current)


def N_(text: str) -> str:
    """Marks ``text`` for translation without translating it now (labels defined at import time)."""
    return text


def gettext_for(language: str) -> Callable[[str], str]:
    """A one-argument gettext for ``language`` (the receipt template's ``_``)."""
    lang = normalise(language)
    return lambda text: translate(text, lang)


def current_language() -> str:
    return _current


def set_language(language: str) -> None:
    """Switch the cashier's screens to ``language`` and tell every listener (screens retranslate)."""
    global _current
    _current = normalise(language)
    for listener in list(_listeners):
        listener(_current)


def on_language_changed(listener: Callable[[str], None]) -> None:
    _listeners.append(listener)


def forget_listener(listener: Callable[[str], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


# --- the catalog's upkeep: which strings the code marks, and writing them to the .po files ---------

_MARKERS = {"_", "N_"}


def source_messages() -> dict[str, list[str]]:
    """Every string marked for translation in pos/ui, pos/app.py and the receipt templates,
    with where it appears (``file:line``)."""
    import ast
    import re

    root = Path(__file__).resolve().parent.parent.parent
    found: dict[str, list[str]] = {}
    sources = [*sorted((root / "pos" / "ui").rglob("*.py")), root / "pos" / "app.py"]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and (
                    (isinstance(node.func, ast.Name) and node.func.id in _MARKERS)
                    # the customer display's self._t(...) translates into the store's language
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "_t")
                )
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, []).append(f"{path.relative_to(root)}:{node.lineno}")
    pattern = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)""")
    for path in sorted(resource_path("receipts").glob("*.j2")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                found.setdefault(match.group(1), []).append(f"{path.relative_to(root)}:{lineno}")
    return found


def update_catalogs() -> dict[str, list[str]]:
    """Rewrite resources/translations/*.po with every marked string, keeping existing translations.

    Returns, per language, the strings still without a translation.
    """
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    messages = source_messages()
    missing: dict[str, list[str]] = {}
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        old = catalog(language) if resource_path("translations", f"{language}.po").exists() else {}
        fresh = Catalog(locale=language, project="Storelink POS", charset="utf-8")
        for text, places in sorted(messages.items()):
            fresh.add(
                text,
                old.get(text, ""),
                locations=[(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places],
            )
        with resource_path("translations", f"{language}.po").open("wb") as handle:
            write_po(handle, fresh, width=110, omit_header=False, sort_output=True)
        missing[language] = [text for text in messages if not old.get(text)]
    catalog.cache_clear()
    return missing


if __name__ == "__main__":
    for lang, texts in update_catalogs().items():
        print(f"{lang}: {len(texts)} missing")
        for text in texts:
            print(f"  {text!r}")
