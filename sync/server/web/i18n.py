"""Page text in English, German and Simplified Chinese, picked by the browser's Accept-Language.

Text is marked in templates and code with ``_("...")`` / ``t.gettext("...")`` and, for anything
with a count, ``ngettext("one ...", "{n} ...", n)`` / ``t.ngettext(...)``. The English text is the
message id, so a template reads as English and a missing translation falls back to English. The
translations are gettext catalogs packaged beside this module (``locale/de.po``,
``locale/zh_CN.po``), read with babel and compiled in memory at first use (no build step), and
looked up through :mod:`gettext`, so plural forms follow each catalog's ``Plural-Forms`` header
(German: one/other; Chinese: one form). ``python -m sync.server.web.i18n`` re-extracts the marked
text and rewrites the catalogs, keeping their translations and listing what is still missing.
Placeholders are ``{name}`` (``str.format``); ``ngettext`` always offers ``{n}``. Dates and money
are formatted with babel in the same locale.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources

from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_precision

LANGUAGES = ("en", "de", "zh")
DEFAULT_LANGUAGE = "en"
_BABEL_LOCALE = {"en": "en_GB", "de": "de_DE", "zh": "zh_Hans_CN"}
_HTML_LANG = {"en": "en", "de": "de", "zh": "zh-Hans"}
#: Page language -> its gettext catalog under ``locale/`` (English is the source text).
CATALOGS = {"de": "de", "zh": "zh_CN"}


def N_(message: str) -> str:
    """Marks ``message`` for translation where it is translated later (``t.gettext(value)``)."""
    return message


def ngettext_marker(singular: str, plural: str) -> tuple[str, str]:
    """Marks a singular/plural pair for translation where the count comes later."""
    return singular, plural


def _read_catalog(name: str) -> Catalog:
    source = resources.files("sync.server.web").joinpath("locale", f"{name}.po")
    with source.open("rb") as handle:
        return read_po(handle, locale=name)


@cache
def _translations(language: str) -> gettext_module.NullTranslations:
    """The compiled catalog of ``language`` (an empty one for English)."""
    if language not in CATALOGS:
        return gettext_module.NullTranslations()
    catalog = _read_catalog(CATALOGS[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """Page text, dates and money in one language."""

    language: str

    @property
    def html_lang(self) -> str:
        return _HTML_LANG[self.language]

    @property
    def locale(self) -> str:
        return _BABEL_LOCALE[self.language]

    def gettext(self, message: str, **values: object) -> str:
        """``message`` in this language (English if untranslated), with ``{name}`` filled in."""
        text = _translations(self.language).gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form of ``singular``/``plural`` this language uses for ``n``, with ``{n}`` and
        ``{name}`` filled in (``n`` is formatted for the locale)."""
        text = _translations(self.language).ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    def plural_pattern(self, singular: str, plural: str, n: int) -> str:
        """The form for ``n`` with ``{n}`` left in, for a page script that counts by itself."""
        return _translations(self.language).ngettext(singular, plural, n)

    def number(self, value: int) -> str:
        """A whole number as this locale writes it (``1,234`` / ``1.234``)."""
        return format_decimal(value, locale=self.locale)

    def money(self, minor_units: int, currency: str) -> str:
        """``minor_units`` of ``currency`` as a person in this locale writes it."""
        digits = get_currency_precision(currency)
        return format_currency(minor_units / 10**digits, currency, locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.locale)

    def moment(self, value: datetime, timezone: str = "UTC") -> str:
        """``value`` as a date and time on the wall clock of ``timezone`` (a store's zone)."""
        from sync.server.stores import zone_or_utc

        zone = zone_or_utc(timezone)
        return format_datetime(value, format="medium", tzinfo=zone, locale=self.locale)


def parse_accept_language(header: str) -> list[str]:
    """The languages in an Accept-Language header, most preferred first."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        if not tag or tag == "*":
            continue
        weight = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            ranked.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def choose_language(accept_language: str | None) -> str:
    """The first of our languages the browser accepts, else English.

    Every Chinese tag maps to Simplified Chinese, the only Chinese we write.
    """
    for tag in parse_accept_language(accept_language or "")[:20]:
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def translator_for(accept_language: str | None) -> Translator:
    return Translator(choose_language(accept_language))
