"""Third-party disclosure: subject lines, SMS texts and envelopes never reveal a debt.

Rules: FDCPA 15 U.S.C. §1692f(8) (nothing but the address and a neutral business name on
an envelope) and FCA CONC 7.9 (reasonable steps so third parties do not learn of the
debt), as summarised in ../shared/RULES.md; see respite.domain.disclosure.
"""

from __future__ import annotations

import pytest

from respite.domain.disclosure import disclosure_problems, normalise
from respite.errors import ValidationError


def problems_in_subject(text: str, language: str) -> list[str]:
    return disclosure_problems(subject=text, envelope_lines=(), sms_text=None, language=language)


@pytest.mark.parametrize(
    ("language", "text", "word"),
    [
        ("nl", "Uw schuld bij Stadswater", "schuld"),
        ("nl", "Huurschuld februari", "schuld"),  # compounds: the stem matches inside
        ("nl", "Betalingsachterstand", "achterstand"),
        ("nl", "Laatste aanmaning", "aanmaning"),
        ("nl", "Incassobureau Noord", "incasso"),
        ("nl", "Bericht van de deurwaarder", "deurwaarder"),
        ("en", "Debt collection notice", "debt"),
        ("en", "Your account is OVERDUE", "overdue"),
        ("en", "Arrears on your account", "arrear"),
        ("en", "You owe us", "owe"),
        ("en", "Bailiff visit", "bailiff"),
        ("fr", "Recouvrement de créance", "recouvr"),
        ("fr", "Facture IMPAYÉE", "impaye"),  # accents and case do not matter
        ("fr", "Votre dette", "dette"),
        ("fr", "Visite de l'huissier", "huissier"),
        ("pl", "Windykacja należności", "windyk"),
        ("pl", "Twój DŁUG", "dlug"),  # ł is folded to l
        ("pl", "Zaległość w płatnościach", "zaleg"),
        ("pl", "Pismo od komornika", "komorni"),
        ("pl", "Postępowanie egzekucyjne", "egzekuc"),
    ],
)
def test_a_collection_word_in_a_subject_is_a_problem(language: str, text: str, word: str) -> None:
    found = problems_in_subject(text, language)
    assert any(f"collection word {word!r}" in p for p in found), found


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("nl", "Bericht over uw rekening bij Stadswater"),
        ("en", "Your account with Stadswater"),
        ("en", "Power company newsletter for the owner"),  # "owe" only as a whole word
        ("fr", "Votre compte chez Stadswater"),
        ("pl", "Wiadomość od firmy Stadswater"),
        ("pl", "Dzień dobry, czeka na Państwa wiadomość. Tel.: +48 22 123 45 67"),
    ],
)
def test_a_neutral_text_has_no_problem(language: str, text: str) -> None:
    assert problems_in_subject(text, language) == []


def test_words_of_every_language_are_checked_whatever_the_message_language() -> None:
    assert problems_in_subject("Debt notice", "nl") != []
    assert problems_in_subject("Incasso", "pl") != []


@pytest.mark.parametrize(
    "text", ["Te betalen: € 12,50", "Amount 12.50", "Saldo 1.234,56", "100 PLN", "250 zł", "$40"]
)
def test_an_amount_or_currency_is_a_problem(text: str) -> None:
    found = problems_in_subject(text, "en")
    assert any("amount" in p or "currency" in p for p in found), found


@pytest.mark.parametrize(
    "text",
    ["Postbus 1234", "3500 AB Utrecht", "Bel 030 123 45 67", "Datum 12.03.2026", "127.0.0.1"],
)
def test_addresses_phone_numbers_and_dates_are_not_amounts(text: str) -> None:
    assert problems_in_subject(text, "nl") == []


def test_every_envelope_line_and_the_sms_are_checked_and_named() -> None:
    found = disclosure_problems(
        subject=None,
        envelope_lines=("Incasso Noord B.V.", "Postbus 1", "1000 AA Amsterdam"),
        sms_text="Uw betalingsachterstand is € 80,00",
        language="nl",
    )
    assert "envelope line 1: contains the nl collection word 'incasso'" in found
    assert not any(p.startswith(("envelope line 2", "envelope line 3")) for p in found)
    assert "sms: contains the nl collection word 'achterstand'" in found
    assert "sms: contains a currency sign or code" in found
    assert "sms: contains an amount" in found


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown language"):
        problems_in_subject("Hallo", "de")


def test_normalise_folds_case_and_accents() -> None:
    assert normalise("Dług ZALEGŁOŚĆ Impayé") == "dlug zaleglosc impaye"
