"""Pages in the visitor's language: gettext catalogs (``.po``, read with Babel) and Babel's
number, money and date formatting.

Templates mark text with ``_("English text")``; each area keeps its catalogs in
``<area>/locale/<lang>/*.po`` (several files per language are merged, so areas and
features keep their own). English is the source language and needs no catalog. A missing
translation falls back to English; ``tests/unit/test_web_i18n.py`` makes sure none is
missing in what we ship.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

__all__ = ["LANGUAGES", "Translator", "negotiate", "translator"]

# The portal's languages, in the switcher's order, each named in its own language.
LANGUAGES: dict[str, str] = {"nl": "Nederlands", "en": "English", "fr": "Français", "pl": "Polski"}
_LOCALES = {"nl": "nl_NL", "en": "en_GB", "fr": "fr_BE", "pl": "pl_PL"}
ROOT = Path(__file__).resolve().parents[1]  # respite/entrypoints
AREAS = ("web", "portal", "console")


@lru_cache(maxsize=8)
def catalog(language: str) -> dict[str, str]:
    """Every msgid → msgstr of ``language`` across the areas' catalogs."""
    found: dict[str, str] = {}
    for area in AREAS:
        folder = ROOT / area / "locale" / language
        for po in sorted(folder.glob("*.po")) if folder.is_dir() else ():
            with po.open("rb") as handle:
                for message in read_po(handle, locale=_LOCALES.get(language)):
                    if message.id and isinstance(message.id, str) and message.string:
                        found[message.id] = str(message.string)
    return found


class Translator:
    """What a template gets as ``_`` and the formatting filters, for one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.locale = Locale.parse(_LOCALES[self.language])
        self._catalog = catalog(self.language) if self.language != "en" else {}

    def gettext(self, text: str, **values: Any) -> str:
        translated = self._catalog.get(text, text)
        return translated % values if values else translated

    def money(self, cents: int, currency: str = "EUR") -> str:
        return _money(int(cents), currency, self.language)

    def amount(self, value: Decimal | str, currency: str = "EUR") -> str:
        return format_currency(Decimal(value), currency, locale=self.locale)

    def number(self, value: Decimal | int | str, digits: int = 2) -> str:
        return format_decimal(
            Decimal(value),
            format=f"#,##0.{'0' * digits}" if digits else "#,##0",
            locale=self.locale,
        )

    def date(self, value: date | None, form: str = "long") -> str:
        return "" if value is None else format_date(value, format=form, locale=self.locale)


@lru_cache(maxsize=65_536)
def _money(cents: int, currency: str, language: str) -> str:
    # Babel's formatting is the slowest part of a page full of amounts; the same amounts
    # recur on every page of a case, so a bounded cache of the formatted text pays off.
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=_LOCALES[language])


@lru_cache(maxsize=8)
def translator(language: str) -> Translator:
    return Translator(language)


def negotiate(
    explicit: str | None, remembered: str | None, accept_language: str | None, default: str
) -> str:
    """The first of: ?lang=, the cookie, the browser's Accept-Language, the default."""
    for candidate in (explicit, remembered):
        if candidate in LANGUAGES:
            return candidate
    if accept_language:
        for part in _accept(accept_language):
            if part in LANGUAGES:
                return part
    return default


def _accept(header: str) -> Iterable[str]:
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        lang, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, lang.split("-")[0].lower()))
    return [lang for _, _, lang in sorted(weighted)]
