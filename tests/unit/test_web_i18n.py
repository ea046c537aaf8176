"""Every text the debtor portal shows has a Dutch, French and Polish translation.

The msgids are extracted from the templates and the portal's Python code with Babel's own
extractors (the same ones ``pybabel extract`` uses), so a new ``_("...")`` without its
translations fails here instead of showing English to a Dutch debtor.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from respite.entrypoints.web.i18n import LANGUAGES, catalog

ENTRYPOINTS = Path(__file__).resolve().parents[2] / "src" / "respite" / "entrypoints"
PORTAL_AREAS = ("web", "portal")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for area in PORTAL_AREAS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ENTRYPOINTS / area),
            method_map=[("templates/**.html", "jinja2"), ("**.py", "python")],
            options_map={"templates/**.html": {}},
        ):
            if isinstance(message, str) and message:
                found.setdefault(message, f"{area}/{filename}:{lineno}")
    return found


MSGIDS = _msgids()


def test_the_portal_has_texts_to_translate() -> None:
    # Guards the extraction itself: an empty list would make the next test pass vacuously.
    assert "Skip to content" in MSGIDS
    assert len(MSGIDS) >= 5


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_portal_text_is_translated(language: str) -> None:
    translations = catalog(language)
    missing = sorted(
        f"{where}: {msgid!r}" for msgid, where in MSGIDS.items() if msgid not in translations
    )
    assert not missing, f"{len(missing)} texts without a {language} translation:\n" + "\n".join(
        missing[:60]
    )


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_translations_keep_the_placeholders(language: str) -> None:
    translations = catalog(language)
    wrong = [
        msgid
        for msgid in MSGIDS
        if msgid in translations
        and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(translations[msgid]))
    ]
    assert not wrong, f"{language}: placeholders differ in {wrong[:20]}"
