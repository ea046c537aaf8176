"""Readability of a message's prose, per language, against a B1 rule of thumb.

Measures (textstat 0.7.13; the coefficients are in ``textstat/backend/utils/constants.py``
and ``metrics/_flesch_reading_ease.py``, read for this module):

========  ===============================================  ==========  =================
language  measure                                          B1 if       textstat
========  ===============================================  ==========  =================
nl        Flesch–Douma: 206.835 − 0.93·ASL − 77·ASW        ≥ 60        ``nl`` config
en        Flesch Reading Ease: 206.835 − 1.015·ASL − 84.6·ASW ≥ 60     default config
fr        Kandel–Moles: 207 − 1.015·ASL − 73.6·ASW         ≥ 60        ``fr`` config
pl        Gunning FOG-PL: 0.4·(ASL + 100·hard/words),      ≤ 9         ``gunning_fog``
          hard = 4 syllables or more                                   (``pl``: 4)
========  ===============================================  ==========  =================

ASL: words per sentence; ASW: syllables per word (Pyphen hyphenation dictionaries).

Thresholds are rules of thumb, not law or a CEFR mapping: on the Flesch scale 60–70 is
Flesch's own "standard / plain English" band, and Dutch and French practice reuses the
same bands for Flesch–Douma and Kandel–Moles (≥ 60 "fairly easy", the level commonly
aimed at for B1 letters). textstat has no Polish Flesch variant (``pl`` would silently
get the English coefficients), so Polish uses the Gunning FOG with the hard-word limit
of four syllables (textstat's ``pl`` setting, the FOG-PL variant used by Jasnopis); a
FOG of 9 or less corresponds to the end of lower secondary school, our B1 rule of thumb.
A message that passes is not automatically B1: the score only catches long sentences
and long words. User testing remains the real check (Schuldeiserscoalitie best practice).

Prose only: a message also holds amounts, dates, IBANs, URLs, codes and tables that no
formula can score sensibly. :func:`prose` first replaces each URL, e-mail address, IBAN,
RF reference, code, amount, percentage, phone number and other number by one short word
(so a sentence keeps its length), then keeps only the lines that end like a sentence
(``.``, ``!``, ``?`` or ``:``) or hold a full sentence and at least six words (an SMS
ends in its phone number). Headings, table rows (``Rente: € 18,20``), labels and address
lines drop out.

textstat keeps the language in a process-wide object (``textstat.set_lang``), so two
threads scoring Dutch and Polish at once could mix them up. This module never touches
that object: since textstat 0.7.7 its backend functions take the language as an argument
(``textstat.backend.metrics.gunning_fog(text, lang)``), and those are what it calls; the
one piece of shared state (priming textstat's cache of easy words) sits behind a lock.
English syllables are counted with Pyphen like the other languages, not with NLTK's
CMUdict, which textstat would download from the internet on first use.
"""

from __future__ import annotations

import re
import threading
import warnings
from decimal import ROUND_HALF_UP, Decimal

from respite.errors import ValidationError

__all__ = ["THRESHOLDS", "prose", "readability"]

# language → (textstat language, measure, threshold, higher is easier?)
THRESHOLDS: dict[str, tuple[str, str, Decimal, bool]] = {
    "nl": ("nl_NL", "flesch_reading_ease", Decimal(60), True),
    "en": ("en_GB", "flesch_reading_ease", Decimal(60), True),
    "fr": ("fr_FR", "flesch_reading_ease", Decimal(60), True),
    "pl": ("pl_PL", "gunning_fog", Decimal(9), False),
}

