"""EPC QR codes (EPC069-12): a SEPA credit transfer a banking app can read from paper.

The payload is text, one element per line (LF), in this order: service tag ``BCD``,
version ``002``, character set (``1`` = UTF-8 … ``8`` = ISO 8859-15), identification
``SCT``, the beneficiary's BIC (optional in version 002 within the EEA), name (≤ 70),
IBAN, amount ``EUR<amount>`` (0.01 … 999 999 999.99, a ``.`` as the decimal separator, no
trailing zeros), purpose code (4 characters, optional), structured remittance (an ISO 11649
RF reference, ≤ 35) *or* unstructured remittance text (≤ 140), never both. Trailing empty
elements are left out; the payload is at most 331 bytes and the code uses error correction
level M. segno (``segno.helpers.make_epc_qr``) draws the code; this module builds and checks
the same payload itself so that letters and the portal can print and test the exact text.
"""

from __future__ import annotations

import io
from decimal import Decimal

import segno
from segno import helpers

from respite.domain.money import Money
from respite.domain.references import validate_rf
from respite.errors import ValidationError

__all__ = ["ENCODINGS", "MAX_AMOUNT", "epc_payload", "epc_qr_png", "epc_qr_svg"]

# Character-set numbers of EPC069-12, in order (1 = UTF-8).
ENCODINGS = (
    "utf-8",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-4",
    "iso-8859-5",
    "iso-8859-7",
    "iso-8859-10",
    "iso-8859-15",
)
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
MAX_PAYLOAD_BYTES = 331


def _charset(encoding: str) -> int:
    try:
        return ENCODINGS.index(encoding.lower()) + 1
    except ValueError:
        raise ValidationError(
            f"unknown EPC character set {encoding!r} (use one of {', '.join(ENCODINGS)})",
            field="encoding",
        ) from None


def _amount_line(amount: Money) -> str:
    if amount.currency.code != "EUR":
        raise ValidationError(
            f"an EPC QR code asks for euro only, not {amount.currency.code}", field="amount"
        )
    if not MIN_AMOUNT <= amount.amount <= MAX_AMOUNT:
        raise ValidationError(
            f"an EPC QR amount must be between {MIN_AMOUNT} and {MAX_AMOUNT} EUR, got {amount}",
            field="amount",
        )
    text = f"{amount.amount:.2f}".rstrip("0").rstrip(".")
    return f"EUR{text}"


def _fields(
    *,
    name: str,
    iban: str,
    amount: Money,
    reference: str | None,
    text: str | None,
    bic: str | None,
    purpose: str | None,
) -> tuple[str, str, str, str, str | None, str | None, str]:
    name = name.strip()
    iban = iban.replace(" ", "").upper()
    bic = (bic or "").strip().upper()
    purpose = (purpose or "").strip().upper()
    reference = reference.replace(" ", "").upper() if reference else None
    text = text.strip() if text else None
    if not 0 < len(name) <= 70:
        raise ValidationError(
            f"the beneficiary name must be 1 to 70 characters: {name!r}", field="name"
        )
    if not 4 < len(iban) <= 34 or not iban[:2].isalpha() or not iban.isalnum():
        raise ValidationError(f"not an IBAN: {iban!r}", field="iban")
    if bic and len(bic) not in (8, 11):
        raise ValidationError(f"a BIC has 8 or 11 characters, got {bic!r}", field="bic")
    if purpose and (len(purpose) != 4 or not purpose.isalnum()):
        raise ValidationError(f"a purpose code has 4 characters, got {purpose!r}", field="purpose")
    if (reference is None) == (text is None):
        raise ValidationError(
            "give either a structured reference or a remittance text, not both or neither",
            field="reference",
        )
    if reference is not None:
        if reference.startswith("RF"):
            reference = validate_rf(reference)
        if len(reference) > 35:
            raise ValidationError(
                f"a structured reference has at most 35 characters: {reference!r}"
            )
    if text is not None and len(text) > 140:
        raise ValidationError(f"remittance text has at most 140 characters, got {len(text)}")
    return name, iban, _amount_line(amount), bic, reference, text, purpose


def epc_payload(
    *,
    name: str,
    iban: str,
    amount: Money,
    reference: str | None = None,
    text: str | None = None,
    bic: str | None = None,
    purpose: str | None = None,
    encoding: str = "utf-8",
) -> str:
    """The EPC069-12 version 002 payload text (lines joined by LF, no trailing separator).

    ``reference`` (an RF creditor reference, validated) or ``text``, not both. The payload,
    encoded in ``encoding`` (character set line), must fit in 331 bytes.
    """
    name, iban, amount_line, bic, reference, text, purpose = _fields(
        name=name,
        iban=iban,
        amount=amount,
        reference=reference,
        text=text,
        bic=bic,
        purpose=purpose,
    )
    charset = _charset(encoding)
    lines = ["BCD", "002", str(charset), "SCT", bic, name, iban, amount_line, purpose]
    lines.append(reference or "")
    if text is not None:
        lines.append(text)
    while lines[-1] == "":
        lines.pop()
    payload = "\n".join(lines)
    try:
        size = len(payload.encode(ENCODINGS[charset - 1]))
    except UnicodeEncodeError:
        raise ValidationError(
            f"the payload has characters that {encoding} cannot encode (use utf-8)",
            field="encoding",
        ) from None
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationError(f"the EPC payload is {size} bytes, more than {MAX_PAYLOAD_BYTES}")
    return payload


def _qr(
    *,
    name: str,
    iban: str,
    amount: Money,
    reference: str | None,
    text: str | None,
    bic: str | None,
    purpose: str | None,
    encoding: str,
) -> segno.QRCode:
    # Validate (and normalise) with the same rules as the payload, then let segno draw.
    epc_payload(
        name=name,
        iban=iban,
        amount=amount,
        reference=reference,
        text=text,
        bic=bic,
        purpose=purpose,
        encoding=encoding,
    )
    name, iban, _, bic_, reference, text, purpose_ = _fields(
        name=name,
        iban=iban,
        amount=amount,
        reference=reference,
        text=text,
        bic=bic,
        purpose=purpose,
    )
    return helpers.make_epc_qr(
        name=name,
        iban=iban,
        amount=amount.amount,
        text=text,
        reference=reference,
        bic=bic_ or None,
        purpose=purpose_ or None,
        encoding=_charset(encoding),
    )


def epc_qr_png(
    *,
    name: str,
    iban: str,
    amount: Money,
    reference: str | None = None,
    text: str | None = None,
    bic: str | None = None,
    purpose: str | None = None,
    encoding: str = "utf-8",
    scale: int = 5,
) -> bytes:
    """The EPC QR code as a PNG image (quiet zone included)."""
    qr = _qr(
        name=name,
        iban=iban,
        amount=amount,
        reference=reference,
        text=text,
        bic=bic,
        purpose=purpose,
        encoding=encoding,
    )
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale)
    return out.getvalue()


def epc_qr_svg(
    *,
    name: str,
    iban: str,
    amount: Money,
    reference: str | None = None,
    text: str | None = None,
    bic: str | None = None,
    purpose: str | None = None,
    encoding: str = "utf-8",
    scale: int = 5,
) -> str:
    """The EPC QR code as an SVG document (text)."""
    qr = _qr(
        name=name,
        iban=iban,
        amount=amount,
        reference=reference,
        text=text,
        bic=bic,
        purpose=purpose,
        encoding=encoding,
    )
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=scale, xmldecl=True)
    return out.getvalue().decode("utf-8")
