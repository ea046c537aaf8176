"""What a debtor does in the portal when something is wrong: dispute a debt (with evidence),
ask for free debt help, and tell us about circumstances that make paying hard.

Each goes through the same lifecycle rules as an agent's action (a hold placed with
:func:`respite.services.cases.place_hold_in`, so a hold on a closed case or a second hold of
one kind is refused there) and lands in the case timeline in the same transaction, with the
actor ``debtor:portal``. Every hold stops interest and every strategy step at once (the
nightly cycle skips held cases) and blocks every message (the contact guardrails check
holds), so "we stop reminders and interest" is true from the moment the page says it.

Free text a debtor types is personal and may be special-category data (health,
bereavement): it is never written to events, holds or logs, only sealed
(:func:`respite.adapters.crypto.seal`) into ``sensitive_notes``, which an erasure can reach
(the timeline is append-only). Events name the note by id.

- **Dispute**: a reason from a fixed list, an explanation (≤ 2,000 characters) sealed as a
  ``dispute`` note of the case, and an optional PDF/JPEG/PNG stored by
  :mod:`respite.adapters.files`; a ``dispute`` hold unless one is already active, in which
  case the new information is added to the open dispute (no second hold).
- **Help**: a referral to the municipal debt help for the person's address
  (:func:`respite.services.referrals.refer`: a ``debt_counselling`` hold on every open case
  with every creditor), only with the person's explicit consent to share their details.
- **Circumstances**: categories and text sealed as a ``vulnerability`` note, only with
  explicit consent (without it nothing at all is stored), and a ``vulnerability_review``
  hold on every open case of the person.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, func, insert, select

from respite.adapters import files
from respite.adapters.crypto import seal
from respite.adapters.db.models import (
    Attachment,
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Hold,
    SensitiveNote,
)
from respite.domain.lifecycle import HoldKind
from respite.domain.referral import Reason, ReasonCode
from respite.errors import InputError, NotAllowed, RuleCoverageError
from respite.rules.debt_help import repayment_term_months
from respite.services import audit, referrals
from respite.services.cases import place_hold_in
from respite.services.people import debtor_ids_of_person, open_case_ids_of_person
from respite.services.store import event_row

__all__ = [
    "ACTOR",
    "CIRCUMSTANCES",
    "DISPUTE_REASONS",
    "MAX_TEXT",
    "REPLY_DAYS",
    "Disclosure",
    "DisputeFiled",
    "FormErrors",
    "HelpState",
    "OwnCase",
    "Upload",
    "ask_for_help",
    "disclose_circumstances",
    "file_dispute",
    "has_disclosed",
    "help_state",
    "open_dispute_since",
    "own_case",
]

ACTOR = "debtor:portal"
MAX_TEXT = 2000
REPLY_DAYS = 14  # the promise on the confirmation page: an answer to a dispute within 14 days
DISPUTE_REASONS = ("already_paid", "not_recognised", "wrong_amount", "not_delivered", "other")
CIRCUMSTANCES = ("illness", "job_loss", "bereavement", "caring", "other")

# What the person agreed to, kept with the record of the consent (audit and sealed note).
HELP_CONSENT = "share my name, contact details and my debts with the debt help of my municipality"
CIRCUMSTANCES_CONSENT = (
    "use this to adapt how my debts are dealt with; only trained staff can read it; "
    "I can withdraw this"
)


class FormErrors(InputError):
    """Everything wrong with one form at once.

    ``errors`` maps a form field to an English message (a msgid of the portal's catalogs)
    and the values to put into it; nothing was stored.
    """

    def __init__(self, errors: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(message for message, _ in self.errors.values()))


@dataclass(frozen=True, slots=True)
class OwnCase:
    id: int
    reference: str
    creditor: str
    closed: bool
    currency: str
    open_cents: int


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as the browser sent it: the name it gave, and the bytes to read."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True, slots=True)
class DisputeFiled:
    reference: str
    added: bool  # True: added to a dispute that was already open (no second hold)
    since: date  # when the (open) dispute began
    note_id: int
    attachment_id: int | None


@dataclass(frozen=True, slots=True)
class HelpState:
    contact: dict[str, Any]  # Contact.as_dict() for the person's address, or the referral's
    referral: dict[str, Any] | None  # the person's open referral, if there is one


@dataclass(frozen=True, slots=True)
class Disclosure:
    note_id: int
    cases_on_hold: list[str] = field(default_factory=list)  # holds placed now
    already_on_hold: list[str] = field(default_factory=list)


# -- whose case --------------------------------------------------------------------------


def own_case(conn: Connection, person: int, reference: str) -> OwnCase | None:
    """The person's case ``reference`` (any creditor), or None when it is not theirs."""
    row = conn.execute(
        select(Case.id, Case.reference, Case.closed, Creditor.name)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.reference == reference, Case.debtor_id.in_(debtor_ids_of_person(conn, person)))
    ).first()
    if row is None:
        return None
    totals = conn.execute(
        select(
            func.min(Claim.currency),
            func.coalesce(
                func.sum(
                    Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents
                ),
                0,
            ),
        ).where(Claim.case_id == row.id)
    ).one()
    return OwnCase(
        id=int(row.id),
        reference=str(row.reference),
        creditor=str(row.name),
        closed=bool(row.closed),
        currency=str(totals[0] or "EUR"),
        open_cents=int(totals[1]),
    )


