"""Every shipped template reads at B1 level (by its language's rule of thumb), and the
measure can tell: a dense legal paragraph fails it. Measures and thresholds are in
respite.adapters.messages.readability."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from respite.adapters.messages.context import LANGUAGES, STEPS, TONES
from respite.adapters.messages.readability import THRESHOLDS, prose, readability
from respite.adapters.messages.render import render, supported
from respite.errors import ValidationError
from tests.unit.message_samples import consolidated, context


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_shipped_template_meets_the_b1_threshold(language: str, tone: str) -> None:
    failing = []
    for step in STEPS:
        for channel in supported(step):
            text = render(context(step, language, tone), channel).text
            score, ok = readability(text, language)
            if not ok:
                failing.append((step, channel, str(score)))
    assert failing == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_consolidated_letter_also_meets_the_threshold(language: str) -> None:
    text = render(consolidated(language, step="formal_notice"), "post").text
    assert readability(text, language)[1]


DENSE = {
    "nl": (
        "Onverminderd het bepaalde in artikel 6:96 lid 6 van het Burgerlijk Wetboek zijn de "
        "buitengerechtelijke incassokosten verschuldigd nadat de schuldenaar, na het intreden "
        "van het verzuim, onder vermelding van de gevolgen van het uitblijven van betaling, "
        "waaronder de vergoeding die in overeenstemming met de nadere regels wordt gevorderd, "
        "vruchteloos is aangemaand tot betaling binnen een termijn van veertien dagen, "
        "aanvangende de dag na aanmaning."
    ),
    "en": (
        "Notwithstanding any provision to the contrary contained herein, the obligor shall "
        "indemnify the creditor against all reasonable extrajudicial collection expenditures "
        "necessarily incurred consequent upon the obligor's continuing non-performance, "
        "irrespective of any subsequent partial satisfaction of the principal indebtedness "
        "or accumulated contractual remuneration."
    ),
    "fr": (
        "Nonobstant toute disposition contractuelle contraire, le débiteur défaillant est "
        "redevable, consécutivement à la constatation de l'inexécution persistante de ses "
        "obligations pécuniaires, d'une indemnité forfaitaire conventionnellement déterminée, "
        "indépendamment de l'éventuelle régularisation ultérieure partielle de l'encours."
    ),
    "pl": (
        "Niezależnie od postanowień umownych przewidujących odmienne uregulowania, dłużnik "
        "pozostający w opóźnieniu zobowiązany jest do zapłaty zryczałtowanej rekompensaty "
        "stanowiącej równowartość kosztów odzyskiwania należności, przeliczonej według "
        "średniego kursu ogłoszonego przez Narodowy Bank Polski ostatniego dnia roboczego "
        "miesiąca poprzedzającego miesiąc, w którym świadczenie pieniężne stało się wymagalne."
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_dense_legal_paragraph_fails_the_threshold(language: str) -> None:
    score, ok = readability(DENSE[language], language)
    assert not ok, score


def test_the_dutch_score_is_flesch_douma() -> None:
    """Derived: Flesch–Douma = 206.835 − 0.93 × words/sentence − 77 × syllables/word
    (textstat's ``nl`` coefficients). "Ik ga naar huis. Het is nu laat." has 8 words in
    2 sentences and 8 one-syllable words: 206.835 − 0.93 × 4 − 77 × 1 = 126.115 → 126.12."""
    assert readability("Ik ga naar huis. Het is nu laat.", "nl") == (Decimal("126.12"), True)


def test_polish_uses_the_gunning_fog_where_lower_is_easier() -> None:
    assert THRESHOLDS["pl"][1:] == ("gunning_fog", Decimal(9), False)
    score, ok = readability("Dzień dobry. Mamy dla Państwa wiadomość. Prosimy o telefon.", "pl")
    assert ok
    assert score <= Decimal(9)


def test_prose_drops_tables_and_turns_codes_and_amounts_into_one_word() -> None:
    text = (
        "Wat u moet betalen\n"
        "Rente: € 18,20\n"
        "IBAN: NL91 ABNA 0417 1643 00\n"
        "- Ga naar https://portal.example/login. Log in met deze code: K7QM2XWP9RTA.\n"
        "Betaal € 1.234,56 vóór 2 april 2026.\n"
    )
    assert prose(text) == ("Ga naar x. Log in met deze code: x.\nBetaal x vóór x april x.")


def test_text_without_prose_or_in_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValidationError, match="no prose"):
        readability("Rente: € 18,20\nTotaal: € 20,00", "nl")
    with pytest.raises(ValidationError, match="no readability measure"):
        readability("Guten Tag.", "de")


def test_scoring_languages_in_parallel_gives_the_same_scores() -> None:
    samples = [
        (render(context("friendly_reminder", lang), "email").text, lang) for lang in LANGUAGES
    ]
    expected = [readability(text, lang) for text, lang in samples]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda s: readability(*s), samples * 5))
    assert got == expected * 5
