"""Outgoing SEPA files: pain.008 direct-debit batches and pain.001 credit transfers.

sepaxml 2.7.0 builds all four versions Respite writes (it ships and supports
pain.008.001.02/.08/.09/.10 and pain.001.001.03/.09/.10/.11): pain.008.001.02 and .08 for
collections, pain.001.001.03 and .09 for payouts. Two things are then fixed with lxml so
that a file is reproducible from its inputs: sepaxml draws the message id and the payment
information ids at random and stamps the creation time from the wall clock; here the
caller gives the message id and the time, and ``PmtInfId`` becomes ``<MsgId>-<n>``. The
result is validated against the XSD that sepaxml ships for that version (xmlschema)
before it is returned; the tests validate it once more against the official XSDs in
``shared/data/xsd`` with lxml.

Amounts are integer cents throughout; no float ever touches them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from sepaxml import SepaDD, SepaTransfer  # type: ignore[import-untyped]
from sepaxml.validation import (  # type: ignore[import-untyped]
    ValidationError as SepaValidationError,
)
from sepaxml.validation import try_valid_xml

from respite.errors import ValidationError

__all__ = [
    "PAIN001_VERSIONS",
    "PAIN008_VERSIONS",
    "CreditTransfer",
    "DirectDebitTx",
    "build_pain001",
    "build_pain008",
    "pain001_version",
    "pain008_version",
    "safe_parser",
]

PAIN008_VERSIONS = ("pain.008.001.02", "pain.008.001.08")
PAIN001_VERSIONS = ("pain.001.001.03", "pain.001.001.09")
SEQUENCE_TYPES = ("FRST", "RCUR", "FNAL", "OOFF")
MAX_ID = 35  # Max35Text: message ids, payment information ids, EndToEndIds, mandate ids


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD and fetches nothing."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _version(value: str, allowed: Sequence[str], option: str) -> str:
    text = value.strip()
    for full in allowed:
        if text in (full, full.rsplit(".", 1)[1]):
            return full
    short = ", ".join(v.rsplit(".", 1)[1] for v in allowed)
    raise ValidationError(f"unsupported version {value!r} (use {short})", field=option)


def pain008_version(value: str) -> str:
    """``02``/``08`` or the full name -> ``pain.008.001.02``/``pain.008.001.08``."""
    return _version(value, PAIN008_VERSIONS, "--version")


def pain001_version(value: str) -> str:
    """``03``/``09`` or the full name -> ``pain.001.001.03``/``pain.001.001.09``."""
    return _version(value, PAIN001_VERSIONS, "--version")


@dataclass(frozen=True, slots=True)
class DirectDebitTx:
    """One collection under a mandate."""

    end_to_end_id: str
    amount_cents: int
    sequence: str  # FRST | RCUR | FNAL | OOFF
    mandate_id: str
    mandate_signed_on: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str | None
    remittance: str


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One credit transfer to a beneficiary."""

    end_to_end_id: str
    amount_cents: int
    creditor_name: str
    creditor_iban: str
    creditor_bic: str | None
    remittance: str


def _check_id(value: str, what: str) -> None:
    if not 0 < len(value) <= MAX_ID:
        raise ValidationError(f"{what} must be 1 to {MAX_ID} characters, got {value!r}")


def _finish(raw: bytes, *, schema: str, message_id: str, created_at: datetime) -> bytes:
    """Set the message id, creation time and payment-information ids; validate."""
    root = etree.fromstring(raw, safe_parser())
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:{schema}"}
    stamp = created_at.astimezone(UTC) if created_at.tzinfo else created_at
    (msg_id,) = root.xpath("/p:Document/*/p:GrpHdr/p:MsgId", namespaces=ns)
    (cre_dt_tm,) = root.xpath("/p:Document/*/p:GrpHdr/p:CreDtTm", namespaces=ns)
    msg_id.text = message_id
    cre_dt_tm.text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    for n, node in enumerate(root.xpath("/p:Document/*/p:PmtInf/p:PmtInfId", namespaces=ns), 1):
        node.text = f"{message_id}-{n}"
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    try:
        try_valid_xml(out, schema)
    except SepaValidationError as exc:
        detail = exc.__cause__ or exc
        raise ValidationError(f"the {schema} file does not validate: {detail}") from None
    return out