def _active_hold_start(conn: Connection, case_id: int, kind: HoldKind, on: date) -> date | None:
    start: date | None = conn.execute(
        select(Hold.start)
        .where(
            Hold.case_id == case_id,
            Hold.kind == kind.value,
            Hold.start <= on,
            (Hold.until.is_(None)) | (Hold.until >= on),
        )
        .limit(1)
    ).scalar()
    return start


def open_dispute_since(conn: Connection, case_id: int, on: date) -> date | None:
    """The day the case's active dispute hold began, or None when there is none on ``on``."""
    return _active_hold_start(conn, case_id, HoldKind.DISPUTE, on)


# -- dispute ------------------------------------------------------------------------------


def _clean_text(value: str) -> str:
    # Browsers send line breaks as CRLF: count what the person typed, not the transport.
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text.strip()


def _dispute_errors(reason: str, explanation: str) -> dict[str, tuple[str, Mapping[str, Any]]]:
    errors: dict[str, tuple[str, Mapping[str, Any]]] = {}
    if reason not in DISPUTE_REASONS:
        errors["reason"] = ("Choose the reason that fits best.", {})
    if not explanation:
        errors["explanation"] = ("Tell us in a few words what is wrong.", {})
    elif len(explanation) > MAX_TEXT:
        errors["explanation"] = (
            "Your explanation is too long: at most %(limit)s characters.",
            {"limit": MAX_TEXT},
        )
    return errors


_FILE_MESSAGES = {
    "empty": "The file is empty. Choose another file.",
    "too_large": "The file is too large. It can be at most %(limit)s MB.",
    "type": "We can only accept a PDF, JPEG or PNG file.",
}


def file_dispute(
    engine: Engine,
    person: int,
    reference: str,
    *,
    reason: str,
    explanation: str,
    upload: Upload | None,
    upload_dir: Path,
    max_upload_bytes: int,
    on: date,
    at: datetime,
) -> DisputeFiled:
    """Dispute the person's case ``reference``, or add to its open dispute.

    Raises :class:`FormErrors` (nothing stored, no file kept) for a missing or unknown
    reason, a missing or too long explanation, or a file that is empty, too large or not a
    PDF, JPEG or PNG by its content; ``InputError`` for a case that is not the person's and
    ``NotAllowed`` for a closed case.
    """
    with engine.connect() as conn:
        case = own_case(conn, person, reference)
    if case is None:
        raise InputError(f"no case with reference {reference!r}", field="case")
    if case.closed:
        raise NotAllowed(f"case {reference} is closed; a closed case cannot be disputed")
    explanation = _clean_text(explanation)
    errors = _dispute_errors(reason, explanation)
    stored = None
    if upload is not None:
        # Checked even when the text has a mistake, so that every problem shows at once.
        try:
            stored = files.store(
                upload.stream, upload_dir, str(case.id), max_bytes=max_upload_bytes
            )
        except files.FileRejected as exc:
            limit = max(1, round(max_upload_bytes / (1024 * 1024)))
            errors["attachment"] = (_FILE_MESSAGES[exc.reason], {"limit": limit})
    if errors:
        if stored is not None:
            files.discard(upload_dir, stored)
        raise FormErrors(errors)
    try:
        with engine.begin() as conn:
            return _record_dispute(
                conn, person, case, reason, explanation, upload, stored, on=on, at=at
            )
    except BaseException:
        if stored is not None:
            files.discard(upload_dir, stored)
        raise


