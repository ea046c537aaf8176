"""Structured payment references, in python-stdnum's vocabulary (compact, validate, format).

- ISO 11649 creditor reference ("RF" + 2 check digits + up to 21 alphanumerics): the
  check digits are ISO 7064 MOD 97-10 over the reference with "RF" moved to the end.
  The arithmetic is python-stdnum's (``stdnum.iso11649``, ``stdnum.iso7064.mod_97_10``);
  we only add creation and our error type.
- Belgian OGM/VCS (``+++123/4567/89012+++``): ``stdnum.be.ogm_vcs``.
"""

from __future__ import annotations

import re

from stdnum import iso11649
from stdnum.be import ogm_vcs
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_97_10

from respite.errors import ValidationError

__all__ = ["create_rf", "format_rf", "is_valid_rf", "validate_ogm", "validate_rf"]

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
