"""Referral to debt counselling: when to refer, and whom the debtor is sent to.

A collector is the wrong helper for some debtors. Respite refers a person to (municipal)
debt counselling — NL *schuldhulpverlening* under the Wet gemeentelijke
schuldhulpverlening, BE *schuldbemiddeling* / *médiation de dettes* by an OCMW/CPAS or a
recognised centre, PL *nieodpłatne poradnictwo obywatelskie* — when any of these holds:

``not_repayable_in_term``
    the repayment capacity times the policy term (NL: the 18-month term of the
    *minnelijke schuldregeling* since 1 July 2023, NVVK) does not cover the total debt, or
    no capacity is known or it is zero;
``several_creditors``
    the person owes at least ``min_creditors`` creditors (a counsellor can reach a
    settlement with all of them at once; one collector cannot);
``vulnerable``
    a vulnerability has been flagged.

Each :class:`Reason` carries a plain-language explanation with the figures, because the
debtor, the counsellor and the creditor all read it.

:func:`find_contact` picks the debt-help contact for an address from a
:class:`DebtHelpTable` (loaded from ``rules/<cc>/debt_help.toml`` by
:mod:`respite.rules.debt_help`): a postcode range first, then the municipality's name,
else the national entry point with a note that the municipality must still be looked up.

Everything here is pure: no I/O and no clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from respite.domain.money import Money
from respite.errors import ValidationError

__all__ = [
    "Contact",
    "DebtHelpTable",
    "MunicipalContact",
    "Reason",
    "ReasonCode",
    "find_contact",
    "postcode_number",
    "referral_reasons",
]


class ReasonCode(StrEnum):
    NOT_REPAYABLE_IN_TERM = "not_repayable_in_term"
    SEVERAL_CREDITORS = "several_creditors"
    VULNERABLE = "vulnerable"
    AGENT = "agent"  # an agent's own judgement, given in words (``--reason``)
    DEBTOR_REQUEST = "debtor_request"  # the person asked for help in the portal, with consent


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a person is referred: a stable code and a plain-language explanation."""

    code: str
    explanation: str

    def __post_init__(self) -> None:
        if self.code not in {c.value for c in ReasonCode}:
            known = ", ".join(c.value for c in ReasonCode)
            raise ValidationError(f"unknown referral reason {self.code!r}; one of: {known}")
        if not self.explanation.strip():
            raise ValidationError("a referral reason needs an explanation", field="reason")

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "explanation": self.explanation}


def referral_reasons(
    *,
    total_debt: Money,
    capacity_per_month: Money | None,
    max_months: int,
    creditors: int,
    vulnerable: bool,
    min_creditors: int = 3,
) -> tuple[Reason, ...]:
    """The reasons to refer a person to debt counselling; empty when there is none.

    ``total_debt`` is everything the person still owes across their open cases,
    ``capacity_per_month`` what they can pay each month (``None`` when unknown),
    ``max_months`` the policy term, ``creditors`` the number of distinct creditors.
    """
    if max_months <= 0:
        raise ValidationError(f"the term must be at least one month, got {max_months}")
    if creditors < 0:
        raise ValidationError(f"the number of creditors cannot be negative, got {creditors}")
    if min_creditors < 2:
        raise ValidationError(
            f"several creditors means at least 2, got a threshold of {min_creditors}"
        )
    if total_debt.is_negative:
        raise ValidationError(f"the total debt cannot be negative, got {total_debt}")
    reasons: list[Reason] = []
    cur = total_debt.currency.code
    if total_debt.is_positive:
        if capacity_per_month is None or not capacity_per_month.is_positive:
            known = "is not known" if capacity_per_month is None else "is zero"
            reasons.append(
                Reason(
                    ReasonCode.NOT_REPAYABLE_IN_TERM,
                    f"The repayment capacity {known}, so the total debt of {cur} "
                    f"{total_debt} cannot be repaid from income within {max_months} months.",
                )
            )
        else:
            if capacity_per_month.currency is not total_debt.currency:
                raise ValidationError(
                    f"capacity in {capacity_per_month.currency.code} and debt in {cur}: "
                    "one currency please"
                )
            reach = capacity_per_month.times(Decimal(max_months))
            if reach < total_debt:
                reasons.append(
                    Reason(
                        ReasonCode.NOT_REPAYABLE_IN_TERM,
                        f"At {cur} {capacity_per_month} a month, {max_months} months repay "
                        f"{cur} {reach}, less than the total debt of {cur} {total_debt} "
                        f"(short by {cur} {total_debt - reach}).",
                    )
                )
    if creditors >= min_creditors:
        reasons.append(
            Reason(
                ReasonCode.SEVERAL_CREDITORS,
                f"The person owes {creditors} creditors (a referral is advised from "
                f"{min_creditors}); a debt counsellor can settle with all of them at once.",
            )
        )
    if vulnerable:
        reasons.append(
            Reason(
                ReasonCode.VULNERABLE,
                "A vulnerability has been flagged; a debt counsellor can give help that a "
                "collector cannot.",
            )
        )
    return tuple(reasons)


