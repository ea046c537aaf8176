"""The messaging engine on a real database: outbox → consolidated messages → guardrails →
channels, with retries, fallback letters, holds, opt-outs and the agent path."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from respite.adapters.channels.base import DeliveryResult, Outgoing
from respite.adapters.db.models import AccessCode, Case, ContactDecision, Event, Message
from respite.domain.lifecycle import HoldKind
from respite.domain.money import Money
from respite.services import messaging
from respite.services.cases import lift_hold, place_hold
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    open_cases,
    outbox_row,
    queue_outbox,
    upsert_debtors,
)

NOW = datetime(2025, 3, 1, 6, tzinfo=UTC)
DAY = date(2025, 3, 4)  # a Tuesday, no public holiday in NL
SETTINGS = messaging.settings_from_env({})


@dataclass
class FakeChannel:
    """A channel that answers from a script ("sent" when the script runs out)."""

    name: str
    script: list[str] = field(default_factory=list)
    sent: list[Outgoing] = field(default_factory=list)

    def send(self, message: Outgoing) -> DeliveryResult:
        self.sent.append(message)
        status = self.script.pop(0) if self.script else "sent"
        return DeliveryResult(status, provider_ref=f"ref-{len(self.sent)}", detail=status)


def channels() -> dict[str, FakeChannel]:
    return {name: FakeChannel(name) for name in ("email", "sms", "post")}


def person_with_cases(engine: Engine, creditors: int = 3) -> list[str]:
    """One NL consumer with one EUR 100 case at each of ``creditors`` creditors."""
    with engine.begin() as conn:
        ids = upsert_debtors(
            conn,
            [
                NewDebtor(
                    "k-anna",
                    "consumer",
                    "Anna de Vries",
                    "NL",
                    "nl",
                    "Europe/Amsterdam",
                    email="anna@example.org",
                    phone="+31612345678",
                    street="Dorpsstraat 1",
                    postcode="1011 AB",
                    city="Amsterdam",
                )
            ],
            now=NOW,
        )
        for n in range(creditors):
            creditor = ensure_creditor(
                conn,
                f"Energie {n}",
                jurisdiction="NL",
                currency="EUR",
                now=NOW,
                branding={"name": f"Energie {n}", "primary_color": "#aa3300"},
            )
            claim = NewClaim(
                f"INV-{n}",
                DAY - timedelta(days=40),
                DAY - timedelta(days=30),
                Money.of("100.00", "EUR"),
            )
            open_cases(
                conn,
                creditor,
                [NewCase("k-anna", (claim,))],
                ids,
                on=DAY,
                actor="t",
                reason="t",
                now=NOW,
            )
        refs = list(conn.execute(select(Case.reference).order_by(Case.id)).scalars())
    return refs


def queue(
    engine: Engine, refs: list[str], template: str, channel: str, brand: str = "agency"
) -> None:
    with engine.begin() as conn:
        case_ids = dict(conn.execute(select(Case.reference, Case.id)).all())
        queue_outbox(
            conn,
            [
                outbox_row(
                    case_ids[r],
                    DAY,
                    "call_task" if channel == "phone" else "message",
                    channel,
                    template,
                    f"{r}:{template}",
                    {"tone": "neutral"},
                    brand=brand,
                )
                for r in refs
            ],
        )


def messages(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(Message.__table__).order_by(Message.id)))


def agent_email(
    engine: Engine, ref: str, chans: dict[str, FakeChannel], on: date, at: time
) -> dict[str, Any]:
    """Agent Kim asks for a friendly reminder by e-mail on ``on`` at ``at``."""
    return messaging.request_contact(
        engine,
        ref,
        channel="email",
        template="friendly_reminder",
        source="agent",
        actor="agent:kim",
        on=on,
        now=messaging.send_moment(on, at, SETTINGS),
        channels=chans,
        settings=SETTINGS,
    )


def send(
    engine: Engine, chans: dict[str, FakeChannel], at: time = time(10), on: date = DAY
) -> messaging.SendReport:
    return messaging.send_day(engine, on, at, chans, SETTINGS)


def test_three_invoices_of_three_creditors_make_one_letter_under_the_agency_brand(
    db_engine: Engine,
) -> None:
    refs = person_with_cases(db_engine)
    queue(db_engine, refs, "formal_notice", "post")
    chans = channels()
    report = send(db_engine, chans)
    assert report.prepared == 1
    [letter] = chans["post"].sent
    assert letter.address_lines[0] == "Anna de Vries"
    assert all(ref in letter.text for ref in refs)  # each case is listed
    [m] = messages(db_engine)
    assert m.status == "sent"
    assert len(m.case_ids) == 3
    with db_engine.connect() as conn:
        sent_events = conn.execute(select(Event.case_id).where(Event.kind == "message_sent")).all()
        code = conn.execute(select(AccessCode.code_hash)).scalar_one()
    assert len(sent_events) == 3  # one timeline entry per case
    # The letter carries a one-time portal code; only its argon2id hash is stored.
    assert code.startswith("$argon2id$")
    printed = re.findall(r"\b[A-Z2-9]{4}[- ]?[A-Z2-9]{4}[- ]?[A-Z2-9]{4}\b", letter.text)
    assert any(messaging.verify_login_code(code, w) for w in printed)


def test_creditor_branded_reminders_are_one_per_creditor_and_the_daily_cap_defers_the_rest(
    db_engine: Engine,
) -> None:
    refs = person_with_cases(db_engine)
    queue(db_engine, refs, "friendly_reminder", "email", brand="creditor")
    chans = channels()
    report = send(db_engine, chans)
    assert report.prepared == 3  # white label: never mix creditors under one brand
    assert len(chans["email"].sent) == 1
    assert chans["email"].sent[0].sender_name.startswith("Energie")
    deferred = [m for m in messages(db_engine) if m.status == "deferred"]
    assert len(deferred) == 2
    with db_engine.connect() as conn:
        rules = set(
            conn.execute(
                select(ContactDecision.rule).where(ContactDecision.outcome == "defer")
            ).scalars()
        )
    assert rules  # every deferral names its rule
    # The deferred messages go out on later days, never dropped.
    for d in range(1, 8):
        send(db_engine, chans, on=DAY + timedelta(days=d))
    assert len(chans["email"].sent) == 3


def test_a_held_case_is_taken_out_of_the_message_and_sent_after_the_hold(db_engine: Engine) -> None:
    refs = person_with_cases(db_engine)
    place_hold(
        db_engine,
        refs[1],
        HoldKind.DISPUTE,
        on=DAY,
        actor="agent:t",
        reason="disputes the invoice",
        at=NOW,
    )
    queue(db_engine, refs, "formal_notice", "post")
    chans = channels()
    send(db_engine, chans)
    [letter] = chans["post"].sent
    assert refs[1] not in letter.text
    assert refs[0] in letter.text
    blocked = [m for m in messages(db_engine) if m.status == "blocked"]
    assert len(blocked) == 1
    with db_engine.connect() as conn:
        rule = conn.execute(
            select(ContactDecision.rule).where(ContactDecision.message_id == blocked[0].id)
        ).scalar_one()
    assert rule == "hold:dispute"
    lift_hold(
        db_engine,
        refs[1],
        HoldKind.DISPUTE,
        on=DAY + timedelta(days=2),
        actor="agent:t",
        reason="answered",
        at=NOW,
    )
    for d in range(3, 6):
        send(db_engine, chans, on=DAY + timedelta(days=d))
    assert any(refs[1] in m.text for m in chans["post"].sent[1:])


def test_a_message_in_quiet_hours_waits_for_the_morning(db_engine: Engine) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    queue(db_engine, refs, "friendly_reminder", "email")
    chans = channels()
    send(db_engine, chans, at=time(22, 30))
    assert chans["email"].sent == []
    [m] = messages(db_engine)
    assert m.status == "deferred"
    assert m.next_attempt_at is not None
    # The next day's run (after the window opens) sends it.
    send(db_engine, chans, on=DAY + timedelta(days=1), at=time(9, 30))
    assert len(chans["email"].sent) == 1


def test_a_bounced_email_becomes_a_letter_and_a_temporary_failure_is_retried(
    db_engine: Engine,
) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    queue(db_engine, refs, "friendly_reminder", "email")
    chans = channels()
    chans["email"].script = ["retry", "bounced"]
    report = send(db_engine, chans)
    assert report.retried == 1
    [m] = messages(db_engine)
    assert m.status == "queued"
    assert m.attempts == 1
    assert m.next_attempt_at is not None
    later = messaging.send_moment(DAY, time(10), SETTINGS) + timedelta(minutes=20)
    messaging.deliver_messages(db_engine, DAY, later, chans, SETTINGS)
    first, fallback = messages(db_engine)
    assert first.status == "bounced"
    assert fallback.channel == "post"
    assert fallback.fallback_of == first.id
    assert fallback.status == "sent"
    assert len(chans["post"].sent) == 1


def test_an_opt_out_blocks_the_channel_and_a_preferred_channel_is_used(db_engine: Engine) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    messaging.record_preference(db_engine, refs[0], "sms", "preferred", DAY, "portal")
    queue(db_engine, refs, "friendly_reminder", "email")
    chans = channels()
    send(db_engine, chans)
    assert len(chans["sms"].sent) == 1
    assert chans["email"].sent == []
    messaging.record_preference(db_engine, refs[0], "email", "opted_out", DAY, "portal")
    result = agent_email(db_engine, refs[0], chans, DAY + timedelta(days=2), time(11))
    assert result["status"] == "blocked"
    assert result["decision"]["rule"] == "opt_out:email"


def test_a_strategy_sms_without_consent_goes_by_email_and_the_block_is_on_record(
    db_engine: Engine,
) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    queue(db_engine, refs, "friendly_nudge", "sms")
    chans = channels()
    report = send(db_engine, chans)
    assert chans["sms"].sent == []  # SMS needs consent (rules/nl/contact.toml)
    assert len(chans["email"].sent) == 1
    assert report.decisions["block:consent:sms"] == 1
    [m] = messages(db_engine)
    assert m.channel == "email"
    assert m.status == "sent"
    assert m.payload["rerouted_from"] == "sms"


def test_an_agent_cannot_bypass_the_cap_that_the_strategy_used_today(db_engine: Engine) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    queue(db_engine, refs, "friendly_reminder", "email")
    chans = channels()
    send(db_engine, chans)
    result = agent_email(db_engine, refs[0], chans, DAY, time(14))
    assert result["status"] == "deferred"
    assert result["decision"]["outcome"] == "defer"
    assert len(chans["email"].sent) == 1


def test_a_call_task_lands_in_the_queue_with_its_script_and_the_outcome_is_logged(
    db_engine: Engine,
) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    queue(db_engine, refs, "call_offer_help", "phone")
    send(db_engine, channels())
    [task] = messaging.call_tasks(db_engine)
    assert task["cases"] == refs[:1]
    assert task["script"]
    messaging.log_call(
        db_engine,
        task["task"],
        outcome="promise_to_pay",
        agent="agent:kim",
        at=NOW + timedelta(days=3),
    )
    assert messaging.call_tasks(db_engine) == []
    with pytest.raises(Exception, match="logged already"):
        messaging.log_call(db_engine, task["task"], outcome="no_answer", agent="agent:kim", at=NOW)


def test_the_current_letter_of_a_case_renders_without_a_code(db_engine: Engine) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    rendered = messaging.current_letter(db_engine, refs[0], DAY, SETTINGS)
    assert rendered.channel == "post"
    assert rendered.html
    assert refs[0] in rendered.text


def test_a_sepa_pre_notification_names_its_debit_and_is_never_merged(db_engine: Engine) -> None:
    refs = person_with_cases(db_engine, creditors=2)
    with db_engine.begin() as conn:
        ids = dict(conn.execute(select(Case.reference, Case.id)).all())
        queue_outbox(
            conn,
            [
                outbox_row(
                    ids[ref],
                    DAY,
                    "message",
                    "email",
                    "sepa_prenotification",
                    f"{ref}:prenote",
                    # what services/sepa.py puts in the outbox
                    {
                        "collection_date": "2025-03-18",
                        "amount_cents": 2500 + n,
                        "mandate_id": f"RSP-{n}",
                        "creditor_id": "NL69ZZZ123456780000",
                    },
                )
                for n, ref in enumerate(refs)
            ],
        )
    chans = channels()
    report = send(db_engine, chans)
    assert report.prepared == 2  # one per debit
    [first] = chans["email"].sent  # the second waits for tomorrow (one message a day)
    assert "RSP-0" in first.text
    assert "25,00" in first.text
    assert "18 maart 2025" in first.text


def test_the_letters_login_qr_opens_the_portal_form_filled_in_with_a_live_code(
    db_engine: Engine, tmp_path: Any
) -> None:
    from urllib.parse import parse_qs, urlsplit

    from respite.adapters.channels.letters import render_pdf
    from respite.services.portal_access import read_link
    from tests.integration.test_letters import decode_qr, page_png

    refs = person_with_cases(db_engine)
    queue(db_engine, refs, "formal_notice", "post")
    chans = channels()
    send(db_engine, chans)
    [letter] = chans["post"].sent
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(render_pdf(letter.html or ""))
    from tests.integration.test_letters import pdf_pages

    found = [
        text
        for page in range(1, pdf_pages(pdf) + 1)
        for text in decode_qr(page_png(pdf, tmp_path / f"page{page}", page))
    ]
    links = [t for t in found if "/login/link?" in t]
    assert len(links) == 1, found  # beside the payment QR
    url = urlsplit(links[0])
    assert links[0].startswith(SETTINGS.portal_url)
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    opened = read_link(q["ref"], q["code"], q["exp"], q["sig"], secret=SETTINGS.link_secret, on=DAY)
    assert opened is not None
    ref, code = opened
    with db_engine.connect() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        stored = conn.execute(
            select(AccessCode.code_hash).where(AccessCode.case_id == case_id)
        ).scalar_one()
    assert messaging.verify_login_code(stored, code)
    # A link with another code is not ours: the signature no longer matches.
    assert read_link(ref, "A" * 12, q["exp"], q["sig"], secret=SETTINGS.link_secret, on=DAY) is None
