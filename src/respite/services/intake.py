"""Claim intake: creditors, and files of claims read, validated row by row, then applied.

A claims file is CSV (UTF-8, a header row, ``,`` or ``;`` between values) or JSON (a list
of objects, or ``{"claims": [...]}``) with the same field names:

=========================  ========  ====================================================
field                      required  meaning
=========================  ========  ====================================================
``external_ref``           yes       the creditor's invoice number; unique per creditor
``debtor_type``            yes       ``consumer`` or ``business``
``debtor_name``            yes       person or company name
``debtor_email``                     e-mail address
``debtor_phone``                     phone number
``debtor_iban``                      IBAN (ISO 13616, checked digit by digit)
``debtor_street``                    street and house number
``debtor_postcode``                  postcode
``debtor_city``                      city
``debtor_country``                   ISO 3166 code; default: the creditor's jurisdiction
``debtor_language``                  ISO 639 code; default by country: NL, BE → nl; PL → pl
``debtor_birth_date``                YYYY-MM-DD (recognises the person across creditors)
``debtor_company_number``            business only (KvK, KBO, KRS/NIP ...)
``description``                      what the invoice was for
``issue_date``             yes       YYYY-MM-DD
``due_date``               yes       YYYY-MM-DD, not before the issue date, already passed
``amount``                 yes       ``1.234,56`` or ``1,234.56``; more than zero
``currency``                         default and only allowed value: the creditor's
=========================  ========  ====================================================

Like a beancount loader, validation returns a value, an :class:`IntakeReport` listing
*every* problem of *every* row, instead of stopping at the first. :func:`apply_intake`
writes nothing unless the whole file is good (or the caller asks to skip the bad rows),
and then writes everything in one transaction: a file is never half imported.

Rows of one debtor in one file become one case with several claims, so one reminder
covers them all (NL art. 6:96 lid 7 BW: collection costs are computed once over the sum).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from schwifty import IBAN
from sqlalchemy import ColumnElement, Connection, Engine, Row, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from respite.adapters.db.models import Claim, Creditor, Debtor, ImportBatch
from respite.domain.money import Currency, Money, parse_amount
from respite.errors import ConflictError, ValidationError
from respite.rules.loader import JURISDICTIONS, load_pack
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    case_reference,
    ensure_creditor,
    identity_key,
    open_cases,
    upsert_debtors,
)

__all__ = [
    "FIELDS",
    "REQUIRED",
    "ClaimsFile",
    "CreditorInfo",
    "CreditorTerms",
    "IntakeRejected",
    "IntakeReport",
    "IntakeResult",
    "RawRow",
    "RowProblem",
    "ValidRow",
    "apply_claims_file",
    "apply_intake",
    "group_cases",
    "list_creditors",
    "parse_claims",
    "read_claims_file",
    "register_creditor",
    "validate_rows",
]

REQUIRED = ("external_ref", "debtor_type", "debtor_name", "issue_date", "due_date", "amount")
FIELDS = (
    "external_ref",
    "debtor_type",
    "debtor_name",
    "debtor_email",
    "debtor_phone",
    "debtor_iban",
    "debtor_street",
    "debtor_postcode",
    "debtor_city",
    "debtor_country",
    "debtor_language",
    "debtor_birth_date",
    "debtor_company_number",
    "description",
    "issue_date",
    "due_date",
    "amount",
    "currency",
)
# The widths of the database columns: a longer value is a row problem here rather than a
# failed INSERT (PostgreSQL refuses it, SQLite would silently keep it).
MAX_LENGTH = {
    "external_ref": 100,
    "debtor_name": 200,
    "debtor_email": 254,
    "debtor_phone": 40,
    "debtor_street": 200,
    "debtor_postcode": 20,
    "debtor_city": 100,
    "debtor_company_number": 50,
    "description": 300,
}
DEBTOR_TYPES = {"consumer": "consumer", "business": "commercial"}  # → interest kind
# Default language of a debtor by country; Flemish debtors are the larger part of BE
# collection, and a French-speaking one is given debtor_language = fr.
LANGUAGES = {"NL": "nl", "BE": "nl", "PL": "pl"}
ZONES = {"NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "PL": "Europe/Warsaw"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
_CHUNK = 5000  # parameters per IN (...): well below SQLite's and PostgreSQL's limits


# --- values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One thing wrong with one field of one row (CSV: the file's line number)."""

    row: int
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        shown = f": {self.value!r}" if self.value else ""
        return f"row {self.row}, {self.field}{shown} — {self.message}"