def build_pain008(
    *,
    version: str,
    message_id: str,
    created_at: datetime,
    creditor_name: str,
    creditor_iban: str,
    creditor_bic: str,
    creditor_id: str,
    collection_date: date,
    transactions: Sequence[DirectDebitTx],
    currency: str = "EUR",
) -> bytes:
    """A CORE direct-debit initiation: one payment information block per sequence type."""
    schema = pain008_version(version)
    _check_id(message_id, "a message id")
    if len(message_id) > MAX_ID - 3:
        raise ValidationError(f"a message id for pain.008 has at most {MAX_ID - 3} characters")
    if not transactions:
        raise ValidationError("a direct-debit batch needs at least one transaction")
    config: dict[str, Any] = {
        "name": creditor_name,
        "IBAN": creditor_iban,
        "BIC": creditor_bic,
        "batch": True,
        "creditor_id": creditor_id,
        "currency": currency,
        "instrument": "CORE",
    }
    sepa = SepaDD(config, schema=schema, clean=True)
    for tx in transactions:
        if tx.sequence not in SEQUENCE_TYPES:
            raise ValidationError(f"unknown sequence type {tx.sequence!r}")
        if tx.amount_cents <= 0:
            raise ValidationError(f"{tx.end_to_end_id}: an amount must be above zero")
        _check_id(tx.end_to_end_id, "an EndToEndId")
        _check_id(tx.mandate_id, "a mandate id")
        payment: dict[str, Any] = {
            "name": tx.debtor_name,
            "IBAN": tx.debtor_iban,
            "amount": tx.amount_cents,
            "type": tx.sequence,
            "collection_date": collection_date,
            "mandate_id": tx.mandate_id,
            "mandate_date": tx.mandate_signed_on,
            "description": tx.remittance,
            "endtoend_id": tx.end_to_end_id,
        }
        if tx.debtor_bic:
            payment["BIC"] = tx.debtor_bic
        sepa.add_payment(payment)
    raw: bytes = sepa.export(validate=False)
    return _finish(raw, schema=schema, message_id=message_id, created_at=created_at)


def build_pain001(
    *,
    version: str,
    message_id: str,
    created_at: datetime,
    debtor_name: str,
    debtor_iban: str,
    debtor_bic: str,
    execution_date: date,
    transactions: Sequence[CreditTransfer],
    currency: str = "EUR",
) -> bytes:
    """A SEPA credit-transfer initiation from the agency's account, one batch."""
    schema = pain001_version(version)
    _check_id(message_id, "a message id")
    if len(message_id) > MAX_ID - 3:
        raise ValidationError(f"a message id for pain.001 has at most {MAX_ID - 3} characters")
    if not transactions:
        raise ValidationError("a credit-transfer file needs at least one transaction")
    config: dict[str, Any] = {
        "name": debtor_name,
        "IBAN": debtor_iban,
        "BIC": debtor_bic,
        "batch": True,
        "currency": currency,
    }
    sepa = SepaTransfer(config, schema=schema, clean=True)
    for tx in transactions:
        if tx.amount_cents <= 0:
            raise ValidationError(f"{tx.end_to_end_id}: an amount must be above zero")
        _check_id(tx.end_to_end_id, "an EndToEndId")
        payment: dict[str, Any] = {
            "name": tx.creditor_name,
            "IBAN": tx.creditor_iban,
            "amount": tx.amount_cents,
            "execution_date": execution_date,
            "description": tx.remittance,
            "endtoend_id": tx.end_to_end_id,
        }
        if tx.creditor_bic:
            payment["BIC"] = tx.creditor_bic
        sepa.add_payment(payment)
    raw: bytes = sepa.export(validate=False)
    return _finish(raw, schema=schema, message_id=message_id, created_at=created_at)
