"""Load the debt-help contacts and repayment term from ``rules/<cc>/debt_help.toml``.

The file has a ``[national]`` contact (the fallback), ``[[municipalities]]`` rows with
inclusive postcode ranges (strings, e.g. ``[["1000", "1109"]]``) and/or ``names``, and an
optional ``[term]`` table (``rows`` of ``valid_from`` / ``months`` / ``source``) for the
term of an amicable debt settlement. Every contact needs ``source`` and ``valid_from``.
``RESPITE_RULES_DIR`` points at another folder with the same layout, as for the rule
packs (:func:`respite.rules.loader.rules_dir`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from respite.domain.referral import Contact, DebtHelpTable, MunicipalContact
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.fields import as_date, as_int, as_str, where
from respite.rules.loader import JURISDICTIONS, _read_toml, _table, rules_dir
from respite.rules.tables import RuleTable

__all__ = ["debt_help_path", "load_debt_help", "repayment_term_months"]


def debt_help_path(country: str) -> Path:
    return rules_dir() / country.strip().lower() / "debt_help.toml"


def load_debt_help(country: str) -> DebtHelpTable:
    """The debt-help table of ``country`` (``NL``, ``BE``, ``PL``), validated."""
    table, _ = _load(_code(country), str(rules_dir()))
    return table


def repayment_term_months(country: str, on: date) -> int:
    """The term of an amicable debt settlement on ``on`` (NL: 18 months since 2023-07-01).

    Raises :class:`~respite.errors.RuleCoverageError` naming the file when the country's
    table has no term or ``on`` is outside its coverage.
    """
    code = _code(country)
    _, term = _load(code, str(rules_dir()))
    if term is None:
        raise RuleCoverageError(
            f"{debt_help_path(code)} has no [term] table: give the term in months explicitly"
        )
    return term.value_at(on)


def _code(country: str) -> str:
    code = country.strip().upper()
    if code not in JURISDICTIONS:
        raise RuleCoverageError(
            f"no debt-help table for country {country!r} (known: {', '.join(JURISDICTIONS)})"
        )
    return code


@cache
def _load(code: str, folder: str) -> tuple[DebtHelpTable, RuleTable[int] | None]:
    # Keyed on the folder too, so that a changed RESPITE_RULES_DIR is honoured.
    path = Path(folder) / code.lower() / "debt_help.toml"
    origin = str(path)
    doc = _read_toml(path)
    if doc.get("country") != code:
        raise ValidationError(f"'country' must be {code!r}", field=origin)
    digits = as_int(doc, "postcode_digits", origin, "postcode_digits")
    national_section = doc.get("national")
    if not isinstance(national_section, Mapping):
        raise ValidationError("missing section [national]", field=origin)
    national = _contact(national_section, origin, "national", municipality="")
    rows = []
    for i, row in enumerate(doc.get("municipalities", [])):
        path_i = f"municipalities[{i}]"
        if not isinstance(row, Mapping):
            raise ValidationError("each row must be a table", field=where(origin, path_i))
        municipality = as_str(row, "municipality", origin, path_i)
        rows.append(
            MunicipalContact(
                contact=_contact(row, origin, path_i, municipality=municipality),
                postcodes=_ranges(row.get("postcodes", []), origin, path_i, digits),
                names=tuple(str(n) for n in row.get("names", [])),
            )
        )
    table = DebtHelpTable(code, national, tuple(rows), digits, origin)
    term = None
    if "term" in doc:
        section = doc["term"]
        if not isinstance(section, Mapping):
            raise ValidationError("[term] must be a table", field=origin)
        term = _table(
            section,
            as_str(section, "title", origin, "term"),
            origin,
            "term",
            lambda r, p: _months(r, origin, p),
        )
    return table, term


def _months(row: Mapping[str, Any], origin: str, path: str) -> int:
    months = as_int(row, "months", origin, path)
    if months <= 0:
        raise ValidationError("'months' must be positive", field=where(origin, path))
    return months


def _contact(row: Mapping[str, Any], origin: str, path: str, *, municipality: str) -> Contact:
    as_of = as_date(row, "valid_from", origin, path)
    website = row.get("website")
    phone = row.get("phone")
    for key, value in (("website", website), ("phone", phone)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValidationError(f"{key!r} must be a non-empty text", field=where(origin, path))
    return Contact(
        municipality=municipality,
        organisation=as_str(row, "organisation", origin, path),
        website=website,
        phone=phone,
        note=str(row.get("note", "")),
        source=as_str(row, "source", origin, path),
        as_of=as_of.isoformat(),
    )


def _ranges(value: Any, origin: str, path: str, digits: int) -> tuple[tuple[int, int], ...]:
    out = []
    if not isinstance(value, list):
        raise ValidationError("'postcodes' must be a list of pairs", field=where(origin, path))
    for pair in value:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(p, str) and p.isdigit() and len(p) == digits for p in pair)
        ):
            raise ValidationError(
                f"each postcode range is a pair of {digits}-digit strings such as "
                f'["1000", "1109"], got {pair!r}',
                field=where(origin, path),
            )
        out.append((int(pair[0]), int(pair[1])))
    return tuple(out)