@dataclass(frozen=True, slots=True)
class RawRow:
    """A row as read from the file, with the problems the reader already saw."""

    row: int
    values: Mapping[str, str]
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidRow:
    row: int
    debtor: NewDebtor
    claim: NewClaim


@dataclass(frozen=True, slots=True)
class IntakeReport:
    """Every problem of every row, and the rows that passed."""

    rows_total: int
    valid: tuple[ValidRow, ...]
    problems: tuple[RowProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def invalid_rows(self) -> tuple[int, ...]:
        return tuple(sorted({p.row for p in self.problems}))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass(frozen=True, slots=True)
class CreditorTerms:
    """What validation needs to know about the creditor."""

    name: str
    jurisdiction: str
    currency: Currency


@dataclass(frozen=True, slots=True)
class ClaimsFile:
    name: str
    sha256: str
    rows: tuple[RawRow, ...]


@dataclass(frozen=True, slots=True)
class IntakeResult:
    filename: str
    sha256: str
    creditor: str
    business_date: date
    rows_total: int
    rows_imported: int
    cases: tuple[str, ...]  # references of the cases opened
    claims: int
    debtors_new: int
    debtors_known: int
    skipped: tuple[RowProblem, ...]

    @property
    def rows_skipped(self) -> int:
        return self.rows_total - self.rows_imported

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.filename,
            "sha256": self.sha256,
            "creditor": self.creditor,
            "business_date": self.business_date.isoformat(),
            "rows_total": self.rows_total,
            "rows_imported": self.rows_imported,
            "rows_skipped": self.rows_skipped,
            "cases_opened": len(self.cases),
            "cases": list(self.cases),
            "claims": self.claims,
            "debtors_new": self.debtors_new,
            "debtors_known": self.debtors_known,
            "problems": [_problem_dict(p) for p in self.skipped],
        }


class IntakeRejected(ValidationError):
    """The file has problems and nothing was imported; ``report`` lists them all."""

    def __init__(self, filename: str, report: IntakeReport) -> None:
        rows = len(report.invalid_rows)
        super().__init__(
            f"{filename}: {len(report.problems)} problem(s) in {rows} of "
            f"{report.rows_total} row(s); nothing imported"
        )
        self.filename = filename
        self.report = report

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.filename,
            "imported": False,
            "rows_total": self.report.rows_total,
            "rows_invalid": len(self.report.invalid_rows),
            "problems": [_problem_dict(p) for p in self.report.problems],
        }


def _problem_dict(p: RowProblem) -> dict[str, object]:
    return {"row": p.row, "field": p.field, "value": p.value, "message": p.message}


# --- reading -----------------------------------------------------------------------


