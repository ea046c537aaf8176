"""Compliance settings from the environment, and the Wki check the nightly cycle applies.

The agency's entry in the Dutch register of collection agencies (Wki, kept by Justis):

====================================  ======================================================
``RESPITE_AGENCY_WKI_REGISTRATION``   the registration number; ``none`` = not registered
``RESPITE_AGENCY_WKI_VALID_UNTIL``    last day of the registration (YYYY-MM-DD); required
                                      with a real number (a registration runs one year)
====================================  ======================================================

Default: when neither is set *and* the agency runs under the demo identity of
:mod:`respite.services.agency` (no ``RESPITE_AGENCY_NAME/IBAN/BIC/CREDITOR_ID`` set), the
demo registration ``WKI-DEMO-0001`` valid until 2099-12-31 applies, so that the demo and
the tests run as a registered agency. An installation with its own identity and no
registration is *not registered*: it may not act against natural persons in the
Netherlands (:func:`respite.domain.compliance.collection_allowed`).

In the cycle, a case the agency may not act on is treated like a held night for
collection: no costs, no strategy step, no message; interest still accrues (it is the
creditor's right, not a collection action). The case gets one ``compliance_blocked`` event
per registration state, not one per night.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from respite.adapters.db.models import Case, Debtor, Event
from respite.domain.compliance import Permission, WkiRegistration, collection_allowed
from respite.errors import ValidationError
from respite.services.agency import ENV_BIC, ENV_CREDITOR_ID, ENV_IBAN, ENV_NAME
from respite.services.store import chunks, event_row

__all__ = [
    "DEMO_REGISTRATION",
    "ENV_WKI_REGISTRATION",
    "ENV_WKI_VALID_UNTIL",
    "blocked_cases",
    "case_collection_allowed",
    "wki_registration_from_env",
]

ENV_WKI_REGISTRATION = "RESPITE_AGENCY_WKI_REGISTRATION"
ENV_WKI_VALID_UNTIL = "RESPITE_AGENCY_WKI_VALID_UNTIL"
DEMO_REGISTRATION = WkiRegistration("WKI-DEMO-0001", date(2099, 12, 31))
BLOCKED = "compliance_blocked"
ACTOR = "compliance"


def wki_registration_from_env(env: Mapping[str, str] | None = None) -> WkiRegistration | None:
    """The agency's Wki registration from the environment (see the module docstring)."""
    source = os.environ if env is None else env

    def get(key: str) -> str | None:
        value = source.get(key)
        return None if value is None or not value.strip() else value.strip()

    number, until = get(ENV_WKI_REGISTRATION), get(ENV_WKI_VALID_UNTIL)
    if number is not None and number.lower() == "none":
        return None
    if number is None:
        demo_identity = all(get(k) is None for k in (ENV_NAME, ENV_IBAN, ENV_BIC, ENV_CREDITOR_ID))
        if until is None and demo_identity:
            return DEMO_REGISTRATION
        if until is not None:
            raise ValidationError(
                f"a valid-until date without a registration number; set {ENV_WKI_REGISTRATION}",
                field=ENV_WKI_VALID_UNTIL,
            )
        return None
    if until is None:
        raise ValidationError(
            f"give the registration's last day as YYYY-MM-DD in {ENV_WKI_VALID_UNTIL}",
            field=ENV_WKI_VALID_UNTIL,
        )
    try:
        valid_until = date.fromisoformat(until)
    except ValueError:
        raise ValidationError(
            f"expected a date as YYYY-MM-DD, got {until!r}", field=ENV_WKI_VALID_UNTIL
        ) from None
    return WkiRegistration(number, valid_until)


def case_collection_allowed(
    conn: Connection, case_id: int, on: date, *, registration: WkiRegistration | None = None
) -> Permission:
    """May the agency act on this case on ``on`` (Wki)?"""
    row = conn.execute(
        select(Debtor.kind, Debtor.country)
        .join(Case, Case.debtor_id == Debtor.id)
        .where(Case.id == case_id)
    ).one()
    reg = wki_registration_from_env() if registration is None else registration
    return collection_allowed(reg, debtor_kind=row.kind, debtor_country=row.country, on=on)


def blocked_cases(
    conn: Connection,
    cases: Mapping[int, Mapping[str, Any]],
    on: date,
    at: datetime,
    *,
    registration: WkiRegistration | None = None,
    env: Mapping[str, str] | None = None,
) -> set[int]:
    """The cases of a cycle batch the agency may not act on tonight (Wki).

    ``cases`` maps case id to a row with ``debtor_kind``. With a valid registration this
    reads nothing. Otherwise every NL consumer case is blocked and gets a
    ``compliance_blocked`` event, once per registration state.
    """
    reg = registration if registration is not None else wki_registration_from_env(env)
    if collection_allowed(reg, debtor_kind="consumer", debtor_country="NL", on=on).allowed:
        return set()
    consumers = sorted(int(i) for i, c in cases.items() if c.get("debtor_kind") == "consumer")
    blocked: dict[int, Permission] = {}
    for chunk in chunks(consumers, 2000):
        for case_id, country in conn.execute(
            select(Case.id, Debtor.country)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.id.in_(chunk))
        ):
            permission = collection_allowed(
                reg, debtor_kind="consumer", debtor_country=country, on=on
            )
            if not permission.allowed:
                blocked[int(case_id)] = permission
    if not blocked:
        return set()
    state = "none" if reg is None else f"{reg.number}:{reg.valid_until.isoformat()}"
    recorded: set[int] = set()
    for chunk in chunks(sorted(blocked), 2000):
        for case_id, after in conn.execute(
            select(Event.case_id, Event.after).where(
                Event.case_id.in_(chunk), Event.kind == BLOCKED
            )
        ):
            if isinstance(after, Mapping) and after.get("registration") == state:
                recorded.add(int(case_id))
    rows = [
        event_row(
            case_id,
            on,
            at,
            ACTOR,
            BLOCKED,
            permission.reason,
            {"rule": permission.rule, "registration": state},
        )
        for case_id, permission in sorted(blocked.items())
        if case_id not in recorded
    ]
    if rows:
        conn.execute(insert(Event), rows)
    return set(blocked)
