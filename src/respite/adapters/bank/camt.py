"""CAMT.053 statements and CAMT.054 notifications, read safely and as a stream.

Safety. Bank files are untrusted input, so the parser is a hardened lxml ``iterparse``:
no DTD is loaded, no entity is resolved, no network is used, libxml2's size limits stay
on (``huge_tree=False``), the file is read through a byte counter that stops at
``max_bytes`` (and never through libxml2's own file opener, which would silently
gunzip a compressed bomb), and any ``<!DOCTYPE`` is refused outright: a CAMT file never
has one, and a DTD is where XXE and entity bombs live. The parser never *recovers*:
a truncated or malformed file raises :class:`~respite.errors.InputError` naming the line
and column, and :func:`read_statements` then returns nothing at all (a recovering parser
would silently drop the tail of the file, and with it money).

Streaming. Only ``Ntry`` elements are materialised one at a time; each is turned into
:class:`~respite.adapters.bank.model.BankTransaction` values and then cleared and
removed from the tree, so a 100,000-entry file never exists as a whole tree in memory.
:func:`iter_statement_items` yields transactions as they are read (and each statement's
summary after its transactions); :func:`read_statements` collects them.

Tolerance. Real bank files break their own schema. Everything that can still be read
unambiguously is read, and every deviation is reported as a
:class:`~respite.adapters.bank.model.Deviation` with the element path where it occurred
(``Stmt[1]/Ntry[3]/NtryDtls/TxDtls[2]``). An entry that cannot be read at all (no
amount, no direction) becomes an *error* deviation instead of a transaction. When a
statement's entries do not add up from the opening to the closing balance, an *error*
deviation says so with the figures, besides ``ParsedStatement.difference_cents``.

Choices worth knowing:

* ``entries_sum_cents`` counts *booked* entries only (``Sts`` BOOK). Pending (PDNG)
  and information-only (INFO) entries do not move the booked balance, so they are
  neither in the sum nor booked by the import (they still appear as transactions with
  their status, for display).
* The opening balance is OPBD, else PRCD (the previous closing balance, with a
  deviation); the closing balance is CLBD. CAMT.054 has no balances (both ``None``).
* Amounts are the entry's ``Amt`` as written, in the entry's currency. An entry in a
  currency other than the account's is reported (the balance check then compares
  figures in different currencies, which the deviation makes explicit).
* ``RvslInd`` true keeps the entry's own ``CdtDbtInd`` as the direction of the money on
  the account (ISO 20022: a reversed debit is a CRDT entry). The counterparty is the
  other party *of the original transaction*: the debtor when money came in
  (CRDT, or a DBIT reversal of an incoming payment, such as a returned direct debit)
  and the creditor when money went out; when that party is absent, the other party is
  used unless it is the statement's own account (and the other party is used when the
  expected one *is* the statement's own account, as some banks fill the roles in).
* An entry with several ``TxDtls`` becomes one transaction per ``TxDtls`` when their
  amounts (in the entry currency, signed by their own ``CdtDbtInd``) add up to the
  entry; otherwise a deviation is recorded and the entry stays one transaction.
* Keys (see :class:`~respite.adapters.bank.model.BankTransaction`), at most 64
  characters: ``a:`` + a hash of the AcctSvcrRef with the account, date, amount,
  direction and split position, else ``c:`` + a hash of the content. Two
  transactions of one file with the same key (a bank reusing a reference, or two
  truly identical payments on one day) are numbered ``~2``, ``~3`` in file order, with
  a deviation, so that neither is lost; an overlapping statement numbers them alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from lxml import etree  # type: ignore[import-untyped]  # no stubs for lxml

from respite.adapters.bank.model import BankTransaction, Deviation, ParsedStatement
from respite.errors import InputError

__all__ = [
    "MINOR_UNITS",
    "VALIDATED_VERSIONS",
    "iter_statement_items",
    "iter_transactions",
    "read_statements",
]

DEFAULT_MAX_BYTES = 1_000_000_000

#: Versions whose samples and schemas we checked (camt.053.001.NN / camt.054.001.NN).
VALIDATED_VERSIONS = frozenset({"02", "04", "08"})

#: ISO 4217 minor units of the currencies we expect; any other currency is read with 2
#: decimals and reported.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "GBP": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BGN": 2,
    "CAD": 2,
    "AUD": 2,
    "JPY": 0,
    "ISK": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.(\d{2})")
_MESSAGES = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
_DIRECTIONS = ("CRDT", "DBIT")
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_HEAD_BYTES = 1 << 16
_TAGS = (
    "{*}Document",
    "{*}BkToCstmrStmt",
    "{*}BkToCstmrDbtCdtNtfctn",
    "{*}GrpHdr",
    "{*}Stmt",
    "{*}Ntfctn",
    "{*}Ntry",
)


# --- public API ----------------------------------------------------------------------


def read_statements(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ParsedStatement]:
    """Read every statement (Stmt) or notification (Ntfctn) of a CAMT.053/054 file.

    All or nothing: a file that is too large, not XML, truncated, malformed, declares a
    DTD, or is not CAMT.053/054 raises :class:`InputError` (``field`` = the file name,
    the message says where), and no statement is returned.
    """
    statements: list[ParsedStatement] = []
    pending: list[BankTransaction] = []
    for item in iter_statement_items(path, max_bytes=max_bytes):
        if isinstance(item, BankTransaction):
            pending.append(item)
        else:
            statements.append(replace(item, transactions=tuple(pending)))
            pending = []
    return statements


def iter_transactions(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[BankTransaction]:
    """Stream the transactions of a CAMT file, one entry in memory at a time.

    The iterator raises :class:`InputError` where the file turns out to be broken, after
    having yielded the transactions before that point: a caller that books must treat
    the exception as "discard everything" (or use :func:`read_statements`).
    """
    for item in iter_statement_items(path, max_bytes=max_bytes):
        if isinstance(item, BankTransaction):
            yield item


def iter_statement_items(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[BankTransaction | ParsedStatement]:
    """Stream a CAMT file: each statement's transactions, then the statement itself.

    The statement is yielded with ``transactions=()`` (its transactions came before it),
    so that balances and deviations are available without keeping the entries.
    """
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", field=name) from None
    if size > max_bytes:
        raise InputError(
            f"the file has {size:,} bytes, more than the limit of {max_bytes:,}", field=name
        )
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open the file: {exc.strerror or exc}", field=name) from None
    with handle:
        head = handle.read(_HEAD_BYTES)
        _check_prolog(head, name)
        handle.seek(0)
        reader = _Reader(name, _LimitedReader(handle, max_bytes, name))
        yield from reader.items()


# --- safety --------------------------------------------------------------------------


class _LimitedReader:
    """A file-like wrapper that refuses to read past ``limit`` bytes."""

    def __init__(self, handle: IO[bytes], limit: int, name: str) -> None:
        self._handle = handle
        self._left = limit
        self._name = name

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size if size >= 0 else self._left + 1)
        self._left -= len(chunk)
        if self._left < 0:
            raise InputError("the file grew past the size limit while being read", field=self._name)
        return chunk


def _check_prolog(head: bytes, name: str) -> None:
    """Refuse empty files, non-XML files and any DOCTYPE before the parser sees them."""
    if not head.strip():
        raise InputError("the file is empty", field=name)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return  # UTF-16: the parser checks (and _Reader refuses any DTD it finds)
    pos = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while (match := _PROLOG_SKIP.match(head, pos)) is not None and match.end() > pos:
        pos = match.end()
    line = head.count(b"\n", 0, pos) + 1
    if head.startswith(b"<!DOCTYPE", pos):
        raise InputError(
            f"line {line}: DOCTYPE declarations are refused (a CAMT file has none; "
            "a DTD can smuggle external entities or an entity bomb)",
            field=name,
        )
    if not head.startswith(b"<", pos):
        found = head[pos : pos + 20].decode("utf-8", "replace")
        raise InputError(f"line {line}: not an XML file (it starts with {found!r})", field=name)


# --- reading -------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _steps(ns: str, path: str) -> tuple[str, ...]:
    return tuple(f"{{{ns}}}{part}" for part in path.split("/"))


# lxml's find() goes through its Python ElementPath on every call, and iterchildren(tag)
# builds a tag matcher on every call; an entry is asked for ~25 paths, most of them absent.
# Indexing each element's children by tag once (per entry; dropped when the entry is
# cleared) makes the whole parse several times faster.

_Index = dict[Any, dict[str, list[Any]]]


def _children(index: _Index, element: Any) -> dict[str, list[Any]]:
    children = index.get(element)
    if children is None:
        children = {}
        for child in element:
            children.setdefault(child.tag, []).append(child)
        index[element] = children
    return children


def _first(index: _Index, element: Any, steps: tuple[str, ...]) -> Any:
    """The first element at the child path ``steps`` (like ``find``), or None."""
    for tag in steps:
        found = _children(index, element).get(tag)
        if not found:
            return None
        element = found[0]
    return element


def _every(index: _Index, element: Any, steps: tuple[str, ...]) -> list[Any]:
    """Every element at the child path ``steps`` in document order (like ``findall``)."""
    level = [element]
    for tag in steps:
        level = [child for parent in level for child in _children(index, parent).get(tag, ())]
    return level


@dataclass
class _Statement:
    """What is known about the statement being read."""

    index: int
    where: str
    element: Any
    account: str = ""
    currency: str = ""
    statement_id: str = ""
    header_read: bool = False
    entries: int = 0
    entries_sum: int = 0
    deviations: list[Deviation] = field(default_factory=list)
    warned_currencies: set[str] = field(default_factory=set)


@dataclass
class _Details:
    """The readable content of one TxDtls (or of an entry without one)."""

    acct_svcr_ref: str | None = None
    end_to_end_id: str | None = None
    mandate_id: str | None = None
    structured_refs: tuple[str, ...] = ()
    remittance: str = ""
    debtor: tuple[str | None, str | None] = (None, None)
    creditor: tuple[str | None, str | None] = (None, None)
    return_reason: str | None = None
    bank_code: str | None = None


class _Reader:
    def __init__(self, name: str, source: _LimitedReader) -> None:
        self.name = name
        self.source = source
        self.ns = ""
        self.kind = ""
        self.family = ""
        self.message_id = ""
        self.file_deviations: list[Deviation] = []
        self.statement: _Statement | None = None
        self.statements = 0
        self.message_seen = False
        self.keys: dict[str, int] = {}
        self.index: _Index = {}

    # -- the event loop --

    def items(self) -> Iterator[BankTransaction | ParsedStatement]:
        events = etree.iterparse(
            self.source,
            events=("start", "end"),
            tag=_TAGS,
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            recover=False,
        )
        try:
            for event, element in events:
                local = etree.QName(element).localname
                if event == "start":
                    if local == "Document" and element.getparent() is None:
                        self._start_document(element)
                    elif self.ns and element.tag == f"{{{self.ns}}}{local}":
                        self._start(local, element)
                    continue
                if not self.ns or element.tag != f"{{{self.ns}}}{local}":
                    continue
                if local == "Ntry":
                    yield from self._entry(element)
                elif local in ("Stmt", "Ntfctn"):
                    yield self._end_statement(element)
                elif local == "GrpHdr":
                    self.message_id = self._text(element, "MsgId") or ""
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (exc.lineno, 0)
            raise InputError(
                f"malformed or truncated XML at line {line}, column {column}: {exc.msg}; "
                "the whole file is refused",
                field=self.name,
            ) from None
        if not self.message_seen:
            raise InputError(
                f"no {'/'.join(_MESSAGES[self.family])} message in this {self.kind} file",
                field=self.name,
            )
        if self.statements == 0:
            raise InputError(
                f"the {self.kind} file holds no {_MESSAGES[self.family][1]}", field=self.name
            )

    def _start_document(self, element: Any) -> None:
        docinfo = element.getroottree().docinfo
        if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise InputError(
                "DOCTYPE declarations are refused (a CAMT file has none)", field=self.name
            )
        namespace = etree.QName(element).namespace or ""
        match = _NAMESPACE.fullmatch(namespace)
        if match is None:
            raise InputError(
                f"not a CAMT.053/054 file: the root element is {element.tag!r} "
                "(expected Document in urn:iso:std:iso:20022:tech:xsd:camt.053/054.001.NN)",
                field=self.name,
            )
        self.ns = namespace
        self.family, version = match.group(1), match.group(2)
        self.kind = f"{self.family}.001.{version}"
        if version not in VALIDATED_VERSIONS:
            validated = ", ".join(f"{self.family}.001.{v}" for v in sorted(VALIDATED_VERSIONS))
            self.file_deviations.append(
                Deviation(
                    "Document",
                    f"version {self.kind} is not one we validated ({validated}); "
                    "read with the same element names",
                )
            )

    def _start(self, local: str, element: Any) -> None:
        parent = element.getparent()
        if local in ("BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn"):
            if parent is None or parent.getparent() is not None:
                return
            self.message_seen = True
            expected = _MESSAGES[self.family][0]
            if local != expected:
                self.file_deviations.append(
                    Deviation("Document", f"a {local} message in a {self.kind} namespace")
                )
        elif local in ("Stmt", "Ntfctn"):
            self.statements += 1
            index = self.statements
            self.statement = _Statement(index, f"{local}[{index}]", element)
            if self.message_id == "":
                self.statement.deviations.append(
                    Deviation(self.statement.where, "no GrpHdr/MsgId before the statement")
                )

    # -- statements --

    def _read_header(self, stmt: _Statement) -> None:
        """Id, account and currency, from the children read so far (they precede Ntry)."""
        stmt.header_read = True
        element = stmt.element
        where = stmt.where
        stmt.statement_id = self._text(element, "Id") or ""
        if not stmt.statement_id:
            stmt.deviations.append(Deviation(where, "no Id"))
        account = self._text(element, "Acct/Id/IBAN")
        if account is None:
            account = self._text(element, "Acct/Id/Othr/Id")
            if account is None:
                stmt.deviations.append(Deviation(where, "no Acct/Id: the account is unknown"))
            else:
                stmt.deviations.append(
                    Deviation(where, f"the account has no IBAN; using Acct/Id/Othr/Id {account}")
                )
        stmt.account = account or ""
        currency = self._text(element, "Acct/Ccy")
        if currency is None:
            for balance in self._findall(element, "Bal/Amt"):
                currency = balance.get("Ccy")
                if currency:
                    break
        stmt.currency = (currency or "").upper()

    def _balances(self, stmt: _Statement) -> tuple[int | None, int | None]:
        found: dict[str, int] = {}
        for n, balance in enumerate(self._findall(stmt.element, "Bal"), start=1):
            where = f"{stmt.where}/Bal[{n}]"
            code = (
                self._text(balance, "Tp/CdOrPrtry/Cd")
                or self._text(balance, "Tp/CdOrPrtry/Prtry")
                or self._text(balance, "Tp/Cd")
            )
            if code is None:
                stmt.deviations.append(Deviation(where, "balance without a type code; ignored"))
                continue
            amount = self._find(balance, "Amt")
            if amount is None or amount.text is None:
                stmt.deviations.append(Deviation(where, f"{code} balance without an amount"))
                continue
            currency = (amount.get("Ccy") or stmt.currency).upper()
            if stmt.currency and currency != stmt.currency:
                stmt.deviations.append(
                    Deviation(where, f"{code} balance in {currency}, account in {stmt.currency}")
                )
            cents = self._cents(amount.text, currency, where, stmt)
            if cents is None:
                continue
            indicator = self._text(balance, "CdtDbtInd")
            if indicator not in ("CRDT", "DBIT"):
                stmt.deviations.append(
                    Deviation(where, f"{code} balance CdtDbtInd is {indicator!r}; taken as CRDT")
                )
            signed = -cents if indicator == "DBIT" else cents
            if code in found:
                if found[code] != signed:
                    stmt.deviations.append(
                        Deviation(where, f"a second {code} balance that differs; the first is used")
                    )
                continue
            found[code] = signed
        if self.family == "camt.054" and not found:
            return None, None
        opening = found.get("OPBD")
        if opening is None and "PRCD" in found:
            opening = found["PRCD"]
            stmt.deviations.append(
                Deviation(stmt.where, "no OPBD balance; the PRCD balance is taken as opening")
            )
        elif opening is None:
            stmt.deviations.append(
                Deviation(stmt.where, "no opening balance (OPBD/PRCD): the total is unchecked")
            )
        closing = found.get("CLBD")
        if closing is None:
            stmt.deviations.append(
                Deviation(stmt.where, "no closing balance (CLBD): the total is unchecked")
            )
        return opening, closing

    def _end_statement(self, element: Any) -> ParsedStatement:
        stmt = self.statement
        if stmt is None or stmt.element is not element:  # pragma: no cover - defensive
            raise InputError("statement end without a start", field=self.name)
        if not stmt.header_read:
            self._read_header(stmt)
        if not stmt.currency:
            stmt.deviations.append(Deviation(stmt.where, "no currency for the account"))
        opening, closing = self._balances(stmt)
        parsed = ParsedStatement(
            kind=self.kind,
            message_id=self.message_id,
            statement_id=stmt.statement_id,
            account=stmt.account,
            currency=stmt.currency,
            opening_cents=opening,
            closing_cents=closing,
            transactions=(),
            entries_sum_cents=stmt.entries_sum,
            deviations=(),
        )
        difference = parsed.difference_cents
        if difference and opening is not None and closing is not None:
            minor = MINOR_UNITS.get(stmt.currency, 2)
            stmt.deviations.append(
                Deviation(
                    stmt.where,
                    "the entries do not add up: opening "
                    f"{_show(opening, minor)} + booked entries {_show(stmt.entries_sum, minor)}"
                    f" = {_show(opening + stmt.entries_sum, minor)}, but the closing balance is "
                    f"{_show(closing, minor)} (difference {_show(difference, minor)} "
                    f"{stmt.currency})",
                    "error",
                )
            )
        deviations = tuple(self.file_deviations) + tuple(stmt.deviations)
        self.index.clear()
        element.clear()
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
        self.statement = None
        return replace(parsed, deviations=deviations)

    # -- entries --

    def _entry(self, element: Any) -> Iterator[BankTransaction]:
        stmt = self.statement
        parent = element.getparent()
        if stmt is None or parent is not stmt.element:
            return  # an Ntry outside a Stmt/Ntfctn (not CAMT); left alone
        if not stmt.header_read:
            self._read_header(stmt)
        stmt.entries += 1
        where = f"{stmt.where}/Ntry[{stmt.entries}]"
        try:
            yield from self._transactions(element, stmt, where)
        finally:
            self.index.clear()
            element.clear()
            parent.remove(element)

    def _transactions(self, ntry: Any, stmt: _Statement, where: str) -> Iterator[BankTransaction]:
        devs = stmt.deviations
        details = self._findall(ntry, "NtryDtls/TxDtls")
        amount_el = self._find(ntry, "Amt")
        direction = self._text(ntry, "CdtDbtInd")
        if amount_el is None or not (amount_el.text or "").strip():
            # Trimmed files: the entry lost its Amt/CdtDbtInd, its TxDtls still have them.
            derived = self._amount_from_details(details) if direction is None else None
            if derived is None:
                devs.append(Deviation(where, "entry without an amount: not imported", "error"))
                return
            amount_text, currency, direction = derived
            devs.append(Deviation(where, "entry without Amt and CdtDbtInd; taken from its TxDtls"))
        else:
            amount_text = amount_el.text
            currency = (amount_el.get("Ccy") or "").upper()
        if not currency:
            currency = stmt.currency
            devs.append(Deviation(where, f"Amt without Ccy; taken as {currency or '?'}"))
        if not stmt.currency:
            stmt.currency = currency
        elif currency != stmt.currency:
            devs.append(
                Deviation(
                    where,
                    f"entry in {currency}, account in {stmt.currency}: "
                    "its amount is summed as written",
                )
            )
        cents = self._cents(amount_text, currency, where, stmt)
        if cents is None:
            return
        if direction not in ("CRDT", "DBIT"):
            devs.append(
                Deviation(
                    where, f"CdtDbtInd is {direction!r}, not CRDT/DBIT: not imported", "error"
                )
            )
            return
        reversal_text = self._text(ntry, "RvslInd")
        reversal = reversal_text in ("true", "1")
        if reversal_text not in (None, "true", "false", "1", "0"):
            devs.append(Deviation(where, f"RvslInd is {reversal_text!r}; taken as false"))
        status = self._status(ntry, where, devs)
        booking_date, value_date = self._dates(ntry, where, devs)
        if status == "BOOK":
            stmt.entries_sum += cents if direction == "CRDT" else -cents
        if booking_date is None:
            return

        entry_ref = self._reference(ntry, "AcctSvcrRef")
        entry_code = self._bank_code(self._find(ntry, "BkTxCd"))
        self._check_batch(ntry, len(details), currency, where, stmt)

        common = {
            "account": stmt.account,
            "booking_date": booking_date,
            "value_date": value_date,
            "currency": currency,
            "reversal": reversal,
            "status": status,
        }
        if len(details) == 1:
            info = self._details(details[0], entry_code)
            tx_amount = self._tx_amount(details[0], currency, where, stmt)
            if tx_amount is not None and tx_amount[0] != cents:
                devs.append(
                    Deviation(
                        f"{where}/NtryDtls/TxDtls[1]",
                        f"TxDtls amount {_show(tx_amount[0], MINOR_UNITS.get(currency, 2))} differs"
                        " from the entry's; the entry amount is used",
                    )
                )
            if tx_amount is not None and tx_amount[1] not in (None, direction):
                devs.append(
                    Deviation(
                        f"{where}/NtryDtls/TxDtls[1]",
                        f"TxDtls CdtDbtInd {tx_amount[1]} contradicts the entry's {direction}; "
                        "the entry's is used",
                    )
                )
            yield self._transaction(
                info, entry_ref, None, cents, direction, common, where, stmt, entry_cents=cents
            )
            return
        if len(details) > 1:
            split = self._split(details, cents, direction, currency, where, stmt)
            if split is not None:
                for n, (tx, (tx_cents, tx_direction)) in enumerate(
                    zip(details, split, strict=True), start=1
                ):
                    info = self._details(tx, entry_code)
                    yield self._transaction(
                        info,
                        entry_ref,
                        n,
                        tx_cents,
                        tx_direction,
                        common,
                        f"{where}/NtryDtls/TxDtls[{n}]",
                        stmt,
                        entry_cents=cents,
                    )
                return
        info = self._entry_details(ntry, entry_code)
        yield self._transaction(
            info, entry_ref, None, cents, direction, common, where, stmt, entry_cents=cents
        )

    def _amount_from_details(self, details: list[Any]) -> tuple[str, str, str] | None:
        """(amount, currency, direction) of an entry whose TxDtls all carry them."""
        total = Decimal(0)
        currencies: set[str] = set()
        for tx in details:
            amount = self._find(tx, "Amt")
            indicator = self._text(tx, "CdtDbtInd")
            text = (amount.text or "").strip() if amount is not None else ""
            if amount is None or _AMOUNT.fullmatch(text) is None or indicator not in _DIRECTIONS:
                return None
            currencies.add((amount.get("Ccy") or "").upper())
            total += Decimal(text) if indicator == "CRDT" else -Decimal(text)
        if len(currencies) != 1:
            return None
        return str(abs(total)), currencies.pop(), "CRDT" if total >= 0 else "DBIT"

    def _split(
        self,
        details: list[Any],
        cents: int,
        direction: str,
        currency: str,
        where: str,
        stmt: _Statement,
    ) -> list[tuple[int, str]] | None:
        """Per-TxDtls (amount, direction) when they add up to the entry, else None."""
        parts: list[tuple[int, str]] = []
        for n, tx in enumerate(details, start=1):
            amount = self._tx_amount(tx, currency, f"{where}/NtryDtls/TxDtls[{n}]", stmt)
            if amount is None:
                stmt.deviations.append(
                    Deviation(
                        f"{where}/NtryDtls/TxDtls[{n}]",
                        f"no amount in {currency}; the entry is kept as one transaction",
                    )
                )
                return None
            tx_cents, tx_direction = amount
            parts.append((tx_cents, tx_direction or direction))
        signed = sum(c if d == direction else -c for c, d in parts)
        if signed != cents:
            minor = MINOR_UNITS.get(currency, 2)
            stmt.deviations.append(
                Deviation(
                    where,
                    f"the {len(parts)} TxDtls add up to {_show(signed, minor)}, the entry is "
                    f"{_show(cents, minor)} {currency}; the entry is kept as one transaction",
                )
            )
            return None
        return parts

    def _tx_amount(
        self, tx: Any, currency: str, where: str, stmt: _Statement
    ) -> tuple[int, str | None] | None:
        """The TxDtls amount in the entry currency (Amt, TxAmt or CntrValAmt)."""
        for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/CntrValAmt/Amt"):
            amount = self._find(tx, path)
            if amount is None or not (amount.text or "").strip():
                continue
            if (amount.get("Ccy") or currency).upper() != currency:
                continue
            cents = self._cents(amount.text, currency, where, stmt)
            if cents is None:
                return None
            indicator = self._text(tx, "CdtDbtInd")
            return cents, indicator if indicator in ("CRDT", "DBIT") else None
        return None

    def _check_batch(
        self, ntry: Any, details: int, currency: str, where: str, stmt: _Statement
    ) -> None:
        for batch in self._findall(ntry, "NtryDtls/Btch"):
            count = self._text(batch, "NbOfTxs")
            if details and count is not None and count.isdigit() and int(count) != details:
                stmt.deviations.append(
                    Deviation(where, f"Btch/NbOfTxs says {count}, the entry has {details} TxDtls")
                )

    def _transaction(
        self,
        info: _Details,
        entry_ref: str | None,
        position: int | None,
        cents: int,
        direction: str,
        common: dict[str, Any],
        where: str,
        stmt: _Statement,
        *,
        entry_cents: int,
    ) -> BankTransaction:
        reversal = bool(common["reversal"])
        original_in = (direction == "CRDT") != reversal
        first, second = (
            (info.debtor, info.creditor) if original_in else (info.creditor, info.debtor)
        )
        name, iban = first
        own = stmt.account or None
        if (first == (None, None) or (own and first[1] == own)) and (
            second != (None, None) and second[1] != own
        ):
            name, iban = second  # the expected party is missing, or is this very account
        acct_svcr_ref = info.acct_svcr_ref or entry_ref
        ref = entry_ref or info.acct_svcr_ref
        if ref:
            # The bank's reference, bound to the account, amount, direction and date: some
            # banks reuse an AcctSvcrRef for different entries (GLS, PostFinance samples).
            content = "\x1f".join(
                [
                    stmt.account,
                    ref,
                    common["booking_date"].isoformat(),
                    str(entry_cents),
                    direction,
                    "R" if reversal else "",
                    str(position if position is not None else ""),
                ]
            )
            key = "a:" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:56]
        else:
            content = "\x1f".join(
                [
                    stmt.account,
                    common["booking_date"].isoformat(),
                    common["currency"],
                    str(entry_cents),
                    str(cents),
                    direction,
                    "R" if reversal else "",
                    info.end_to_end_id or "",
                    info.mandate_id or "",
                    "\x1e".join(info.structured_refs),
                    info.remittance,
                    name or "",
                    iban or "",
                    str(position or 0),
                ]
            )
            key = "c:" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:56]
        seen = self.keys.get(key, 0) + 1
        self.keys[key] = seen
        if seen > 1:
            stmt.deviations.append(
                Deviation(
                    where,
                    f"same key as an earlier transaction of this file ({key}); "
                    f"numbered ~{seen} so that both are kept",
                )
            )
            key = f"{key}~{seen}"
        return BankTransaction(
            key=key,
            direction=direction,
            amount_cents=cents,
            acct_svcr_ref=acct_svcr_ref,
            end_to_end_id=info.end_to_end_id,
            mandate_id=info.mandate_id,
            structured_refs=info.structured_refs,
            remittance=info.remittance,
            counterparty_name=name,
            counterparty_iban=iban,
            return_reason=info.return_reason,
            bank_code=info.bank_code,
            where=where,
            **common,
        )

    def _details(self, tx: Any, entry_code: str | None) -> _Details:
        return _Details(
            acct_svcr_ref=self._reference(tx, "Refs/AcctSvcrRef"),
            end_to_end_id=self._reference(tx, "Refs/EndToEndId"),
            mandate_id=self._reference(tx, "Refs/MndtId"),
            structured_refs=tuple(
                ref.text
                for ref in self._findall(tx, "RmtInf/Strd/CdtrRefInf/Ref")
                if ref.text and ref.text.strip()
            ),
            remittance=" ".join(
                line.text.strip()
                for line in self._findall(tx, "RmtInf/Ustrd")
                if line.text and line.text.strip()
            ),
            debtor=self._party(tx, "Dbtr"),
            creditor=self._party(tx, "Cdtr"),
            return_reason=self._text(tx, "RtrInf/Rsn/Cd") or self._text(tx, "RtrInf/Rsn/Prtry"),
            bank_code=self._bank_code(self._find(tx, "BkTxCd")) or entry_code,
        )

    def _reference(self, element: Any, path: str) -> str | None:
        """A reference, or None when absent or the placeholder NOTPROVIDED."""
        text = self._text(element, path)
        return None if text is None or text.upper() == "NOTPROVIDED" else text

    def _entry_details(self, ntry: Any, entry_code: str | None) -> _Details:
        """An entry kept whole: only what the entry itself says (no per-TxDtls data)."""
        return _Details(bank_code=entry_code)

    def _party(self, tx: Any, role: str) -> tuple[str | None, str | None]:
        name = self._text(tx, f"RltdPties/{role}/Nm") or self._text(tx, f"RltdPties/{role}/Pty/Nm")
        iban = self._text(tx, f"RltdPties/{role}Acct/Id/IBAN")
        return name, iban

    def _bank_code(self, element: Any) -> str | None:
        if element is None:
            return None
        domain = self._text(element, "Domn/Cd")
        family = self._text(element, "Domn/Fmly/Cd")
        sub = self._text(element, "Domn/Fmly/SubFmlyCd")
        if domain and family and sub:
            return f"{domain}/{family}/{sub}"
        return self._text(element, "Prtry/Cd")

    def _status(self, ntry: Any, where: str, devs: list[Deviation]) -> str:
        element = self._find(ntry, "Sts")
        if element is None:
            devs.append(Deviation(where, "entry without Sts; taken as BOOK"))
            return "BOOK"
        status = (
            self._text(element, "Cd")
            or self._text(element, "Prtry")
            or (element.text or "").strip()
        )
        if status not in ("BOOK", "PDNG", "INFO"):
            devs.append(
                Deviation(where, f"status {status!r} is not BOOK/PDNG/INFO; it is not booked")
            )
        return status

    def _dates(
        self, ntry: Any, where: str, devs: list[Deviation]
    ) -> tuple[date | None, date | None]:
        booking = self._date(ntry, "BookgDt", where, devs)
        value = self._date(ntry, "ValDt", where, devs)
        if booking is None:
            if value is not None:
                devs.append(Deviation(where, "no BookgDt; the value date is taken"))
                return value, value
            devs.append(
                Deviation(where, "neither BookgDt nor ValDt: no transaction is made", "error")
            )
        return booking, value

    def _date(self, ntry: Any, name: str, where: str, devs: list[Deviation]) -> date | None:
        text = self._text(ntry, f"{name}/Dt") or self._text(ntry, f"{name}/DtTm")
        if text is None:
            return None
        try:
            return date.fromisoformat(text[:10])  # DtTm: the date as the bank wrote it
        except ValueError:
            devs.append(Deviation(f"{where}/{name}", f"unreadable date {text!r}"))
            return None

    # -- values --

    def _find(self, element: Any, path: str) -> Any:
        return _first(self.index, element, _steps(self.ns, path))

    def _findall(self, element: Any, path: str) -> list[Any]:
        return _every(self.index, element, _steps(self.ns, path))

    def _text(self, element: Any, path: str) -> str | None:
        found = self._find(element, path)
        if found is None or found.text is None:
            return None
        text: str = found.text.strip()
        return text or None

    def _cents(self, text: str, currency: str, where: str, stmt: _Statement) -> int | None:
        value = text.strip()
        if _AMOUNT.fullmatch(value) is None:
            stmt.deviations.append(
                Deviation(where, f"amount {value!r} is not a plain non-negative decimal", "error")
            )
            return None
        minor = MINOR_UNITS.get(currency)
        if minor is None:
            minor = 2
            if currency not in stmt.warned_currencies:
                stmt.warned_currencies.add(currency)
                stmt.deviations.append(
                    Deviation(where, f"currency {currency!r} unknown here; read with 2 decimals")
                )
        scaled = Decimal(value).scaleb(minor)
        whole = scaled.to_integral_value(rounding=ROUND_HALF_UP)
        if whole != scaled:
            stmt.deviations.append(
                Deviation(
                    where,
                    f"amount {value} has more decimals than {currency} allows; rounded half up",
                    "error",
                )
            )
        return int(whole)


def _show(cents: int, minor: int) -> str:
    """Cents as a decimal string (``-43416`` → ``-434.16``)."""
    return str(Decimal(cents).scaleb(-minor))