def read_claims_file(path: Path) -> ClaimsFile:
    """The rows of a claims file; a file that is not a claims file is one clear error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the file ({exc.strerror})") from None
    return ClaimsFile(path.name, hashlib.sha256(data).hexdigest(), parse_claims(data, str(path)))


def parse_claims(data: bytes, name: str) -> tuple[RawRow, ...]:
    """Rows from the bytes of a CSV or JSON file (``name`` picks the format and is quoted)."""
    text = _decode(data, name)
    if not text.strip():
        raise ValidationError(f"{name}: the file is empty")
    rows = _json_rows(text, name) if _is_json(name, text) else _csv_rows(text, name)
    if not rows:
        raise ValidationError(f"{name}: the file has no claims")
    return rows


def _decode(data: bytes, name: str) -> str:
    # Spreadsheet programs put a byte-order mark in front of a UTF-8 CSV.
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        offset = exc.start + len(data) - len(body)
        raise ValidationError(
            f"{name}: not UTF-8 text (line {line}, byte {offset}); save the file as UTF-8"
        ) from None


def _is_json(name: str, text: str) -> bool:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix == ".json"
    return text.lstrip()[:1] in ("[", "{")


def _csv_rows(text: str, name: str) -> tuple[RawRow, ...]:
    first_line = text.split("\n", 1)[0]
    # The header names hold neither separator, so the one found there is the delimiter.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[RawRow] = []
    try:
        header = _csv_header(next(reader), name)
        while True:
            line = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            if any(cell.strip() for cell in record):
                rows.append(_csv_record(line, header, record))
    except csv.Error as exc:
        raise ValidationError(f"{name}: malformed CSV at line {reader.line_num}: {exc}") from None
    return tuple(rows)


def _csv_header(record: list[str], name: str) -> list[str]:
    columns = [c.strip().lower() for c in record]
    while columns and not columns[-1]:  # a separator at the end of the line
        columns.pop()
    wrong: list[str] = []
    unknown = [c for c in columns if c not in FIELDS]
    if unknown:
        wrong.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        wrong.append(f"column(s) given twice {', '.join(map(repr, twice))}")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        wrong.append(f"missing column(s) {', '.join(missing)}")
    if wrong:
        raise ValidationError(
            f"{name}, line 1 (header): {'; '.join(wrong)}; the columns are {', '.join(FIELDS)}"
        )
    return columns


def _csv_record(line: int, header: list[str], record: list[str]) -> RawRow:
    # Spreadsheets often end every line with one separator too many: empty extra cells.
    while len(record) > len(header) and not record[-1].strip():
        record = record[:-1]
    if len(record) != len(header):
        problem = RowProblem(
            line, "row", "", f"has {len(record)} values; the header has {len(header)} columns"
        )
        return RawRow(line, {}, (problem,))
    return RawRow(line, {c: v.strip() for c, v in zip(header, record, strict=True)})


def _json_rows(text: str, name: str) -> tuple[RawRow, ...]:
    try:
        # Decimal, not float, for numbers: an amount never passes through binary floating point.
        doc = json.loads(text, parse_float=Decimal, parse_constant=str)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    items = _json_items(doc, name)
    return tuple(_json_record(i, item, name) for i, item in enumerate(items, start=1))


def _json_items(doc: object, name: str) -> list[object]:
    if isinstance(doc, dict) and set(doc) == {"claims"}:
        doc = doc["claims"]
    if not isinstance(doc, list):
        raise ValidationError(
            f'{name}: expected a JSON list of claims or an object {{"claims": [...]}}, '
            f"got {_json_type(doc)}"
        )
    return doc


def _json_record(row: int, item: object, name: str) -> RawRow:
    if not isinstance(item, dict):
        raise ValidationError(f"{name}: claim {row} is {_json_type(item)}, expected an object")
    values: dict[str, str] = {}
    problems: list[RowProblem] = []
    for key, value in item.items():
        if key not in FIELDS:
            problems.append(RowProblem(row, key, _shown(value), "unknown field"))
        elif isinstance(value, str):
            values[key] = value.strip()
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            values[key] = str(value)
        elif value is not None:
            problems.append(
                RowProblem(row, key, _shown(value), f"expected text, got {_json_type(value)}")
            )
    return RawRow(row, values, tuple(problems))


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    return "null" if value is None else names.get(type(value), "a number")


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


# --- validation --------------------------------------------------------------------


def validate_rows(
    rows: Sequence[RawRow],
    terms: CreditorTerms,
    *,
    on: date,
    known_refs: Collection[str] = frozenset(),
) -> IntakeReport:
    """Check every row; ``known_refs`` are the creditor's external references on file."""
    candidates: list[ValidRow] = []
    problems: list[RowProblem] = []
    for raw in rows:
        valid, found = _check_row(raw, terms, on)
        problems.extend(found)
        if valid is not None:
            candidates.append(valid)
    problems.extend(_duplicate_refs(rows, known_refs))
    problems.extend(_debtor_conflicts(candidates))
    bad = {p.row for p in problems}
    return IntakeReport(
        rows_total=len(rows),
        valid=tuple(c for c in candidates if c.row not in bad),
        problems=tuple(sorted(problems, key=lambda p: p.row)),
    )


