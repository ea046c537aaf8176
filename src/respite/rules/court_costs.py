"""Load the court-fee and bailiff tables from ``rules/<cc>/court_costs.toml``.

Same conventions as :mod:`respite.rules.loader`: every row has ``valid_from`` and
``source``; amounts are quoted strings; a missing field, a float or a malformed band is an
error naming the file and the place in it; ``covered_until`` ends a table's coverage so a
later date is a :class:`~respite.errors.RuleCoverageError` naming the file; a row with
``known = false`` marks a period whose figures were not found (a lookup in it is an error
too, never the previous period's figure). ``RESPITE_RULES_DIR`` points at another folder
with the same layout. Only NL has a table so far; another country is a coverage error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from respite.domain.court_costs import BailiffTariffs, CourtCostTables, FeeBand, FeeSchedule
from respite.domain.money import Currency
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.affordability import _rows
from respite.rules.fields import as_decimal, as_str, where
from respite.rules.loader import JURISDICTIONS, _read_toml, _section, rules_dir
from respite.rules.tables import RuleTable

__all__ = ["court_costs_path", "load_court_costs"]

BAILIFF_ACTS = ("summons", "service_of_judgment", "wage_garnishment")
T = TypeVar("T")


def court_costs_path(jurisdiction: str) -> Path:
    return rules_dir() / jurisdiction.strip().lower() / "court_costs.toml"


def load_court_costs(jurisdiction: str) -> CourtCostTables:
    """The court-cost tables of ``jurisdiction``, validated (cached per rules folder)."""
    code = jurisdiction.strip().upper()
    if code not in JURISDICTIONS:
        raise ValidationError(
            f"unknown jurisdiction {jurisdiction!r} (known: {', '.join(JURISDICTIONS)})",
            field="--jurisdiction",
        )
    return _load(code, str(rules_dir()))


@cache
def _load(code: str, folder: str) -> CourtCostTables:
    path = Path(folder) / code.lower() / "court_costs.toml"
    if not path.exists():
        raise RuleCoverageError(
            f"no court-cost table for {code}: {path} is missing (court fees and bailiff "
            "tariffs are known for NL only)"
        )
    origin = str(path)
    doc = _read_toml(path)
    if doc.get("jurisdiction") != code:
        raise ValidationError(f"'jurisdiction' must be {code!r}", field=origin)
    currency = Currency.of(as_str(doc, "currency", origin, "currency"))
    limit = _section(doc, "kanton_limit", origin)
    fee = _section(doc, "court_fee", origin)
    bailiff = _section(doc, "bailiff", origin)
    return CourtCostTables(
        jurisdiction=code,
        currency=currency,
        origin=origin,
        court_fee=_titled_rows(fee, origin, "court_fee", _schedule),
        bailiff=_titled_rows(bailiff, origin, "bailiff", _tariffs),
        claim_limit=as_decimal(limit, "amount", origin, "kanton_limit"),
        claim_limit_source=as_str(limit, "source", origin, "kanton_limit"),
    )


def _titled_rows(
    section: Mapping[str, Any],
    origin: str,
    path: str,
    parse: Callable[[Mapping[str, Any], str, str], T],
) -> RuleTable[T | None]:
    """The versioned rows of a section named by its ``title``, each parsed by
    ``parse(row, origin, path)``; a row may say ``known = false`` (the figure is unsettled)."""
    return _rows(
        section,
        as_str(section, "title", origin, path),
        origin,
        path,
        lambda row, p: parse(row, origin, p),
        allow_unknown=True,
    )


def _schedule(row: Mapping[str, Any], origin: str, path: str) -> FeeSchedule:
    items = row.get("bands")
    if not isinstance(items, list) or not items:
        raise ValidationError("needs a non-empty list 'bands'", field=where(origin, path))
    bands: list[FeeBand] = []
    for i, item in enumerate(items):
        p = f"{path}.bands[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError("each band must be a table", field=where(origin, p))
        unknown = sorted(set(item) - {"up_to", "legal", "natural", "indigent"})
        if unknown:
            raise ValidationError(f"unknown key(s) {', '.join(unknown)}", field=where(origin, p))
        bands.append(
            FeeBand(
                up_to=as_decimal(item, "up_to", origin, p) if "up_to" in item else None,
                legal=_positive(item, "legal", origin, p),
                natural=_positive(item, "natural", origin, p),
                indigent=_positive(item, "indigent", origin, p) if "indigent" in item else None,
            )
        )
    caps = [b.up_to for b in bands[:-1]]
    if any(c is None for c in caps) or bands[-1].up_to is not None:
        raise ValidationError(
            "only the last band may (and must) lack 'up_to'", field=where(origin, path)
        )
    known = [c for c in caps if c is not None]
    if known != sorted(known) or len(set(known)) != len(known):
        raise ValidationError("'up_to' bounds must increase", field=where(origin, path))
    return FeeSchedule(tuple(bands))


def _tariffs(row: Mapping[str, Any], origin: str, path: str) -> BailiffTariffs:
    values = {
        act: _positive(row, act, origin, path) if act in row else None for act in BAILIFF_ACTS
    }
    if all(v is None for v in values.values()):
        raise ValidationError(
            f"a known row needs at least one of {', '.join(BAILIFF_ACTS)}",
            field=where(origin, path),
        )
    return BailiffTariffs(**values)


def _positive(row: Mapping[str, Any], key: str, origin: str, path: str) -> Decimal:
    value = as_decimal(row, key, origin, path)
    if value <= 0:
        raise ValidationError(f"{key!r} must be above zero", field=where(origin, path))
    return value