def _record_dispute(
    conn: Connection,
    person: int,
    case: OwnCase,
    reason: str,
    explanation: str,
    upload: Upload | None,
    stored: files.StoredFile | None,
    *,
    on: date,
    at: datetime,
) -> DisputeFiled:
    # One dispute at a time per case, also when two requests race (PostgreSQL row lock;
    # SQLite serialises writers anyway).
    conn.execute(select(Case.id).where(Case.id == case.id).with_for_update()).one()
    since = open_dispute_since(conn, case.id, on)
    note_id = _insert_note(
        conn,
        person=person,
        case_id=case.id,
        kind="dispute",
        content={"reason": reason, "explanation": explanation},
        consent=False,  # handled to answer the dispute, not on consent
        at=at,
    )
    attachment_id = None
    if stored is not None:
        result = conn.execute(
            insert(Attachment).values(
                case_id=case.id,
                purpose="dispute",
                filename=files.safe_name(upload.filename if upload else None),
                content_type=stored.content_type,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
                storage_path=stored.relative_path,
                uploaded_at=at,
                uploaded_by=ACTOR,
            )
        )
        attachment_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    added = since is not None
    if not added:
        place_hold_in(
            conn,
            case.reference,
            HoldKind.DISPUTE,
            on=on,
            actor=ACTOR,
            reason=f"disputed by the debtor in the portal: {reason}",
            at=at,
        )
    kind = "dispute_added" if added else "dispute_filed"
    why = (
        f"the debtor added to the open dispute in the portal: {reason}"
        if added
        else f"the debtor disputed the debt in the portal: {reason}"
    )
    after: dict[str, Any] = {"reason": reason, "note": note_id, "attachment": attachment_id}
    if stored is not None:
        after["sha256"] = stored.sha256
    conn.execute(insert(Event).values(**event_row(case.id, on, at, ACTOR, kind, why, after)))
    return DisputeFiled(
        reference=case.reference,
        added=added,
        since=since or on,
        note_id=note_id,
        attachment_id=attachment_id,
    )