_WORD = "x"  # what a URL, an amount or a code becomes: one short word
_REPLACE = [
    re.compile(r"(?:https?://|www\.)\S+?(?=[.,;:!?)]*(?:\s|$))"),  # not the full stop after it
    re.compile(r"\S+@\S+\.\w+"),
    re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),  # IBAN
    re.compile(r"\bRF\d{2}(?: ?[A-Z0-9]{1,4}){1,6}\b"),  # RF creditor reference
    re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{4,}\b"),  # codes
    # amounts with a currency sign or code, either side
    re.compile(
        r"(?:[€$£]|\b(?:EUR|PLN|GBP|USD)\b)[\s\u00a0\u202f]?[\d.,\s\u00a0\u202f]*\d"
        r"|\d[\d.,\s\u00a0\u202f]*[\s\u00a0\u202f]?(?:[€$£]|zł|\b(?:EUR|PLN|GBP|USD)\b)"
    ),
    re.compile(r"\d+(?:[.,]\d+)?[\s\u00a0\u202f]?%"),
    re.compile(r"\+?\d[\d\s\u00a0/-]{5,}\d"),  # phone numbers
    re.compile(r"\d+(?:[.,]\d+)*"),  # any other number (dates, days)
]
_SENTENCE_END = re.compile(r"[.!?:]\s*$")
_SENTENCE_INSIDE = re.compile(r"\w[.!?]\s")
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def prose(text: str) -> str:
    """The sentences of ``text`` with URLs, amounts, codes and numbers as one word each."""
    kept: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().lstrip("-•*> ").strip()
        for pattern in _REPLACE:
            line = pattern.sub(_WORD, line)
        ends_like_sentence = bool(_SENTENCE_END.search(line))
        holds_sentences = bool(_SENTENCE_INSIDE.search(line)) and len(_LETTERS.findall(line)) >= 6
        if ends_like_sentence or holds_sentences:
            kept.append(line)
    return "\n".join(kept)


_primed = False
_lock = threading.Lock()


def _prime() -> None:
    """textstat has no Polish easy-word list and warns once before falling back to the
    English one (which no Polish word is in): fill its cache once, quietly."""
    global _primed
    with _lock:
        if not _primed:
            from textstat.backend.utils import get_lang_easy_words  # type: ignore[import-untyped]

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                get_lang_easy_words("pl_PL")
            _primed = True


def _flesch_pyphen(text: str, lang: str) -> float:
    """Flesch Reading Ease with textstat's tokeniser, sentence count and coefficients but
    Pyphen syllables only: textstat counts English syllables with NLTK's CMUdict and
    downloads it on first use, which a server must not do. For the other languages this
    is exactly what textstat computes (it falls back to Pyphen there)."""
    from textstat.backend.counts import count_sentences  # type: ignore[import-untyped]
    from textstat.backend.selections import list_words  # type: ignore[import-untyped]
    from textstat.backend.utils import get_lang_cfg, get_pyphen

    words = list_words(text, lowercase=True)
    sentences = count_sentences(text)
    if not words or not sentences:
        return 0.0
    hyphenator = get_pyphen(lang)
    syllables = sum(len(hyphenator.positions(word)) + 1 for word in words)
    return float(
        get_lang_cfg(lang, "fre_base")
        - get_lang_cfg(lang, "fre_sentence_length") * (len(words) / sentences)
        - get_lang_cfg(lang, "fre_syll_per_word") * (syllables / len(words))
    )


def _measure(text: str, lang: str, measure: str) -> float:
    if measure == "gunning_fog":
        from textstat.backend.metrics import gunning_fog  # type: ignore[import-untyped]

        _prime()
        return float(gunning_fog(text, lang))
    return _flesch_pyphen(text, lang)


def readability(text: str, language: str) -> tuple[Decimal, bool]:
    """The prose's score (2 decimals) and whether it meets the B1 rule of thumb.

    >>> readability("U hebt een rekening van ons. Wilt u die betalen? Bel ons gerust.", "nl")[1]
    True
    """
    if language not in THRESHOLDS:
        raise ValidationError(
            f"no readability measure for {language!r}; expected one of {', '.join(THRESHOLDS)}",
            field="language",
        )
    lang, measure, threshold, higher_is_easier = THRESHOLDS[language]
    body = prose(text)
    if not body.strip():
        raise ValidationError("no prose to score (no line ends like a sentence)", field="text")
    raw = _measure(body, lang, measure)
    # textstat returns a float; it is a score, not money: round it once, to 2 decimals.
    score = Decimal(str(raw)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    ok = score >= threshold if higher_is_easier else score <= threshold
    return score, ok
