"""Every string the cashier or the shopper sees exists in German and Simplified Chinese."""

from __future__ import annotations

import re

import pytest

from pos.ui.i18n import LANGUAGES, SOURCE_LANGUAGE, catalog, normalise, source_messages, translate

TARGETS = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def test_the_extractor_sees_the_ui_strings() -> None:
    messages = source_messages()
    assert "Scan to add this purchase to your account" in messages  # customer display and receipt
    assert "Pay (F12)" in messages  # sale screen
    assert "TOTAL" in messages  # receipt template
    assert len(messages) > 50


@pytest.mark.parametrize("language", TARGETS)
def test_every_ui_string_is_translated(language: str) -> None:
    translations = catalog(language)
    missing = {text: places[0] for text, places in source_messages().items() if not translations.get(text)}
    assert missing == {}, f"{language}: strings without a translation (run python -m pos.ui.i18n): {missing}"


@pytest.mark.parametrize("language", TARGETS)
def test_translations_keep_their_placeholders(language: str) -> None:
    wrong = {
        text: translated
        for text, translated in catalog(language).items()
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(translated))
    }
    assert wrong == {}


def test_claim_caption_in_each_language() -> None:
    caption = "Scan to add this purchase to your account"
    assert translate(caption, "en") == caption
    assert translate(caption, "de_DE") == "Scannen Sie, um diesen Einkauf Ihrem Konto hinzuzufügen"
    assert translate(caption, "zh_CN") == "扫码将此次购物添加到您的账户"


@pytest.mark.parametrize(
    ("given", "expected"), [("de_DE", "de"), ("zh-Hans-CN", "zh_CN"), ("zh", "zh_CN"), ("fr", "en")]
)
def test_store_locales_map_to_a_terminal_language(given: str, expected: str) -> None:
    assert normalise(given) == expected
