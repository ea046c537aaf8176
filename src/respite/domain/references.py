"""Structured payment references, in python-stdnum's vocabulary (compact, validate, format).

- ISO 11649 creditor reference ("RF" + 2 check digits + up to 21 alphanumerics): the
  check digits are ISO 7064 MOD 97-10 over the reference with "RF" moved to the end.
  The arithmetic is python-stdnum's (``stdnum.iso11649``, ``stdnum.iso7064.mod_97_10``);
  we only add creation and our error type.
- Belgian OGM/VCS (``+++123/4567/89012+++``): ``stdnum.be.ogm_vcs``.
- Dutch betalingskenmerk (Currence structured reference, 16 digits): the first digit is a
  check digit over the 15 that follow, weighted right to left 2, 4, 8, 5, 10, 9, 7, 3, 6,
  1, 2, 4, 8, 5, 10; check = 11 − (sum mod 11), where 10 → 1 and 11 → 0 (the publicly
  documented rule quoted in ../shared/data/references/betalingskenmerk_vectors.tsv;
  python-stdnum has no module for it).

Every case has all three, derived from its id (:func:`case_payment_references`), so a
letter, the portal and the bank import agree on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import iso11649
from stdnum.be import ogm_vcs
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_97_10

from respite.errors import ValidationError

__all__ = [
    "PaymentReferences",
    "case_payment_references",
    "create_betalingskenmerk",
    "create_ogm",
    "create_rf",
    "format_rf",
    "is_valid_betalingskenmerk",
    "is_valid_rf",
    "validate_betalingskenmerk",
    "validate_ogm",
    "validate_rf",
]

_MAX_RF_BODY = 21


def create_rf(text: str) -> str:
    """Create an ISO 11649 reference for ``text`` (spaces ignored, letters upper-cased).

    >>> create_rf("539007547034")
    'RF18539007547034'
    """
    body = re.sub(r"\s+", "", text).upper()
    if not body:
        raise ValidationError("the reference text is empty")
    if not body.isascii() or not body.isalnum():
        raise ValidationError(f"{text!r} may contain only the letters A–Z and digits")
    if len(body) > _MAX_RF_BODY:
        raise ValidationError(
            f"{text!r} has {len(body)} characters; an RF reference holds at most {_MAX_RF_BODY}"
        )
    check = mod_97_10.calc_check_digits(body + "RF")
    return validate_rf("RF" + check + body)


def validate_rf(reference: str) -> str:
    """The compact form of a valid RF reference, or a :class:`ValidationError`."""
    try:
        return str(iso11649.validate(reference))
    except StdnumError as exc:
        raise ValidationError(f"{reference!r} is not a valid RF reference: {exc}") from None


def is_valid_rf(reference: str) -> bool:
    return bool(iso11649.is_valid(reference))


def format_rf(reference: str) -> str:
    """Print form in blocks of four: ``RF18 5390 0754 7034``."""
    return str(iso11649.format(validate_rf(reference)))


def validate_ogm(reference: str) -> str:
    """The 12 digits of a valid Belgian structured communication (OGM/VCS)."""
    try:
        return str(ogm_vcs.validate(reference))
    except StdnumError as exc:
        raise ValidationError(f"{reference!r} is not a valid OGM/VCS reference: {exc}") from None


def create_ogm(number: int) -> str:
    """The Belgian structured communication for a number of at most 10 digits."""
    if not 0 <= number < 10**10:
        raise ValidationError(f"{number} does not fit the 10 digits of an OGM/VCS reference")
    body = f"{number:010d}"
    return validate_ogm(body + ogm_vcs.calc_check_digits(body))


_BK_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6, 1, 2, 4, 8, 5, 10)


def _betalingskenmerk_check(body: str) -> str:
    total = sum(int(d) * w for d, w in zip(reversed(body), _BK_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "1" if check == 10 else "0" if check == 11 else str(check)


def create_betalingskenmerk(number: int) -> str:
    """A 16-digit Dutch betalingskenmerk for a number of at most 15 digits.

    >>> create_betalingskenmerk(67931951601240)
    '1067931951601240'
    """
    if not 0 <= number < 10**15:
        raise ValidationError(f"{number} does not fit the 15 digits of a betalingskenmerk")
    body = f"{number:015d}"
    return _betalingskenmerk_check(body) + body


def validate_betalingskenmerk(reference: str) -> str:
    """The 16 digits of a valid betalingskenmerk, or a :class:`ValidationError`."""
    compact = re.sub(r"[\s.]", "", reference)
    if len(compact) != 16 or not compact.isdigit():
        raise ValidationError(f"{reference!r} is not a betalingskenmerk: it needs 16 digits")
    if _betalingskenmerk_check(compact[1:]) != compact[0]:
        raise ValidationError(f"{reference!r} is not a valid betalingskenmerk: check digit")
    return compact


def is_valid_betalingskenmerk(reference: str) -> bool:
    try:
        validate_betalingskenmerk(reference)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class PaymentReferences:
    """The structured references a debtor may quote for one case."""

    rf: str  # ISO 11649, for every SEPA payment (and the EPC QR code)
    betalingskenmerk: str  # NL
    ogm: str  # BE, +++ddd/dddd/ddddd+++

    def for_country(self, country: str) -> str:
        """The reference a debtor in ``country`` knows best (printed on letters)."""
        return {"NL": self.betalingskenmerk, "BE": self.ogm}.get(country.upper(), self.rf)


def case_payment_references(case_id: int) -> PaymentReferences:
    """All structured references of a case, derived from its id (stable, unique)."""
    return PaymentReferences(
        rf=create_rf(f"R{case_id:09d}"),
        betalingskenmerk=create_betalingskenmerk(case_id),
        ogm=f"+++{ogm_vcs.format(create_ogm(case_id))}+++",
    )
