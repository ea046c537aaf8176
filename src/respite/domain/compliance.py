"""Compliance settings the cycle and the legal screening rely on.

**Wki registration.** Under the Wet kwaliteit incassodienstverlening (in force 1 April
2024; existing providers registered by 1 April 2025) nobody may collect out of court, on
behalf of others or on purchased claims, from a *natural person resident in the
Netherlands* without being entered in the Justis register; a registration runs one year
and is renewed yearly (Justis FAQ https://justis.nl/service-contact/veelgestelde-vragen/
veelgestelde-vragen-over-screening-incassodienstverlening; Inspectie JenV
https://www.inspectie-jenv.nl/toezichtgebieden/toezicht-op-de-incassomarkt).
:func:`collection_allowed` answers, for one debtor on one business date, whether the agency
may act. Respite's debtor kinds are ``consumer`` and ``business``; a sole trader filed as
``business`` is a natural person under the Wki too, so a creditor should file one as a
consumer when in doubt.

**Social-collection commitments.** A creditor records the commitments it has chosen in
its policy (``policy["commitments"]``, a list of the ids below); :func:`parse_commitments`
validates them. The ids come from the Schuldeiserscoalitie's five best practices for a
social collection policy (https://schuldeiserscoalitie.nl/5-best-practices-voor-een-
sociaal-incassobeleid/) and the Wki quality rules (Regeling kwaliteit
incassodienstverlening, Stcrt. 2024, 10329: communication at B1 level). The seven steps
of the Afsprakenkader Sociaal Incasseren (25 March 2025) were not found in a source, so
they are not encoded.

Pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

from respite.errors import ValidationError

__all__ = [
    "COMMITMENTS",
    "Commitments",
    "Permission",
    "WkiRegistration",
    "collection_allowed",
    "parse_commitments",
]

SCHULDEISERSCOALITIE = (
    "https://schuldeiserscoalitie.nl/5-best-practices-voor-een-sociaal-incassobeleid/"
)

COMMITMENTS: Final = MappingProxyType(
    {
        "personal_contact_before_summons": (
            "A personal contact attempt before a summons: a legal handover needs an "
            f"earlier call with the debtor (source: {SCHULDEISERSCOALITIE})"
        ),
        "no_bank_account_attachment": (
            f"No attachment of the debtor's bank account (source: {SCHULDEISERSCOALITIE})"
        ),
        "b1_messages": (
            "Messages written at language level B1, tested with users (source: "
            f"{SCHULDEISERSCOALITIE}; Regeling kwaliteit incassodienstverlening, Stcrt. "
            "2024, 10329)"
        ),
        "other_arrears_in_plans": (
            "Other arrears are taken into account when a plan is tested, and for a referral "
            f"to debt help (source: {SCHULDEISERSCOALITIE})"
        ),
        "no_costs_on_plan": (
            "No further collection costs once a payment plan is agreed (creditor's own "
            "choice; Respite never charges costs for a plan or re-plan)"
        ),
        "max_plan_months": (
            "A maximum plan duration agreed with clients, written max_plan_months:<n> "
            f"(source: {SCHULDEISERSCOALITIE})"
        ),
    }
)
"""Known commitment ids and what each means, with its source."""


@dataclass(frozen=True, slots=True)
class Commitments:
    """The commitments a creditor chose (validated)."""

    ids: frozenset[str] = frozenset()
    max_plan_months: int | None = None

    def __contains__(self, commitment: object) -> bool:
        return commitment in self.ids

    def as_list(self) -> list[str]:
        out = sorted(self.ids - {"max_plan_months"})
        if self.max_plan_months is not None:
            out.append(f"max_plan_months:{self.max_plan_months}")
        return out


def parse_commitments(value: object, *, field: str = "commitments") -> Commitments:
    """Validate ``policy["commitments"]``: a list of known ids (``None``: none chosen)."""
    if value is None:
        return Commitments()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError("must be a list of commitment ids", field=field)
    ids: set[str] = set()
    months: int | None = None
    for item in value:
        if not isinstance(item, str):
            raise ValidationError(f"a commitment id is a text, got {item!r}", field=field)
        name, _, arg = item.strip().partition(":")
        if name not in COMMITMENTS:
            known = ", ".join(sorted(COMMITMENTS))
            raise ValidationError(f"unknown commitment {item!r} (known: {known})", field=field)
        if name == "max_plan_months":
            if not arg.isdigit() or int(arg) <= 0:
                raise ValidationError(
                    f"write max_plan_months:<months>, e.g. max_plan_months:24; got {item!r}",
                    field=field,
                )
            months = int(arg)
        elif arg:
            raise ValidationError(f"{name} takes no value, got {item!r}", field=field)
        ids.add(name)
    return Commitments(frozenset(ids), months)


@dataclass(frozen=True, slots=True)
class WkiRegistration:
    """The agency's entry in the Justis register of collection agencies."""

    number: str
    valid_until: date

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise ValidationError("the registration number must not be blank", field="wki")


@dataclass(frozen=True, slots=True)
class Permission:
    allowed: bool
    reason: str
    rule: str = "wki_registration"


def collection_allowed(
    registration: WkiRegistration | None,
    *,
    debtor_kind: str,
    debtor_country: str,
    on: date,
) -> Permission:
    """May the agency take a collection action against this debtor on ``on``?

    Only an NL-resident natural person (debtor kind ``consumer``, country ``NL``) needs
    the registration; for every other debtor the answer is yes.
    """
    if debtor_kind != "consumer" or debtor_country.strip().upper() != "NL":
        return Permission(True, "the Wki register applies to natural persons in NL only")
    if registration is None:
        return Permission(
            False,
            "the agency has no registration in the Wki register (Justis): no collection "
            "action on a natural person in the Netherlands",
        )
    if on > registration.valid_until:
        return Permission(
            False,
            f"the agency's Wki registration {registration.number} expired on "
            f"{registration.valid_until.isoformat()}: renew it before collecting from a "
            "natural person in the Netherlands",
        )
    return Permission(
        True,
        f"Wki registration {registration.number} valid until "
        f"{registration.valid_until.isoformat()}",
    )