class _RowCheck:
    """Collects the problems of one row while its fields are read."""

    def __init__(self, raw: RawRow) -> None:
        self.row = raw.row
        self.values = raw.values
        self.problems: list[RowProblem] = list(raw.problems)

    def fail(self, field: str, value: str, message: str) -> None:
        self.problems.append(RowProblem(self.row, field, value, message))

    def text(self, field: str) -> str | None:
        value = self.values.get(field, "").strip()
        if not value:
            if field in REQUIRED:
                self.fail(field, "", "is required")
            return None
        limit = MAX_LENGTH.get(field)
        if limit is not None and len(value) > limit:
            self.fail(field, value, f"is longer than {limit} characters")
            return None
        return value


def _check_row(
    raw: RawRow, terms: CreditorTerms, on: date
) -> tuple[ValidRow | None, list[RowProblem]]:
    check = _RowCheck(raw)
    if raw.problems and not raw.values:  # the reader could not split the row into fields
        return None, check.problems
    kind = _debtor_kind(check)
    debtor = _debtor(check, terms, kind, on)
    claim = _claim(check, terms, kind, on)
    if check.problems or debtor is None or claim is None:
        return None, check.problems
    return ValidRow(raw.row, debtor, claim), []


def _debtor_kind(check: _RowCheck) -> str | None:
    value = check.text("debtor_type")
    if value is None:
        return None
    if value.lower() not in DEBTOR_TYPES:
        check.fail("debtor_type", value, "unknown debtor type; expected consumer or business")
        return None
    return value.lower()


def _debtor(check: _RowCheck, terms: CreditorTerms, kind: str | None, on: date) -> NewDebtor | None:
    name = check.text("debtor_name")
    country = _country(check, terms)
    language = _language(check, country)
    birth_date = _date(check, "debtor_birth_date")
    if birth_date is not None and birth_date >= on:
        check.fail("debtor_birth_date", str(birth_date), f"is not before {on}")
    postcode = check.text("debtor_postcode")
    key = _identity(check, name, kind, birth_date, postcode)
    email, phone, iban = _email(check), _phone(check), _iban(check)
    street, city = check.text("debtor_street"), check.text("debtor_city")
    if name is None or kind is None or country is None or language is None or key is None:
        return None
    return NewDebtor(
        identity_key=key,
        kind=kind,
        name=name,
        country=country,
        language=language,
        # Outside the three jurisdictions: the agency's own zone, in which it works anyway.
        timezone=ZONES.get(country, ZONES.get(terms.jurisdiction, "Europe/Amsterdam")),
        email=email,
        phone=phone,
        iban=iban,
        street=street,
        postcode=postcode,
        city=city,
        birth_date=birth_date,
    )


def _identity(
    check: _RowCheck,
    name: str | None,
    kind: str | None,
    birth_date: date | None,
    postcode: str | None,
) -> str | None:
    company = check.text("debtor_company_number")
    if company is not None and kind == "consumer":
        check.fail("debtor_company_number", company, "only a business debtor has one")
        return None
    if name is None:
        return None
    key = identity_key(name, birth_date=birth_date, postcode=postcode, company_number=company)
    if len(key) > 200:  # Debtor.identity_key is String(200)
        check.fail("debtor_name", name, "is too long to recognise the debtor by")
        return None
    return key


def _country(check: _RowCheck, terms: CreditorTerms) -> str | None:
    value = check.text("debtor_country")
    if value is None:
        return terms.jurisdiction
    if not _COUNTRY.fullmatch(value.upper()):
        check.fail("debtor_country", value, "expected a two-letter country code such as NL")
        return None
    return value.upper()


def _language(check: _RowCheck, country: str | None) -> str | None:
    value = check.text("debtor_language")
    if value is not None:
        if not _LANGUAGE.fullmatch(value.lower()):
            check.fail("debtor_language", value, "expected a two-letter language code such as nl")
            return None
        return value.lower()
    if country is None or country in LANGUAGES:
        return LANGUAGES.get(country or "")
    check.fail("debtor_language", "", f"is required for a debtor in {country}")
    return None


def _email(check: _RowCheck) -> str | None:
    value = check.text("debtor_email")
    if value is None:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        check.fail("debtor_email", value, f"malformed e-mail address: {exc}")
        return None


