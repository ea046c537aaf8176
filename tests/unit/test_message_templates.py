"""Every message template renders in every language, tone and channel, and says what it must.

Issue 6: "all templates rendered in all languages". Each message states what is owed
(principal, interest, costs, paid, total) in the language's own number format, how each
part came about, what happens next and when, and how to get help; the SMS, the e-mail
subject and the envelope never reveal a debt (see test_disclosure.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency

from respite.adapters.messages.context import LANGUAGES, STEPS, TONES, Brand, NextStep
from respite.adapters.messages.render import (
    LOCALES,
    OUTCOMES,
    envelope_lines,
    render,
    supported,
)
from respite.domain.disclosure import disclosure_problems
from respite.errors import ValidationError
from tests.unit.message_samples import AGENCY, CREDITOR, case_lines, consolidated, context

IDENTITY_HEADING = {
    "nl": "Controleer eerst wie u spreekt",
    "en": "First check who you are talking to",
    "fr": "Vérifiez d'abord à qui vous parlez",
    "pl": "Najpierw sprawdzić tożsamość rozmówcy",
}
HELP_HEADING = {
    "nl": "Hulp en vragen",
    "en": "Help and questions",
    "fr": "Aide et questions",
    "pl": "Pomoc i pytania",
}
OWED_HEADING = {
    "nl": "Wat u moet betalen",
    "en": "What you need to pay",
    "fr": "Ce que vous devez payer",
    "pl": "Ile jest do zapłaty",
}


def money(amount: Decimal, currency: str, language: str) -> str:
    return format_currency(amount, currency, locale=LOCALES[language])


def longdate(value: date, language: str) -> str:
    return format_date(value, format="long", locale=LOCALES[language])


def spaced(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
def test_every_step_renders_on_every_channel_with_amounts_next_step_and_help(
    step: str, language: str, tone: str
) -> None:
    ctx = context(step, language, tone)
    cur = ctx.currency
    assert ctx.login_code is not None
    for channel in supported(step):
        out = render(ctx, channel)  # StrictUndefined: a missing variable raises
        assert (out.step, out.channel, out.language, out.tone) == (step, channel, language, tone)
        if channel == "sms":
            assert len(out.text) <= 320
            assert ctx.portal_url in out.text
            assert ctx.brand.phone in out.text
            for amount in (ctx.principal, ctx.total):
                assert money(amount, cur, language) not in out.text
            assert (
                disclosure_problems(
                    subject=None, envelope_lines=(), sms_text=out.text, language=language
                )
                == []
            )
            continue
        bodies = [out.text] + ([out.html] if out.html else [])
        for body in bodies:
            for amount in (ctx.principal, ctx.interest, ctx.costs, ctx.paid, ctx.total):
                assert money(amount, cur, language) in body
            assert ctx.portal_url in body
            if ctx.debt_help.phone:
                assert ctx.debt_help.phone in body
            assert ctx.debt_help.name in body
            if ctx.next_step.on is not None:
                assert longdate(ctx.next_step.on, language) in body
        if channel == "email":
            assert out.subject
            assert out.html
            assert ctx.brand.name in out.subject
            assert (
                disclosure_problems(
                    subject=out.subject, envelope_lines=(), sms_text=None, language=language
                )
                == []
            )
            assert f'href="{ctx.portal_url}"' in out.html
            assert ctx.login_code not in out.html  # the login code goes on paper only
        if channel == "post":
            html = out.html or ""
            assert "@page" in html
            assert "A4 portrait" in html
            assert ctx.login_code in html
            assert ctx.login_code in out.text
            assert (
                disclosure_problems(
                    subject=None,
                    envelope_lines=envelope_lines(ctx),
                    sms_text=None,
                    language=language,
                )
                == []
            )
            if step not in ("paid_thank_you", "sepa_prenotification"):
                assert ctx.payment is not None
                assert spaced(ctx.payment.iban) in html
                assert spaced(ctx.payment.reference) in html
                assert ctx.payment.bic in html
                if ctx.qr_data_uri:
                    assert f'<img src="{ctx.qr_data_uri}" alt="' in html
                else:
                    assert "<img" not in html  # złoty: no EPC QR code, no broken image


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        # CLDR formats via Babel 2.18: the grouping and currency position of each language
        ("nl", "€\xa01.234,56"),
        ("en", "€1,234.56"),
        ("fr", "1\u202f234,56\xa0€"),
        ("pl", "1\xa0234,56\xa0zł"),
    ],
)
def test_amounts_are_written_in_the_language_s_own_format(language: str, expected: str) -> None:
    out = render(context("friendly_reminder", language), "email")
    assert expected in out.text
    assert expected in (out.html or "")


def test_dates_are_written_out_in_the_language() -> None:
    texts = {lang: render(context("friendly_reminder", lang), "email").text for lang in LANGUAGES}
    assert "2 april 2026" in texts["nl"]
    assert "2 April 2026" in texts["en"]
    assert "2 avril 2026" in texts["fr"]
    assert "2 kwietnia 2026" in texts["pl"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("brand", [AGENCY, CREDITOR], ids=["agency", "creditor"])
def test_a_consolidated_message_lists_every_case_with_its_creditor(
    language: str, brand: Brand
) -> None:
    ctx = consolidated(language, brand=brand)
    for channel in ("email", "post"):
        out = render(ctx, channel)
        for case in ctx.cases:
            for body in (out.text, out.html or ""):
                assert case.creditor_name in body
                assert case.reference in body
                assert money(case.total, case.currency, language) in body
        # the third case has neither interest nor costs: each basis is explained once,
        # with the creditors it applies to (nl/en/pl: the first two share theirs)
        who = [line[2:].split(" — ")[0] for line in out.text.splitlines() if " — " in line]
        assert sorted(", ".join(who).split(", ")) == sorted(c.creditor_name for c in ctx.cases)
        assert ctx.cases[2].creditor_name in who
        assert len(who) == (3 if language == "fr" else 2)  # BE caps differ by bracket
    letter = render(ctx, "post").html or ""
    assert letter.count("<tr>") >= 4  # a header row and one row per case (+ the total row)


def test_the_same_basis_is_explained_once_not_per_case() -> None:
    cases = (
        case_lines("nl", creditor="Stadswater"),
        case_lines("nl", reference="R-2", creditor="Eneco", principal="200.00"),
    )
    text = render(context("friendly_reminder", "nl", cases=cases), "email").text
    assert text.count("de wettelijke rente van 6% per jaar") == 1


def test_white_label_messages_carry_the_creditor_brand_and_letters_name_the_agency() -> None:
    ctx = context("friendly_reminder", "nl", brand=CREDITOR)
    email = render(ctx, "email")
    html = email.html or ""
    assert CREDITOR.logo_data_uri
    assert f'src="{CREDITOR.logo_data_uri}"' in html
    assert CREDITOR.primary_color in html
    assert CREDITOR.footer in html
    assert email.subject == "Bericht over uw rekening bij Stadswater"
    # an early e-mail goes out under the creditor alone (the payee may still be the agency)
    assert "namens" not in email.text
    assert AGENCY.footer not in email.text
    letter = render(ctx, "post")
    assert "Respite Services stuurt dit bericht namens Stadswater." in (letter.html or "")
    assert "Wki-register" in (letter.html or "")
    assert envelope_lines(ctx) == ("Stadswater", "Postbus 99", "1000 AB Amsterdam")
    notice = render(context("formal_notice", "nl", brand=CREDITOR), "email")
    assert "Respite Services stuurt dit bericht namens Stadswater." in notice.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", [s for s in STEPS if s.startswith("call_")])
def test_a_call_script_checks_identity_before_it_names_the_account(
    step: str, language: str
) -> None:
    ctx = context(step, language)
    text = render(ctx, "phone").text
    identity = text.index(IDENTITY_HEADING[language])
    assert identity < text.index(money(ctx.principal, ctx.currency, language))
    assert identity < text.index(ctx.cases[0].creditor_name)
    for code in OUTCOMES:
        assert f"- {code}" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_supportive_tone_offers_help_first_and_the_neutral_tone_after_the_amounts(
    language: str,
) -> None:
    for channel in ("email", "post"):
        warm = render(context("friendly_reminder", language, "supportive"), channel).text
        plain = render(context("friendly_reminder", language, "neutral"), channel).text
        assert warm.index(HELP_HEADING[language]) < warm.index(OWED_HEADING[language])
        assert plain.index(HELP_HEADING[language]) > plain.index(OWED_HEADING[language])
        assert warm != plain


THREATS = {
    "nl": re.compile(r"deurwaarder|rechter|rechtbank|dagvaard|beslag", re.IGNORECASE),
    "en": re.compile(r"bailiff|\bcourt\b|summons|\bseiz|enforcement agent", re.IGNORECASE),
    "fr": re.compile(r"huissier|tribunal|\bjuge\b|saisie|poursuites", re.IGNORECASE),
    "pl": re.compile(r"komornik|\bsąd|egzekuc|pozew", re.IGNORECASE),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_threatens_bailiffs_or_court(language: str) -> None:
    for step in STEPS:
        for tone in TONES:
            for channel in supported(step):
                out = render(context(step, language, tone), channel)
                assert not THREATS[language].search(out.text), (step, tone, channel)


def test_a_legal_review_is_a_person_looking_at_the_file() -> None:
    text = render(context("plan_ended", "en"), "email").text
    assert "a member of our staff will look at your file after 2 April 2026" in text


def test_the_formal_notice_states_the_costs_and_the_14_days_from_receipt() -> None:
    """Art. 6:96 lid 6 BW: the letter names the exact costs and 14 days from the day after
    receipt (HR 25-11-2016, ECLI:NL:HR:2016:2704)."""
    ctx = context("formal_notice", "nl")
    for channel in ("post", "email"):
        text = render(ctx, channel).text
        assert "Die 14 dagen beginnen op de dag nadat u deze brief hebt gekregen." in text
        assert "Dan komen er €\xa0185,18 kosten bij, op zijn vroegst op 2 april 2026." in text
        assert "15% van het bedrag van de rekening, met een minimum van €\xa040,00." in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sepa_pre_notification_names_amount_date_mandate_and_creditor_id(
    language: str,
) -> None:
    ctx = context("sepa_prenotification", language)
    for channel in ("email", "post"):
        text = render(ctx, channel).text
        assert money(Decimal("75.00"), ctx.currency, language) in text
        assert longdate(date(2026, 4, 1), language) in text
        assert "RESP-000123" in text
        assert "NL98ZZZ999999999999" in text


def test_a_sepa_pre_notification_without_a_collection_date_is_refused() -> None:
    ctx = context("sepa_prenotification", "nl")
    with pytest.raises(ValidationError, match="collection date"):
        render(replace(ctx, extra={}), "email")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_interest_and_costs_basis_is_explained(language: str) -> None:
    variants = [
        case_lines(language, costs_basis="nl_bik", principal="800.00"),
        case_lines(language, costs_basis="nl_bik", principal="7000.00"),
        case_lines(language, costs_basis="be_fixed", principal="120.00"),
        case_lines(language, costs_basis="be_fixed", principal="400.00"),
        case_lines(language, costs_basis="be_fixed", principal="900.00"),
        case_lines(language, costs_basis="pl_fixed", principal="4000.00"),
        case_lines(language, costs_basis="pl_fixed", principal="60000.00"),
        case_lines(language, costs_basis="none", costs=Decimal("0.00")),
        case_lines(language, interest_basis="statutory_commercial"),
        case_lines(language, interest_basis="contract"),
        case_lines(language, interest_basis="none"),
        case_lines(language, frozen=True),
    ]
    texts = []
    for number, case in enumerate(variants):
        one = replace(case, reference=f"R-{number}", creditor_name=f"Creditor {number}")
        texts.append(render(context("friendly_reminder", language, cases=(one,)), "email").text)
    assert len(set(texts)) == len(texts)  # every basis reads differently
    eur = {
        name: money(Decimal(v), "EUR", language)
        for name, v in {
            "40": "40",
            "6775": "6775",
            "20": "20",
            "150": "150",
            "2000": "2000",
        }.items()
    }
    assert eur["40"] in texts[0]
    assert eur["6775"] in texts[1]
    assert eur["20"] in texts[2]
    assert eur["150"] in texts[3]
    assert eur["2000"] in texts[4]
    assert " 40 " in texts[5]
    assert " 100 " in texts[6]


def test_a_step_renders_only_for_its_channels() -> None:
    assert supported("call_offer_help") == ("phone",)
    assert supported("friendly_nudge") == ("email", "sms", "post")
    with pytest.raises(ValidationError, match="renders for phone"):
        render(context("call_offer_help", "nl"), "email")
    with pytest.raises(ValidationError, match="renders for email, sms, post"):
        render(context("friendly_reminder", "nl"), "phone")
    with pytest.raises(ValidationError, match="unknown step"):
        supported("court_summons")


@pytest.mark.parametrize("channel", ["email", "sms", "post"])
def test_a_brand_name_that_reveals_collection_fails_loudly(channel: str) -> None:
    loud = replace(AGENCY, name="Incasso Noord")
    ctx = context("friendly_reminder", "nl", brand=loud)
    with pytest.raises(ValidationError, match="would disclose the debt"):
        render(ctx, channel)


def test_names_are_escaped_in_html_but_kept_as_typed_in_text() -> None:
    ctx = replace(context("friendly_reminder", "en"), debtor_name="<b>Jo & Co</b>")
    out = render(ctx, "email")
    assert "&lt;b&gt;Jo &amp; Co&lt;/b&gt;" in (out.html or "")
    assert "<b>Jo" not in (out.html or "")
    assert "Dear <b>Jo & Co</b>," in out.text


def test_a_brand_colour_that_is_not_a_hex_colour_is_refused() -> None:
    bad = replace(AGENCY, primary_color="red;} body{display:none")
    with pytest.raises(ValidationError, match="colour"):
        render(context("friendly_reminder", "en", brand=bad), "email")


def test_the_letter_renders_to_an_a4_pdf() -> None:
    from weasyprint import HTML  # type: ignore[import-untyped]

    html = render(consolidated("nl", brand=CREDITOR, step="formal_notice"), "post").html
    document = HTML(string=html).render()
    assert 1 <= len(document.pages) <= 3
    page = document.pages[0]
    # A4 in CSS pixels (96 per inch): 210 x 297 mm
    assert (round(page.width * 25.4 / 96), round(page.height * 25.4 / 96)) == (210, 297)
    assert document.write_pdf().startswith(b"%PDF")


def test_next_step_without_a_date_still_reads() -> None:
    ctx = replace(context("amicable_offer_plan", "fr"), next_step=NextStep(kind="personal_contact"))
    text = render(ctx, "email").text
    assert "nous vous appellerons. Nous verrons" in text


def test_a_costs_notice_without_the_costs_amount_is_refused() -> None:
    ctx = context("formal_notice", "nl")
    with pytest.raises(ValidationError, match="needs its amount"):
        render(replace(ctx, next_step=NextStep(kind="costs_charged", on=date(2026, 4, 2))), "post")
    with pytest.raises(ValidationError, match="unknown next step"):
        render(replace(ctx, next_step=NextStep(kind="court")), "post")


def test_an_instalment_step_without_date_or_amount_falls_back_to_the_plan() -> None:
    ctx = replace(context("missed_instalment_friendly", "en"), next_step=NextStep("instalment_due"))
    text = render(ctx, "email").text
    assert "Your next payment is €75.00. Please make your next payment by 1 April 2026." in text
    no_plan = replace(ctx, plan=None)
    assert "Your plan goes on as normal." in render(no_plan, "email").text