# -- whom to refer to ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    """Where the debtor gets help; at least a website, a phone number or a note.

    ``fallback`` is true for the national entry point used when the municipality is not
    in the table: the note then says that the municipality should be looked up.
    """

    municipality: str
    organisation: str
    website: str | None
    phone: str | None
    note: str
    source: str
    as_of: str = ""  # the date the source was checked/published (ISO), for the reader
    fallback: bool = False

    def __post_init__(self) -> None:
        if not (self.website or self.phone or self.note.strip()):
            raise ValidationError(
                f"the contact for {self.municipality or self.organisation} needs a website, "
                "a phone number or a note"
            )
        if not self.source.strip():
            raise ValidationError(
                f"the contact for {self.municipality or self.organisation} needs a source"
            )

    def as_dict(self) -> dict[str, object]:
        return {
            "municipality": self.municipality,
            "organisation": self.organisation,
            "website": self.website,
            "phone": self.phone,
            "note": self.note,
            "source": self.source,
            "as_of": self.as_of,
            "fallback": self.fallback,
        }


@dataclass(frozen=True, slots=True)
class MunicipalContact:
    """One row: the postcode ranges (inclusive) and names that lead to one contact."""

    contact: Contact
    postcodes: tuple[tuple[int, int], ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DebtHelpTable:
    """The debt-help contacts of one country; ``postcode_digits`` leading digits are used."""

    country: str
    national: Contact
    rows: tuple[MunicipalContact, ...] = ()
    postcode_digits: int = 4
    origin: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            for low, high in row.postcodes:
                if low > high:
                    raise ValidationError(
                        f"{self.origin}: postcode range {low}-{high} of "
                        f"{row.contact.municipality} ends before it starts"
                    )
        for i, first in enumerate(self.rows):
            for second in self.rows[i + 1 :]:
                for a in first.postcodes:
                    for b in second.postcodes:
                        if a[0] <= b[1] and b[0] <= a[1]:
                            raise ValidationError(
                                f"{self.origin}: postcode ranges of "
                                f"{first.contact.municipality} and "
                                f"{second.contact.municipality} overlap"
                            )


def postcode_number(postcode: str | None, digits: int) -> int | None:
    """The leading ``digits`` digits of a postcode as a number (``"1012 AB"`` → 1012)."""
    if not postcode:
        return None
    found = re.sub(r"\D", "", postcode)
    if len(found) < digits:
        return None
    return int(found[:digits])


def find_contact(
    table: DebtHelpTable, postcode: str | None, country: str, *, city: str | None = None
) -> Contact:
    """The debt-help contact for an address in ``country``.

    A postcode inside a row's range wins, then the city's name; otherwise the national
    contact, marked ``fallback`` with a note that the municipality should be looked up.
    """
    if country.strip().upper() != table.country:
        raise ValidationError(
            f"the debt-help table is for {table.country}, not for {country!r}", field="country"
        )
    number = postcode_number(postcode, table.postcode_digits)
    if number is not None:
        for row in table.rows:
            if any(low <= number <= high for low, high in row.postcodes):
                return row.contact
    if city:
        wanted = _fold(city)
        for row in table.rows:
            if wanted in {_fold(n) for n in (row.contact.municipality, *row.names)}:
                return row.contact
    where = " ".join(part for part in (postcode or "", city or "") if part).strip()
    look_up = (
        f"The municipality for {where} is not in the table: look up its debt-help desk "
        "(the national contact can tell which one)."
        if where
        else "The address is incomplete: look up the municipality's debt-help desk "
        "(the national contact can tell which one)."
    )
    national = table.national
    note = f"{national.note} {look_up}".strip()
    return Contact(
        municipality="",
        organisation=national.organisation,
        website=national.website,
        phone=national.phone,
        note=note,
        source=national.source,
        as_of=national.as_of,
        fallback=True,
    )


def _fold(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_name.lower()).strip()
