"""Third-party disclosure: what a bystander may see must not reveal a debt.

A subject line shows in an inbox list and on a lock screen, an SMS shows on a lock screen,
and the outside of an envelope (with what shows through its window) is seen by everyone
who handles the post. None of them may say that the person owes money.

Sources (see ``../shared/RULES.md``):

- US FDCPA 15 U.S.C. §1692f(8): a collector may not use "any language or symbol, other
  than the debt collector's address, on any envelope", except its business name "if such
  name does not indicate that he is in the debt collection business"; §1692f(7) forbids
  post cards.
- UK FCA CONC 7.9: take reasonable steps so that third parties do not learn of the debt
  (mail "private and confidential", collector name not visible); no disclosure before the
  customer's identity is verified; avoid public embarrassment.
- BE (law of 20-12-2002, now Book XIX WER): no mention on the envelope that reveals debt
  collection. PL (ZPF Zasady Dobrych Praktyk): a closed envelope without marks indicating
  a debt (a company logo is allowed).

What counts as revealing (a deliberately simple, conservative test):

- a collection or debt word, matched on a *stem* after lower-casing and removing accents
  (``dług`` → ``dlug``), in any of the languages Respite writes in (a bystander can read
  more than one language). Dutch joins words together (``huurschuld``,
  ``betalingsachterstand``), so its stems match anywhere inside a word; the stems of the
  other languages match at the start of a word. A rare false alarm (``onschuldig``) is the
  price of never letting ``huurschuld`` through;
- an amount: a currency sign or code (``€``, ``EUR``, ``zł``, ``PLN``, ``$``, ``£``) or
  digits with a decimal separator and two decimals (``12,50``, ``1.234,56``).

A brand name is checked like any other text: an agency whose name says "Incasso" cannot
put it on an envelope (FDCPA §1692f(8)), so it must use a neutral trading name there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from respite.errors import ValidationError

__all__ = ["DEBT_STEMS", "disclosure_problems", "normalise"]

# language → (stems, match anywhere inside a word?)
DEBT_STEMS: dict[str, tuple[tuple[str, ...], bool]] = {
    "nl": (
        (
            "schuld",  # schuld, schulden, huurschuld, schuldeiser, schuldhulp
            "incasso",
            "achterstand",  # betalingsachterstand, huurachterstand
            "aanmaning",
            "deurwaarder",
            "vordering",  # vordering, invordering
            "sommatie",
            "ingebrekestelling",
            "wanbetal",
            "openstaand",
            "betalingsherinnering",
            "beslag",
        ),
        True,
    ),
    "en": (
        (
            "debt",  # debt, debtor, debts
            "indebted",
            "collection",
            "collector",
            "arrear",
            "overdue",
            "bailiff",
            "unpaid",
            "outstanding",
            "owe",
            "owing",
            "final demand",
            "enforcement",
        ),
        False,
    ),
    "fr": (
        (
            "dette",
            "endett",  # endetté
            "recouvr",  # recouvrement
            "impaye",  # impayé
            "huissier",
            "creanc",  # créance
            "debiteur",
            "arriere",  # arriéré
            "mise en demeure",
            "contentieux",
            "saisie",
        ),
        False,
    ),
    "pl": (
        (
            "dlug",  # dług, długu
            "dluz",  # dłużnik
            "zadluz",  # zadłużenie
            "windyk",  # windykacja
            "zaleg",  # zaległość
            "komorni",  # komornik
            "egzekuc",  # egzekucja
            "naleznosc",  # należność
            "upomnien",  # upomnienie
            "wezwanie do zaplaty",
        ),
        False,
    ),
}

# English stems that are whole words only ("owe" must not match "power" or "owner").
_WHOLE_WORDS = frozenset({"owe"})

# ł and đ do not decompose under NFKD; everything else loses its accent.
_EXTRA = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "ß": "ss"})

_CURRENCY = re.compile(r"[€$£]|\bzł(?!\w)|\b(?:EUR|PLN|GBP|USD)\b", re.IGNORECASE)
# Digits with a decimal separator and exactly two decimals, not part of a date or a
# dotted number (``12.03.2026`` and ``127.0.0.1`` are not amounts).
_AMOUNT = re.compile(r"(?<![\d.,])\d+(?:[.,\s\u00a0\u202f]\d{3})*[.,]\d{2}(?![.,]?\d)")


def normalise(text: str) -> str:
    """Lower case, accents removed: ``"Dług ZALEGŁOŚĆ"`` → ``"dlug zaleglosc"``."""
    folded = text.casefold().translate(_EXTRA)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    out: list[tuple[str, str, re.Pattern[str]]] = []
    for language, (stems, inside) in DEBT_STEMS.items():
        for stem in stems:
            body = re.escape(stem).replace(r"\ ", r"\s+")
            if stem in _WHOLE_WORDS:
                pattern = rf"\b{body}(?:s|d)?\b"
            elif inside:
                pattern = body
            else:
                pattern = rf"\b{body}"
            out.append((language, stem, re.compile(pattern)))
    return out


_STEM_PATTERNS = _patterns()


def _problems_in(where: str, text: str) -> list[str]:
    problems: list[str] = []
    plain = normalise(text)
    for language, stem, pattern in _STEM_PATTERNS:
        if pattern.search(plain):
            problems.append(f"{where}: contains the {language} collection word {stem!r}")
    if _CURRENCY.search(text):
        problems.append(f"{where}: contains a currency sign or code")
    if _AMOUNT.search(text):
        problems.append(f"{where}: contains an amount")
    return problems


def disclosure_problems(
    *,
    subject: str | None,
    envelope_lines: Sequence[str],
    sms_text: str | None,
    language: str,
) -> list[str]:
    """Every way a subject line, an envelope or an SMS would tell a bystander of a debt.

    ``language`` is the message's language (one of :data:`DEBT_STEMS`); the words of
    every language are checked, because a bystander may read any of them. An empty list
    means the texts are safe to show. See the module docstring for the rules and sources.

    >>> disclosure_problems(subject="Your account with Acme", envelope_lines=["Acme",
    ...     "PO Box 12, 3500 AB Utrecht"], sms_text=None, language="en")
    []
    >>> disclosure_problems(subject="Uw schuld van € 12,50", envelope_lines=[],
    ...     sms_text=None, language="nl")  # doctest: +NORMALIZE_WHITESPACE
    ["subject: contains the nl collection word 'schuld'",
     'subject: contains a currency sign or code', 'subject: contains an amount']
    """
    if language not in DEBT_STEMS:
        raise ValidationError(
            f"unknown language {language!r}; expected one of {', '.join(DEBT_STEMS)}",
            field="language",
        )
    problems: list[str] = []
    if subject is not None:
        problems += _problems_in("subject", subject)
    for number, line in enumerate(envelope_lines, start=1):
        problems += _problems_in(f"envelope line {number}", line)
    if sms_text is not None:
        problems += _problems_in("sms", sms_text)
    return problems
