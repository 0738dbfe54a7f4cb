"""The shopper pages' text: every marked string is translated, plurals follow each language's rules."""

from __future__ import annotations

import re

import pytest

from sync.server.web.catalogs import source_messages
from sync.server.web.i18n import CATALOGS, Translator, _read_catalog, choose_language

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def test_the_extractor_sees_page_text_and_plurals() -> None:
    messages = source_messages()
    assert "Add this purchase to your account" in messages  # a template
    assert "Please enter a valid email address." in messages  # N_ in code
    assert ("This purchase earns {n} point.", "This purchase earns {n} points.") in messages
    assert len(messages) > 40


@pytest.mark.parametrize("catalog_name", sorted(CATALOGS.values()))
def test_every_page_string_is_translated_with_its_placeholders(catalog_name: str) -> None:
    catalog = _read_catalog(catalog_name)
    missing, wrong = [], []
    for key in source_messages():
        held = catalog.get(key[0] if isinstance(key, tuple) else key)
        strings = held.string if held is not None else ""
        texts = strings if isinstance(strings, tuple) else (strings,)
        if held is None or held.id != key or not all(texts):
            missing.append(key)
            continue
        ids = key if isinstance(key, tuple) else (key,)
        wanted = sorted(set(PLACEHOLDER.findall(ids[-1])))
        wrong += [text for text in texts if sorted(set(PLACEHOLDER.findall(text))) != wanted]
    assert missing == [], f"{catalog_name}: run python -m sync.server.web.catalogs and translate {missing}"
    assert wrong == []


def test_counts_take_the_plural_form_of_each_language() -> None:
    singular, plural = "This purchase earns {n} point.", "This purchase earns {n} points."
    english, german, chinese = Translator("en"), Translator("de"), Translator("zh")
    assert english.ngettext(singular, plural, 1) == "This purchase earns 1 point."
    assert english.ngettext(singular, plural, 0) == "This purchase earns 0 points."
    assert english.ngettext(singular, plural, 1234) == "This purchase earns 1,234 points."
    assert german.ngettext(singular, plural, 1) == "Dieser Einkauf bringt 1 Punkt."
    assert german.ngettext(singular, plural, 2) == "Dieser Einkauf bringt 2 Punkte."
    assert german.ngettext(singular, plural, 1234) == "Dieser Einkauf bringt 1.234 Punkte."
    assert chinese.ngettext(singular, plural, 1) == chinese.ngettext(singular, plural, 2).replace("2", "1")


@pytest.mark.parametrize(
    ("header", "language"),
    [("de-DE,de;q=0.9", "de"), ("zh-TW", "zh"), ("fr, en;q=0.5", "en"), ("", "en"), ("x;q=abc", "en")],
)
def test_the_browser_language_picks_the_page_language(header: str, language: str) -> None:
    assert choose_language(header) == language