def _insert_note(
    conn: Connection,
    *,
    person: int,
    case_id: int | None,
    kind: str,
    content: Mapping[str, Any],
    consent: bool,
    at: datetime,
) -> int:
    result = conn.execute(
        insert(SensitiveNote).values(
            person_id=person,
            case_id=case_id,
            kind=kind,
            ciphertext=seal(json.dumps(content, ensure_ascii=False, sort_keys=True)),
            consent=consent,
            recorded_at=at,
            recorded_by=ACTOR,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _lock_person(conn: Connection, person: int) -> None:
    # Two tabs sending at once must not place two holds of one kind (PostgreSQL row lock).
    conn.execute(select(Debtor.id).where(Debtor.id == person).with_for_update()).one()


def has_disclosed(conn: Connection, person: int) -> bool:
    """The person told us about their circumstances in the portal (with consent)."""
    found = conn.execute(
        select(SensitiveNote.id)
        .where(
            SensitiveNote.person_id == person,
            SensitiveNote.kind == "vulnerability",
            SensitiveNote.recorded_by == ACTOR,
            SensitiveNote.consent.is_(True),
        )
        .limit(1)
    ).first()
    return found is not None


# -- I need help --------------------------------------------------------------------------


def help_state(conn: Connection, person: int) -> HelpState:
    """The debt-help contact for the person's address, and their open referral if any."""
    referral = referrals.open_referral_of(conn, person)
    if referral is not None:
        return HelpState(contact=dict(referral["contact"] or {}), referral=referral)
    # The same lookup the referral stores, so the page shows whom the details will go to.
    contact = referrals.contact_for(conn, person)
    return HelpState(contact=contact.as_dict(), referral=None)


def ask_for_help(
    conn: Connection,
    person: int,
    *,
    consent: bool,
    on: date,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any]:
    """Refer the person to debt help at their own request (idempotent).

    Without consent nothing happens (:class:`FormErrors` on ``consent``). The referral
    carries the person's request as its reason, with whatever the records show besides
    (debt not repayable in the term, several creditors, a vulnerability flagged). Returns
    :func:`referrals.refer`'s result (``created`` is False when a referral was already open).
    """
    if not consent:
        raise FormErrors(
            {"consent": ("Tick the box if you agree that we pass on your details.", {})}
        )
    _lock_person(conn, person)
    existing = referrals.open_referral_of(conn, person)
    if existing is not None:
        return {**existing, "created": False, "cases_on_hold": [], "already_on_hold": []}
    reasons = [
        Reason(
            ReasonCode.DEBTOR_REQUEST,
            "The debtor asked for debt help in the portal and agreed to share their "
            "name, contact details and debts with the debt-help service.",
        ),
        *_assessed_reasons(conn, person, on),
    ]
    result = referrals.refer(conn, person, on=on, reasons=reasons, actor=ACTOR, at=at)
    referral_id = result["referral_id"]
    case_ids = open_case_ids_of_person(conn, person)
    if case_ids:
        conn.execute(
            insert(Event),
            [
                event_row(
                    c,
                    on,
                    at,
                    ACTOR,
                    "debt_help_requested",
                    f"the debtor asked for debt help and consented to: {HELP_CONSENT}",
                    {"referral": referral_id, "consent": True},
                )
                for c in case_ids
            ],
        )
    audit.record(
        conn,
        actor=ACTOR,
        action="consent_given",
        subject_type="referral",
        subject_id=referral_id,
        purpose=f"portal /help: {HELP_CONSENT}",
        at=at,
        client=client,
    )
    return result


def _assessed_reasons(conn: Connection, person: int, on: date) -> list[Reason]:
    country = conn.execute(select(Debtor.country).where(Debtor.id == person)).scalar_one()
    try:
        months = repayment_term_months(country, on)
    except RuleCoverageError:
        return []  # no term in the country's rules: the person's request is reason enough
    return list(
        referrals.assess(
            conn,
            person,
            on=on,
            capacity_cents=referrals.latest_capacity_cents(conn, person, on=on),
            max_months=months,
            vulnerable=referrals.flagged_vulnerable(conn, person, on=on),
        )
    )


# -- circumstances ------------------------------------------------------------------------


def disclose_circumstances(
    conn: Connection,
    person: int,
    *,
    categories: Sequence[str],
    text: str,
    consent: bool,
    on: date,
    at: datetime,
    client: str | None = None,
) -> Disclosure:
    """Record what the person told us, sealed, and hold their open cases for review.

    Raises :class:`FormErrors` and stores nothing when there is no consent, no category
    and no text, an unknown category, or a text over :data:`MAX_TEXT` characters.
    """
    chosen = list(dict.fromkeys(categories))
    text = _clean_text(text)
    errors: dict[str, tuple[str, Mapping[str, Any]]] = {}
    if any(c not in CIRCUMSTANCES for c in chosen):
        errors["categories"] = ("Choose from the list.", {})
    elif not chosen and not text:
        errors["categories"] = ("Choose what is going on, or tell us in your own words.", {})
    if len(text) > MAX_TEXT:
        errors["text"] = (
            "Your explanation is too long: at most %(limit)s characters.",
            {"limit": MAX_TEXT},
        )
    if not consent:
        errors["consent"] = ("Without your consent we do not save anything.", {})
    if errors:
        raise FormErrors(errors)
    _lock_person(conn, person)
    note_id = _insert_note(
        conn,
        person=person,
        case_id=None,
        kind="vulnerability",
        content={
            "categories": chosen,
            "text": text,
            "consent": {"given_on": on.isoformat(), "to": CIRCUMSTANCES_CONSENT},
        },
        consent=True,
        at=at,
    )
    why = "circumstances disclosed with consent"
    placed, already = [], []
    case_ids = open_case_ids_of_person(conn, person)
    refs = dict(conn.execute(select(Case.id, Case.reference).where(Case.id.in_(case_ids))).all())
    for case_id in case_ids:
        reference = refs[case_id]
        if _active_hold_start(conn, case_id, HoldKind.VULNERABILITY_REVIEW, on) is not None:
            already.append(reference)
        else:
            place_hold_in(
                conn,
                reference,
                HoldKind.VULNERABILITY_REVIEW,
                on=on,
                actor=ACTOR,
                reason=f"{why} (note {note_id})",
                at=at,
            )
            placed.append(reference)
    if case_ids:
        conn.execute(
            insert(Event),
            [
                event_row(c, on, at, ACTOR, "circumstances_disclosed", why, {"note": note_id})
                for c in case_ids
            ],
        )
    audit.record(
        conn,
        actor=ACTOR,
        action="consent_given",
        subject_type="sensitive_note",
        subject_id=note_id,
        purpose=f"portal /circumstances: {CIRCUMSTANCES_CONSENT}",
        at=at,
        client=client,
    )
    return Disclosure(note_id=note_id, cases_on_hold=placed, already_on_hold=already)
