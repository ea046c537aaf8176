"""The portal's care flows on a real database (SQLite and PostgreSQL): a dispute with a file
freezes interest and contact at once, debt help refers the person with every creditor, and
circumstances are stored sealed, only with consent, and never in the timeline."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from respite.adapters.channels.base import DeliveryResult, Outgoing
from respite.adapters.crypto import open_sealed
from respite.adapters.db.models import (
    Attachment,
    AuditEntry,
    Case,
    Claim,
    ContactDecision,
    Event,
    Hold,
    Message,
    Referral,
    SensitiveNote,
)
from respite.domain.lifecycle import CloseReason, Stage
from respite.errors import InputError, NotAllowed
from respite.services import messaging, portal_care
from respite.services.cases import move_case
from respite.services.cycle import run_cycle
from respite.services.portal_care import FormErrors, Upload
from respite.services.store import outbox_row, queue_outbox
from tests.e2e.portal_data import Portfolio, seed

AT = datetime(2025, 2, 20, 10, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60
DISCLOSED = "Mijn man is in januari overleden en ik lig zelf in het ziekenhuis"


@dataclass
class World:
    engine: Engine
    portfolio: Portfolio
    uploads: Path
    anna: int  # Anna's person key
    piet: int

    @property
    def on(self) -> date:
        return self.portfolio.on

    def case_id(self, reference: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(Case.id).where(Case.reference == reference)).scalar_one()
            )

    def dispute(
        self,
        reference: str | None = None,
        *,
        reason: str = "wrong_amount",
        explanation: str = "I paid EUR 100 on 3 January",
        upload: Upload | None = None,
        person: int | None = None,
        max_bytes: int = 10_000,
        on: date | None = None,
    ) -> portal_care.DisputeFiled:
        return portal_care.file_dispute(
            self.engine,
            self.anna if person is None else person,
            reference or self.portfolio.utility_case,
            reason=reason,
            explanation=explanation,
            upload=upload,
            upload_dir=self.uploads,
            max_upload_bytes=max_bytes,
            on=on or self.on,
            at=AT,
        )

    def count(self, model: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def world(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    portfolio = seed(db_engine)
    with db_engine.connect() as conn:
        people = dict(
            conn.execute(
                select(Case.reference, Case.debtor_id).where(
                    Case.reference.in_([portfolio.utility_case, portfolio.other_case])
                )
            ).all()
        )
    return World(
        db_engine,
        portfolio,
        tmp_path / "uploads",
        anna=int(people[portfolio.utility_case]),
        piet=int(people[portfolio.other_case]),
    )


def _holds(world: World, kind: str) -> dict[str, int]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(Case.reference, func.count(Hold.id))
            .join(Hold, Hold.case_id == Case.id)
            .where(Hold.kind == kind)
            .group_by(Case.reference)
        ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def _events(world: World, *kinds: str) -> list[Any]:
    with world.engine.connect() as conn:
        query = select(Event.__table__).order_by(Event.id)
        if kinds:
            query = query.where(Event.kind.in_(kinds))
        return list(conn.execute(query))


def _stored_files(world: World) -> list[Path]:
    return sorted(p for p in world.uploads.rglob("*") if p.is_file())


# -- dispute ------------------------------------------------------------------------------


def test_a_dispute_places_a_hold_stores_the_file_by_its_sha256_and_writes_the_timeline(
    world: World,
) -> None:
    ref = world.portfolio.utility_case
    filed = world.dispute(
        upload=Upload("C:\\Users\\anna\\bon <januari>.pdf", io.BytesIO(PDF)),
        explanation="Ik heb\r\nal betaald",
    )
    assert (filed.added, filed.since) == (False, world.on)
    assert _holds(world, "dispute") == {ref: 1}
    case_id = world.case_id(ref)
    sha = hashlib.sha256(PDF).hexdigest()
    with world.engine.connect() as conn:
        attachment = conn.execute(select(Attachment.__table__)).one()
        note = conn.execute(select(SensitiveNote.__table__)).one()
        hold = conn.execute(select(Hold.__table__).where(Hold.kind == "dispute")).one()
    assert attachment.sha256 == sha
    assert attachment.storage_path == f"{case_id}/{sha}.pdf"
    assert (attachment.case_id, attachment.purpose) == (case_id, "dispute")
    assert (attachment.content_type, attachment.size_bytes) == ("application/pdf", len(PDF))
    assert attachment.filename == "bon _januari_.pdf"  # no folders, no markup; DB only
    assert (world.uploads / attachment.storage_path).read_bytes() == PDF
    assert (hold.start, hold.until, hold.placed_by) == (world.on, None, "debtor:portal")
    # The explanation is sealed in a note of the case, CRLF typed as one line break.
    assert (note.kind, note.case_id, note.person_id) == ("dispute", case_id, world.anna)
    assert json.loads(open_sealed(note.ciphertext)) == {
        "reason": "wrong_amount",
        "explanation": "Ik heb\nal betaald",
    }
    placed, filed_event = _events(world, "hold_placed", "dispute_filed")
    assert (placed.case_id, placed.actor, placed.after) == (
        case_id,
        "debtor:portal",
        {"holds": "dispute"},
    )
    assert filed_event.after == {
        "reason": "wrong_amount",
        "note": note.id,
        "attachment": attachment.id,
        "sha256": sha,
    }
    assert filed_event.business_date == world.on
    for row in (placed, filed_event, hold):
        assert "betaald" not in json.dumps([row.reason, getattr(row, "after", None)])


def test_after_a_dispute_the_next_cycles_accrue_no_interest_on_that_case_only(
    world: World,
) -> None:
    def balances() -> dict[str, tuple[int, int, int]]:
        with world.engine.connect() as conn:
            rows = conn.execute(
                select(
                    Case.reference,
                    func.sum(Claim.open_interest_cents),
                    func.sum(Claim.interest_carry_micros),
                    func.sum(Claim.frozen_interest_micros),
                )
                .join(Claim, Claim.case_id == Case.id)
                .group_by(Case.reference)
            ).all()
        return {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}

    before = balances()
    world.dispute()
    day = world.on + timedelta(days=1)
    while day <= date(2025, 3, 3):  # over a month end, when accrued interest is posted
        run_cycle(world.engine, day, now=lambda: AT)
        day += timedelta(days=1)
    after = balances()
    disputed, other = world.portfolio.utility_case, world.portfolio.telecom_case
    # Nothing charged on the disputed case: neither posted cents nor carried micro-cents...
    assert after[disputed][:2] == before[disputed][:2]
    # ...while the cycle did see the days: what would have accrued is kept as "not charged".
    assert after[disputed][2] > before[disputed][2]
    # Anna's other debt, with another creditor, runs on as before.
    assert after[other][0] > before[other][0]


@dataclass
class FakeChannel:
    name: str
    sent: list[Outgoing] = field(default_factory=list)

    def send(self, message: Outgoing) -> DeliveryResult:
        self.sent.append(message)
        return DeliveryResult("sent", provider_ref=f"ref-{len(self.sent)}", detail="sent")


def test_a_strategy_message_queued_before_the_dispute_is_blocked_by_the_guardrail(
    world: World,
) -> None:
    ref = world.portfolio.utility_case
    case_id = world.case_id(ref)
    with world.engine.begin() as conn:
        queue_outbox(
            conn,
            [
                outbox_row(
                    case_id,
                    world.on,
                    "message",
                    "email",
                    "friendly_reminder",
                    f"test:{ref}:reminder",
                    {"tone": "neutral"},
                )
            ],
        )
    world.dispute()
    channels = {name: FakeChannel(name) for name in ("email", "sms", "post")}
    messaging.send_day(world.engine, world.on, time(10), channels, messaging.settings_from_env({}))
    sent_text = " ".join(m.text for c in channels.values() for m in c.sent)
    assert ref not in sent_text
    with world.engine.connect() as conn:
        mine = [
            m
            for m in conn.execute(select(Message.id, Message.status, Message.case_ids))
            if case_id in (m.case_ids or [])
        ]
        rules = {
            m.id: conn.execute(
                select(ContactDecision.rule).where(ContactDecision.message_id == m.id)
            ).scalar_one()
            for m in mine
        }
    assert mine  # the queued reminder became a message...
    assert {m.status for m in mine} == {"blocked"}  # ...that the hold stopped
    assert set(rules.values()) == {"hold:dispute"}


def test_a_second_dispute_adds_to_the_open_one_without_a_second_hold(world: World) -> None:
    first = world.dispute(reason="already_paid")
    second = world.dispute(
        reason="wrong_amount",
        explanation="Here is my bank statement",
        upload=Upload("afschrift.png", io.BytesIO(PNG)),
        on=world.on + timedelta(days=2),
    )
    assert (first.added, second.added) == (False, True)
    assert second.since == world.on  # the dispute that is open began on the first day
    assert _holds(world, "dispute") == {world.portfolio.utility_case: 1}
    kinds = [e.kind for e in _events(world, "hold_placed", "dispute_filed", "dispute_added")]
    assert kinds == ["hold_placed", "dispute_filed", "dispute_added"]
    assert world.count(SensitiveNote) == 2
    assert world.count(Attachment) == 1


def test_a_png_renamed_pdf_with_a_pdf_content_type_is_stored_as_the_png_it_is(
    world: World,
) -> None:
    # The browser's content type is not even passed on: only the bytes decide.
    world.dispute(upload=Upload("receipt.pdf", io.BytesIO(PNG)))
    with world.engine.connect() as conn:
        attachment = conn.execute(select(Attachment.__table__)).one()
    assert attachment.content_type == "image/png"
    assert attachment.storage_path.endswith(".png")
    assert attachment.filename == "receipt.pdf"
    assert (world.uploads / attachment.storage_path).read_bytes() == PNG


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.exe", EXE, "We can only accept a PDF, JPEG or PNG file."),
        ("receipt.pdf", EXE, "We can only accept a PDF, JPEG or PNG file."),
        ("big.pdf", PDF + b"x" * 10_000, "The file is too large. It can be at most %(limit)s MB."),
        ("empty.pdf", b"", "The file is empty. Choose another file."),
    ],
)
def test_a_refused_file_stores_nothing_at_all(
    world: World, name: str, content: bytes, message: str
) -> None:
    events = world.count(Event)
    with pytest.raises(FormErrors) as refused:
        world.dispute(upload=Upload(name, io.BytesIO(content)), max_bytes=10_000)
    assert refused.value.errors["attachment"][0] == message
    assert _holds(world, "dispute") == {}
    assert (world.count(Event), world.count(Attachment), world.count(SensitiveNote)) == (
        events,
        0,
        0,
    )
    assert _stored_files(world) == []


def test_a_mistake_in_the_text_keeps_no_file_and_reports_every_field(world: World) -> None:
    with pytest.raises(FormErrors) as refused:
        world.dispute(reason="", explanation="  ", upload=Upload("bon.pdf", io.BytesIO(PDF)))
    assert set(refused.value.errors) == {"reason", "explanation"}
    assert _stored_files(world) == []
    assert world.count(Attachment) == 0


def test_the_explanation_may_have_2000_characters_counting_a_line_break_as_one(
    world: World,
) -> None:
    line = "x" * 99 + "\r\n"  # 100 typed characters, 101 sent
    with pytest.raises(FormErrors) as refused:
        world.dispute(explanation="y" * 2001)
    assert set(refused.value.errors) == {"explanation"}
    assert world.dispute(explanation=(line * 20).strip() + "x").added is False


def test_a_person_cannot_dispute_another_persons_case(world: World) -> None:
    with world.engine.connect() as conn:
        assert portal_care.own_case(conn, world.anna, world.portfolio.other_case) is None
        assert portal_care.own_case(conn, world.piet, world.portfolio.other_case) is not None
    with pytest.raises(InputError):
        world.dispute(world.portfolio.other_case)
    assert _holds(world, "dispute") == {}


def test_a_closed_case_cannot_be_disputed(world: World) -> None:
    ref = world.portfolio.utility_case
    move_case(
        world.engine,
        ref,
        Stage.CLOSED,
        on=world.on,
        actor="agent:t",
        reason="recalled",
        close_reason=CloseReason.RECALLED,
        at=AT,
    )
    with pytest.raises(NotAllowed):
        world.dispute(ref, upload=Upload("bon.pdf", io.BytesIO(PDF)))
    assert _stored_files(world) == []


# -- I need help --------------------------------------------------------------------------


def test_help_refers_the_person_and_holds_every_open_case_with_both_creditors(
    world: World,
) -> None:
    p = world.portfolio
    with world.engine.begin() as conn:
        state = portal_care.help_state(conn, world.anna)
        assert state.referral is None
        assert state.contact["municipality"] == "Utrecht"  # Anna lives at 3511 AB Utrecht
        result = portal_care.ask_for_help(
            conn, world.anna, consent=True, on=world.on, at=AT, client="127.0.0.1"
        )
    assert result["created"] is True
    assert sorted(result["cases_on_hold"]) == sorted([p.utility_case, p.telecom_case])
    assert _holds(world, "debt_counselling") == {p.utility_case: 1, p.telecom_case: 1}
    with world.engine.connect() as conn:
        referral = conn.execute(select(Referral.__table__)).one()
        creditors = set(
            conn.execute(
                select(Case.creditor_id)
                .join(Hold, Hold.case_id == Case.id)
                .where(Hold.kind == "debt_counselling")
            ).scalars()
        )
        consent = conn.execute(
            select(AuditEntry.__table__).where(AuditEntry.action == "consent_given")
        ).one()
    assert creditors == {p.utility_creditor, p.telecom_creditor}
    assert (referral.debtor_id, referral.created_by) == (world.anna, "debtor:portal")
    assert referral.contact["municipality"] == "Utrecht"
    assert (consent.subject_type, consent.subject_id) == ("referral", str(referral.id))
    requested = _events(world, "debt_help_requested")
    assert {e.case_id for e in requested} == {
        world.case_id(p.utility_case),
        world.case_id(p.telecom_case),
    }
    # Asking again changes nothing and says a referral is open.
    with world.engine.begin() as conn:
        again = portal_care.ask_for_help(conn, world.anna, consent=True, on=world.on, at=AT)
        assert portal_care.help_state(conn, world.anna).referral is not None
    assert again["created"] is False
    assert world.count(Referral) == 1
    assert _holds(world, "debt_counselling") == {p.utility_case: 1, p.telecom_case: 1}


def test_help_without_consent_refers_nobody(world: World) -> None:
    with world.engine.begin() as conn, pytest.raises(FormErrors) as refused:
        portal_care.ask_for_help(conn, world.anna, consent=False, on=world.on, at=AT)
    assert set(refused.value.errors) == {"consent"}
    assert world.count(Referral) == 0
    assert _holds(world, "debt_counselling") == {}


# -- circumstances ------------------------------------------------------------------------


def _disclose(world: World, *, consent: bool) -> portal_care.Disclosure:
    with world.engine.begin() as conn:
        return portal_care.disclose_circumstances(
            conn,
            world.anna,
            categories=["bereavement", "illness"],
            text=DISCLOSED,
            consent=consent,
            on=world.on,
            at=AT,
            client="127.0.0.1",
        )


def test_circumstances_without_consent_store_nothing(world: World) -> None:
    counts = [world.count(m) for m in (Event, Hold, AuditEntry)]
    with pytest.raises(FormErrors) as refused:
        _disclose(world, consent=False)
    assert set(refused.value.errors) == {"consent"}
    assert world.count(SensitiveNote) == 0
    assert [world.count(m) for m in (Event, Hold, AuditEntry)] == counts


def test_circumstances_with_consent_are_sealed_and_never_reach_events_holds_or_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    p = world.portfolio
    with caplog.at_level(logging.DEBUG):
        disclosure = _disclose(world, consent=True)
    assert sorted(disclosure.cases_on_hold) == sorted([p.utility_case, p.telecom_case])
    with world.engine.connect() as conn:
        note = conn.execute(select(SensitiveNote.__table__)).one()
        holds = list(conn.execute(select(Hold.reason)).scalars())
        audit = list(conn.execute(select(AuditEntry.purpose)).scalars())
    assert (note.kind, note.consent, note.person_id) == ("vulnerability", True, world.anna)
    assert "overleden" not in note.ciphertext
    assert "bereavement" not in note.ciphertext
    sealed = json.loads(open_sealed(note.ciphertext))
    assert (sealed["text"], sealed["categories"]) == (DISCLOSED, ["bereavement", "illness"])
    assert _holds(world, "vulnerability_review") == {p.utility_case: 1, p.telecom_case: 1}
    timeline = json.dumps(
        [[e.reason, e.before, e.after] for e in _events(world)], ensure_ascii=False
    )
    for secret in ("overleden", "ziekenhuis", "bereavement", "illness"):
        assert secret not in timeline
        assert secret not in " ".join(holds + audit)
        assert secret not in caplog.text
    disclosed = _events(world, "circumstances_disclosed")
    assert [e.reason for e in disclosed] == ["circumstances disclosed with consent"] * 2
    assert all(e.after == {"note": note.id} for e in disclosed)
    # A second disclosure adds a note but no second review hold.
    again = _disclose(world, consent=True)
    assert again.cases_on_hold == []
    assert _holds(world, "vulnerability_review") == {p.utility_case: 1, p.telecom_case: 1}


def test_circumstances_need_a_category_or_words(world: World) -> None:
    with world.engine.begin() as conn, pytest.raises(FormErrors) as refused:
        portal_care.disclose_circumstances(
            conn, world.anna, categories=[], text=" ", consent=True, on=world.on, at=AT
        )
    assert set(refused.value.errors) == {"categories"}
    with world.engine.begin() as conn, pytest.raises(FormErrors) as unknown:
        portal_care.disclose_circumstances(
            conn, world.anna, categories=["debts"], text="", consent=True, on=world.on, at=AT
        )
    assert set(unknown.value.errors) == {"categories"}
    assert world.count(SensitiveNote) == 0