def _phone(check: _RowCheck) -> str | None:
    value = check.text("debtor_phone")
    if value is None:
        return None
    digits = sum(ch.isdigit() for ch in value)
    # E.164 allows at most 15 digits; fewer than 6 is no phone number anywhere.
    if not _PHONE.fullmatch(value) or not 6 <= digits <= 15:
        check.fail("debtor_phone", value, "malformed phone number")
        return None
    return value


def _iban(check: _RowCheck) -> str | None:
    value = check.text("debtor_iban")
    if value is None:
        return None
    try:
        return str(IBAN(value).compact)
    except ValueError as exc:  # schwifty's errors are ValueErrors naming the broken part
        check.fail("debtor_iban", value, f"malformed IBAN: {str(exc).lower()}")
        return None


def _claim(check: _RowCheck, terms: CreditorTerms, kind: str | None, on: date) -> NewClaim | None:
    ref = check.text("external_ref")
    issue, due = _date(check, "issue_date"), _date(check, "due_date")
    if issue is not None and due is not None and due < issue:
        check.fail("due_date", str(due), f"is before the issue date {issue}")
    elif due is not None and due >= on:
        # Default, and with it interest, starts the day after the due date.
        check.fail("due_date", str(due), f"is not yet overdue on {on}")
    currency = _currency(check, terms)
    amount = _amount(check, currency or terms.currency)
    description = check.text("description") or ""
    if ref is None or issue is None or due is None or amount is None or kind is None:
        return None
    return NewClaim(
        external_ref=ref,
        issue_date=issue,
        due_date=due,
        principal=amount,
        description=description,
        interest_kind=DEBTOR_TYPES[kind],
    )


