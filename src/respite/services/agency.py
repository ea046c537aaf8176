"""The agency's own bank identity, and where a debtor pays for a case.

The agency collects into one account (its client-money account) and initiates SEPA files
from it. Its identity comes from the environment so that each installation sets its own:

================================  ==========================================================
``RESPITE_AGENCY_NAME``           account holder name (≤ 70 characters, SEPA limit)
``RESPITE_AGENCY_IBAN``           IBAN of the collection account (checked with schwifty)
``RESPITE_AGENCY_BIC``            BIC of its bank (8 or 11 characters)
``RESPITE_AGENCY_CREDITOR_ID``    SEPA creditor identifier (EPC262-08 / AT-02), e.g.
                                  ``NL69ZZZ123456780000``; check digits ISO 7064 mod 97-10
================================  ==========================================================

The defaults are a demo identity: every value is well-formed and passes its checksum, none
belongs to a real agency. ``NL91ABNA0417164300`` is the example IBAN widely used in Dutch
bank documentation; ``NL69ZZZ123456780000`` is built from the made-up KvK number 12345678
and sequence 0000, its check digits ``69`` computed with ``stdnum.eu.at_02`` (the AT-02 rule:
mod 97-10 over the national part + country code + ``00``, business code excluded).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import Connection, func, select
from stdnum.eu import at_02
from stdnum.exceptions import ValidationError as StdnumError

from respite.adapters.db.models import Case, Claim, Creditor, Debtor
from respite.domain.money import Currency, Money
from respite.domain.references import case_payment_references
from respite.errors import InputError, ValidationError

__all__ = [
    "DEFAULT_BIC",
    "DEFAULT_CREDITOR_ID",
    "DEFAULT_IBAN",
    "DEFAULT_NAME",
    "Agency",
    "agency_from_env",
    "case_payment_details",
    "clean_bic",
    "clean_iban",
]

DEFAULT_NAME = "Respite Demo Incasso"
DEFAULT_IBAN = "NL91ABNA0417164300"
DEFAULT_BIC = "ABNANL2A"
DEFAULT_CREDITOR_ID = "NL69ZZZ123456780000"

ENV_NAME = "RESPITE_AGENCY_NAME"
ENV_IBAN = "RESPITE_AGENCY_IBAN"
ENV_BIC = "RESPITE_AGENCY_BIC"
ENV_CREDITOR_ID = "RESPITE_AGENCY_CREDITOR_ID"


def clean_iban(value: str, field: str) -> str:
    """The IBAN in compact form; a wrong one is an input error naming ``field``."""
    try:
        return str(IBAN(value.strip()).compact)
    except SchwiftyException as exc:
        raise ValidationError(f"not a valid IBAN ({value!r}): {exc}", field=field) from None


def clean_bic(value: str, field: str) -> str:
    """The BIC (8 or 11 characters); a wrong one is an input error naming ``field``."""
    try:
        return str(BIC(value.strip()).compact)
    except SchwiftyException as exc:
        raise ValidationError(f"not a valid BIC ({value!r}): {exc}", field=field) from None


def _clean_creditor_id(value: str, field: str) -> str:
    try:
        return str(at_02.validate(value))
    except StdnumError as exc:
        raise ValidationError(
            f"not a valid SEPA creditor identifier ({value!r}): {exc}", field=field
        ) from None


@dataclass(frozen=True, slots=True)
class Agency:
    """Who collects: the account holder, its account and its SEPA creditor identifier."""

    name: str
    iban: str
    bic: str
    creditor_id: str

    def __post_init__(self) -> None:
        name = self.name.strip()
        if not name or len(name) > 70:
            raise ValidationError(
                f"the agency name must be 1 to 70 characters, got {len(name)}", field=ENV_NAME
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "iban", clean_iban(self.iban, ENV_IBAN))
        object.__setattr__(self, "bic", clean_bic(self.bic, ENV_BIC))
        object.__setattr__(
            self, "creditor_id", _clean_creditor_id(self.creditor_id, ENV_CREDITOR_ID)
        )


def agency_from_env(env: Mapping[str, str] | None = None) -> Agency:
    """The agency of the environment (``os.environ`` by default), demo defaults otherwise."""
    source = os.environ if env is None else env

    def get(key: str, default: str) -> str:
        value = source.get(key)
        return default if value is None or not value.strip() else value

    return Agency(
        name=get(ENV_NAME, DEFAULT_NAME),
        iban=get(ENV_IBAN, DEFAULT_IBAN),
        bic=get(ENV_BIC, DEFAULT_BIC),
        creditor_id=get(ENV_CREDITOR_ID, DEFAULT_CREDITOR_ID),
    )


def case_payment_details(
    conn: Connection, case_reference: str, *, agency: Agency | None = None
) -> dict[str, Any]:
    """What a letter or the portal prints so that the debtor can pay this case.

    The open amount is the sum of the case's open principal, interest and costs as booked.
    ``epc_payload`` is the EPC069-12 QR text for exactly that amount with the case's RF
    reference; it is ``None`` (and ``epc_unavailable`` says why) when the case owes nothing
    or is not in euro: a QR code can only ask for a euro amount above zero.
    """
    from respite.adapters.bank.epc_qr import epc_payload

    agency = agency or agency_from_env()
    case = conn.execute(
        select(Case.id, Case.reference, Case.closed, Creditor.name, Debtor.country)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.reference == case_reference)
    ).first()
    if case is None:
        raise InputError(f"no case with reference {case_reference!r}", field="case")
    row = conn.execute(
        select(
            func.min(Claim.currency),
            func.max(Claim.currency),
            func.coalesce(
                func.sum(
                    Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents
                ),
                0,
            ),
        ).where(Claim.case_id == case.id)
    ).one()
    if row[0] is None:
        raise InputError(f"case {case_reference} has no claims", field="case")
    if row[0] != row[1]:
        raise ValidationError(f"case {case_reference} mixes currencies {row[0]} and {row[1]}")
    currency = Currency.of(row[0])
    open_amount = Money.from_minor_units(int(row[2]), currency)
    refs = case_payment_references(int(case.id))
    payload: str | None = None
    unavailable: str | None = None
    if currency.code != "EUR":
        unavailable = f"an EPC QR code is for euro only; this case is in {currency.code}"
    elif not open_amount.is_positive:
        unavailable = "nothing is open on this case"
    else:
        payload = epc_payload(
            name=agency.name,
            iban=agency.iban,
            bic=agency.bic,
            amount=open_amount,
            reference=refs.rf,
        )
    return {
        "case": case.reference,
        "creditor": case.name,
        "closed": bool(case.closed),
        "currency": currency.code,
        "open_amount": str(open_amount),
        "open_amount_cents": open_amount.minor_units,
        "rf": refs.rf,
        "betalingskenmerk": refs.betalingskenmerk,
        "ogm": refs.ogm,
        "reference_for_debtor": refs.for_country(case.country or ""),
        "beneficiary": {"name": agency.name, "iban": agency.iban, "bic": agency.bic},
        "epc_payload": payload,
        "epc_unavailable": unavailable,
    }