def _date(check: _RowCheck, field: str) -> date | None:
    value = check.text(field)
    if value is None:
        return None
    # fromisoformat alone would also take 20250105 and 2025-W01-7.
    if not _ISO_DATE.fullmatch(value):
        check.fail(field, value, "expected a date as YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        check.fail(field, value, "is not a date in the calendar")
        return None


def _currency(check: _RowCheck, terms: CreditorTerms) -> Currency | None:
    value = check.text("currency")
    if value is None:
        return terms.currency
    if value.upper() not in Currency.__members__:
        known = ", ".join(c.code for c in Currency)
        check.fail("currency", value, f"unknown currency (known: {known})")
        return None
    currency = Currency.of(value)
    if currency is not terms.currency:
        check.fail(
            "currency", value, f"creditor {terms.name} takes claims in {terms.currency} only"
        )
        return None
    return currency


def _amount(check: _RowCheck, currency: Currency) -> Money | None:
    value = check.text("amount")
    if value is None:
        return None
    try:
        amount = parse_amount(value, currency)
    except ValidationError as exc:
        check.fail("amount", value, str(exc))
        return None
    if amount <= 0:
        check.fail("amount", value, "must be more than zero")
        return None
    return Money(amount, currency)


def _duplicate_refs(rows: Sequence[RawRow], known: Collection[str]) -> list[RowProblem]:
    """Each repeat of a reference after its first row, and every reference already on file."""
    first: dict[str, int] = {}
    problems: list[RowProblem] = []
    for raw in rows:
        ref = raw.values.get("external_ref", "").strip()
        if not ref:
            continue
        if ref in known:
            message = "duplicate external reference: already imported for this creditor"
        elif ref in first:
            message = f"duplicate external reference: also on row {first[ref]}"
        else:
            first[ref] = raw.row
            continue
        problems.append(RowProblem(raw.row, "external_ref", ref, message))
    return problems


def _debtor_conflicts(rows: Iterable[ValidRow]) -> list[RowProblem]:
    """Rows that describe one debtor as both a consumer and a business."""
    first: dict[str, ValidRow] = {}
    problems: list[RowProblem] = []
    for row in rows:
        seen = first.setdefault(row.debtor.identity_key, row)
        if seen.debtor.kind != row.debtor.kind:
            problems.append(
                RowProblem(
                    row.row,
                    "debtor_type",
                    row.debtor.kind,
                    f"row {seen.row} has the same debtor as {seen.debtor.kind}",
                )
            )
    return problems


def group_cases(valid: Iterable[ValidRow]) -> tuple[tuple[NewDebtor, ...], tuple[NewCase, ...]]:
    """One case per debtor of the file, holding all of that debtor's claims in file order."""
    debtors: dict[str, NewDebtor] = {}
    claims: dict[str, list[NewClaim]] = {}
    for row in valid:
        key = row.debtor.identity_key
        debtors.setdefault(key, row.debtor)
        claims.setdefault(key, []).append(row.claim)
    cases = tuple(NewCase(key, tuple(found)) for key, found in claims.items())
    return tuple(debtors.values()), cases


# --- applying ----------------------------------------------------------------------


def apply_intake(
    engine: Engine,
    creditor_name: str,
    path: Path,
    *,
    on: date,
    skip_invalid: bool,
    now: datetime,
) -> IntakeResult:
    """Import a claims file in one transaction, or raise :class:`IntakeRejected` and write nothing.

    With ``skip_invalid`` the valid rows are imported and the rest reported in the result;
    a file without a single valid row is still rejected.
    """
    claims_file = read_claims_file(path)
    try:
        with engine.begin() as conn:
            return apply_claims_file(
                conn, creditor_name, claims_file, on=on, skip_invalid=skip_invalid, now=now
            )
    except IntegrityError:
        # The duplicate check ran in this transaction, so only a concurrent writer gets here;
        # the unique constraints refused its half and the whole transaction rolled back.
        raise ConflictError(
            f"{path}: another import wrote the same claims or ids at the same time; "
            "nothing imported, run it again"
        ) from None


def apply_claims_file(
    conn: Connection,
    creditor_name: str,
    claims_file: ClaimsFile,
    *,
    on: date,
    skip_invalid: bool,
    now: datetime,
) -> IntakeResult:
    """Validate and import a parsed claims file inside the caller's transaction (the CLI's
    file import and the API's uploads both come here), or raise :class:`IntakeRejected`."""
    creditor_id, terms = _creditor_terms(conn, creditor_name)
    refs = {r.values.get("external_ref", "").strip() for r in claims_file.rows} - {""}
    known_refs = _present(conn, Claim.external_ref, refs, Claim.creditor_id == creditor_id)
    report = validate_rows(claims_file.rows, terms, on=on, known_refs=known_refs)
    if report.problems and not (skip_invalid and report.valid):
        raise IntakeRejected(claims_file.name, report)
    debtors, cases = group_cases(report.valid)
    known_debtors = _present(conn, Debtor.identity_key, {d.identity_key for d in debtors})
    debtor_ids = upsert_debtors(conn, debtors, now=now)
    # Column widths: actor is String(100), filename String(300).
    actor = f"import:{claims_file.name}"[:100]
    case_ids = open_cases(
        conn, creditor_id, cases, debtor_ids, on=on, actor=actor, reason="claim intake", now=now
    )
    conn.execute(
        insert(ImportBatch).values(
            creditor_id=creditor_id,
            filename=claims_file.name[:300],
            sha256=claims_file.sha256,
            rows_total=report.rows_total,
            rows_imported=len(report.valid),
            rows_skipped=report.rows_total - len(report.valid),
            imported_at=now,
        )
    )
    return IntakeResult(
        filename=claims_file.name,
        sha256=claims_file.sha256,
        creditor=terms.name,
        business_date=on,
        rows_total=report.rows_total,
        rows_imported=len(report.valid),
        cases=tuple(case_reference(i) for i in case_ids),
        claims=len(report.valid),
        debtors_new=len(debtors) - len(known_debtors),
        debtors_known=len(known_debtors),
        skipped=report.problems,
    )


def _creditor_terms(conn: Connection, name: str) -> tuple[int, CreditorTerms]:
    # FOR UPDATE (PostgreSQL): two imports for one creditor take turns, so the duplicate
    # check of the second sees the claims of the first.
    row = conn.execute(
        select(Creditor.id, Creditor.jurisdiction, Creditor.currency)
        .where(Creditor.name == name)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise ValidationError(f"unknown creditor {name!r}; create it with `respite creditor add`")
    return int(row.id), CreditorTerms(name, row.jurisdiction, Currency.of(row.currency))


def _present(
    conn: Connection,
    column: InstrumentedAttribute[str],
    values: Collection[str],
    *criteria: ColumnElement[bool],
) -> frozenset[str]:
    """Which of ``values`` the column already holds (in chunks, for files of any size)."""
    ordered = sorted(values)
    found: set[str] = set()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        found.update(conn.execute(select(column).where(column.in_(chunk), *criteria)).scalars())
    return frozenset(found)


# --- creditors ---------------------------------------------------------------------
# Kept beside intake: a creditor is taken on so that its claims can be taken in.

_STRATEGY = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


@dataclass(frozen=True, slots=True)
class CreditorInfo:
    id: int
    name: str
    jurisdiction: str
    currency: str
    strategy: str
    vat_uplift_declared: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "currency": self.currency,
            "strategy": self.strategy,
            "vat_uplift_declared": self.vat_uplift_declared,
        }


def register_creditor(
    engine: Engine,
    name: str,
    *,
    jurisdiction: str,
    now: datetime,
    currency: str | None = None,
    strategy: str = "standard",
    vat_uplift_declared: bool = False,
) -> tuple[CreditorInfo, bool]:
    """The creditor and whether it was created now.

    Adding the same creditor twice with the same terms is a no-op (a retried command);
    with other terms it is a conflict, never a silent change.
    """
    wanted = _creditor_terms_checked(name, jurisdiction, currency, strategy, vat_uplift_declared)
    with engine.begin() as conn:
        existing = _creditor_info(conn, wanted.name)
        if existing is not None:
            if _same_terms(existing, wanted):
                return existing, False
            raise ConflictError(
                f"creditor {wanted.name!r} already exists with jurisdiction "
                f"{existing.jurisdiction}, currency {existing.currency}, strategy "
                f"{existing.strategy}, VAT uplift declared {existing.vat_uplift_declared}"
            )
        new_id = ensure_creditor(
            conn,
            wanted.name,
            jurisdiction=wanted.jurisdiction,
            currency=wanted.currency,
            strategy=wanted.strategy,
            vat_uplift_declared=wanted.vat_uplift_declared,
            now=now,
        )
    return replace(wanted, id=new_id), True


def list_creditors(engine: Engine) -> tuple[CreditorInfo, ...]:
    with engine.connect() as conn:
        rows = conn.execute(_CREDITOR_COLUMNS.order_by(Creditor.name)).all()
    return tuple(_info(row) for row in rows)


def _creditor_terms_checked(
    name: str, jurisdiction: str, currency: str | None, strategy: str, vat: bool
) -> CreditorInfo:
    clean = " ".join(name.split())
    if not clean or len(clean) > 200:
        raise ValidationError("must be 1 to 200 characters", field="name")
    code = jurisdiction.strip().upper()
    if code not in JURISDICTIONS:
        raise ValidationError(
            f"must be one of {', '.join(JURISDICTIONS)}, got {jurisdiction!r}", field="jurisdiction"
        )
    try:
        cur = load_pack(code).currency if currency is None else Currency.of(currency)
    except ValidationError as exc:
        raise ValidationError(str(exc), field="currency") from None
    if not _STRATEGY.fullmatch(strategy):
        raise ValidationError(
            f"expected a name of lowercase letters, digits, - and _, got {strategy!r}",
            field="strategy",
        )
    return CreditorInfo(0, clean, code, cur.code, strategy, vat)


def _same_terms(a: CreditorInfo, b: CreditorInfo) -> bool:
    return (a.jurisdiction, a.currency, a.strategy, a.vat_uplift_declared) == (
        b.jurisdiction,
        b.currency,
        b.strategy,
        b.vat_uplift_declared,
    )


_CREDITOR_COLUMNS = select(
    Creditor.id,
    Creditor.name,
    Creditor.jurisdiction,
    Creditor.currency,
    Creditor.strategy,
    Creditor.vat_uplift_declared,
)


def _creditor_info(conn: Connection, name: str) -> CreditorInfo | None:
    row = conn.execute(_CREDITOR_COLUMNS.where(Creditor.name == name)).one_or_none()
    return None if row is None else _info(row)


def _info(row: Row[int, str, str, str, str, bool]) -> CreditorInfo:
    return CreditorInfo(
        id=int(row.id),
        name=row.name,
        jurisdiction=row.jurisdiction,
        currency=row.currency,
        strategy=row.strategy,
        vat_uplift_declared=bool(row.vat_uplift_declared),
    )
