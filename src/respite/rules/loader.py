"""Load a jurisdiction's rule pack from ``rules/<country>/*.toml`` (and ``*.csv``).

A compliance officer changes a rate by editing a file, not code. The files ship inside the
package; ``RESPITE_RULES_DIR`` points the loader at another folder with the same layout
(for a rate that must be added before a release). Every row needs ``valid_from`` and
``source``; a missing field, a float, or an unknown key is an error naming the file and
the place in it.
"""

from __future__ import annotations

import csv
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from respite.domain.allocation import Bucket
from respite.domain.costs import Bracket, FixedSum, Scale, Tier, marginal_tiers
from respite.domain.interest import Compounding, DayCount
from respite.domain.money import Currency
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.fields import as_bool, as_date, as_decimal, as_int, as_str, where
from respite.rules.packs import (
    Aggregation,
    CostMethod,
    CostRule,
    HolidayCalendar,
    InterestRule,
    NoticeMethod,
    NoticeRule,
    RulePack,
)
from respite.rules.tables import RuleTable, Versioned

__all__ = ["JURISDICTIONS", "load_pack", "rules_dir"]

JURISDICTIONS = ("NL", "BE", "PL")
T = TypeVar("T")
Row = Mapping[str, Any]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def rules_dir() -> Path:
    override = os.environ.get("RESPITE_RULES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RuleCoverageError(f"rule file {path} is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path}: not valid TOML: {exc}") from None


def _section(doc: Mapping[str, Any], key: str, origin: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, Mapping):
        raise ValidationError(f"missing section [{key}]", field=origin)
    return value


def _table(
    section: Mapping[str, Any],
    name: str,
    origin: str,
    path: str,
    parse: Callable[[Row, str], T],
) -> RuleTable[T]:
    rows = section.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValidationError("needs a non-empty list 'rows'", field=where(origin, path))
    parsed: list[Versioned[T]] = []
    for i, row in enumerate(rows):
        row_path = f"{path}.rows[{i}]"
        if not isinstance(row, Mapping):
            raise ValidationError("each row must be a table", field=where(origin, row_path))
        parsed.append(
            Versioned(
                as_date(row, "valid_from", origin, row_path),
                parse(row, row_path),
                as_str(row, "source", origin, row_path),
            )
        )
    until = section.get("covered_until")
    covered_until = as_date(section, "covered_until", origin, path) if until is not None else None
    return RuleTable(name, origin, tuple(parsed), covered_until)


def _enum(value: Any, kind: type[Any], field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(m.value) for m in kind)
        raise ValidationError(f"unknown value {value!r} (known: {known})", field=field) from None


# costs --------------------------------------------------------------------------


def _scale(origin: str) -> Callable[[Row, str], Scale]:
    def parse(row: Row, path: str) -> Scale:
        minimum = as_decimal(row, "minimum", origin, path) if "minimum" in row else None
        maximum = as_decimal(row, "maximum", origin, path) if "maximum" in row else None
        if "brackets" in row:
            brackets = [
                Bracket(
                    as_decimal(b, "up_to", origin, f"{path}.brackets[{i}]")
                    if "up_to" in b
                    else None,
                    as_decimal(b, "percent", origin, f"{path}.brackets[{i}]"),
                )
                for i, b in enumerate(row["brackets"])
            ]
            tiers = marginal_tiers(brackets)
        else:
            tiers = tuple(
                Tier(
                    as_decimal(t, "above", origin, f"{path}.tiers[{i}]"),
                    as_decimal(t, "fixed", origin, f"{path}.tiers[{i}]"),
                    as_decimal(t, "percent", origin, f"{path}.tiers[{i}]"),
                )
                for i, t in enumerate(row.get("tiers", ()))
            )
        return Scale(tiers, minimum, maximum)

    return parse


def _bands(origin: str) -> Callable[[Row, str], tuple[FixedSum, ...]]:
    def parse(row: Row, path: str) -> tuple[FixedSum, ...]:
        out = []
        for i, band in enumerate(row.get("bands", ())):
            p = f"{path}.bands[{i}]"
            out.append(
                FixedSum(
                    as_decimal(band, "above", origin, p) if "above" in band else None,
                    as_decimal(band, "up_to", origin, p) if "up_to" in band else None,
                    as_decimal(band, "amount", origin, p),
                    as_bool(band, "up_to_inclusive", origin, p)
                    if "up_to_inclusive" in band
                    else True,
                )
            )
        if not out:
            raise ValidationError("needs a non-empty list 'bands'", field=where(origin, path))
        return tuple(out)

    return parse


def _amount(origin: str, key: str) -> Callable[[Row, str], Decimal]:
    def parse(row: Row, path: str) -> Decimal:
        return as_decimal(row, key, origin, path)

    return parse


def _cost_rule(section: Mapping[str, Any], origin: str, kind: str) -> CostRule:
    method: CostMethod = _enum(section.get("method"), CostMethod, where(origin, f"{kind}.method"))
    aggregation: Aggregation = _enum(
        section.get("aggregation", "per_claim"), Aggregation, where(origin, f"{kind}.aggregation")
    )
    title = as_str(section, "title", origin, kind)
    name = f"{title}"
    rule = CostRule(
        title=title,
        method=method,
        aggregation=aggregation,
        notice_required=bool(section.get("notice_required", True)),
        note=str(section.get("note", "")),
    )
    if method is CostMethod.SCALE:
        return _replace(rule, scale=_table(section, name, origin, kind, _scale(origin)))
    if method is CostMethod.FIXED:
        return _replace(rule, fixed=_table(section, name, origin, kind, _amount(origin, "amount")))
    if method is CostMethod.EUR_BANDS:
        return _replace(rule, bands=_table(section, name, origin, kind, _bands(origin)))
    return rule


def _replace(rule: CostRule, **changes: Any) -> CostRule:
    return replace(rule, **changes)


# interest -----------------------------------------------------------------------


def _interest_rule(
    section: Mapping[str, Any], origin: str, kind: str, doc: Mapping[str, Any]
) -> InterestRule:
    title = as_str(section, "title", origin, kind)
    compounding: Compounding = _enum(
        section.get("compounding"), Compounding, where(origin, f"{kind}.compounding")
    )
    day_count: DayCount = _enum(
        section.get("day_count"), DayCount, where(origin, f"{kind}.day_count")
    )
    method = section.get("method", "table")
    percent = _amount(origin, "percent")
    if method == "table":
        rates = _table(section, title, origin, kind, percent)
    elif method in ("reference_plus_margin", "reference_plus_margin_half_year"):
        ref_key = as_str(section, "reference", origin, kind)
        reference = _table(_section(doc, ref_key, origin), ref_key, origin, ref_key, percent)
        margin = _table(section, title, origin, kind, _amount(origin, "margin"))
        rates = _reference_plus_margin(
            title, origin, reference, margin, half_yearly=method.endswith("half_year")
        )
    else:
        raise ValidationError(f"unknown interest method {method!r}", field=where(origin, kind))
    return InterestRule(title, rates, compounding, day_count, str(section.get("note", "")))


def _reference_plus_margin(
    title: str,
    origin: str,
    reference: RuleTable[Decimal],
    margin: RuleTable[Decimal],
    *,
    half_yearly: bool,
) -> RuleTable[Decimal]:
    """Derive a rate table: a reference rate plus a statutory margin.

    Continuous (PL art. 481 kc: changes on every reference-rate change), or fixed per
    half-year from the reference rate in force on 1 January / 1 July (PL commercial
    transactions act art. 4 pkt 3).
    """
    start = max(reference.covered_from, margin.covered_from)
    ends = [t.covered_until for t in (reference, margin) if t.covered_until is not None]
    covered_until = min(ends) if ends else None
    if half_yearly:
        dates = []
        d = date(start.year, 1 if start.month < 7 else 7, 1)
        if d < start:
            d = date(d.year, 7, 1) if d.month == 1 else date(d.year + 1, 1, 1)
        last = covered_until or reference.rows[-1].valid_from
        while d <= last:
            dates.append(d)
            d = date(d.year, 7, 1) if d.month == 1 else date(d.year + 1, 1, 1)
        if covered_until is not None and dates:
            # A half-year rate is only known if the whole half-year is covered by the reference
            # table's fixing date, which it is (fixed on its first day).
            covered_until = _half_year_end(dates[-1])
    else:
        dates = sorted(
            {r.valid_from for r in (*reference.rows, *margin.rows) if r.valid_from >= start}
        )
        if start not in dates:
            dates.insert(0, start)
    rows = []
    for d in dates:
        ref = reference.at(d)
        mar = margin.at(d)
        rows.append(
            Versioned(
                d,
                ref.value + mar.value,
                f"reference {ref.value}% ({ref.source}) + {mar.value} pp ({mar.source})",
            )
        )
    return RuleTable(title, origin, tuple(rows), covered_until)


def _half_year_end(first_day: date) -> date:
    nxt = date(first_day.year, 7, 1) if first_day.month == 1 else date(first_day.year + 1, 1, 1)
    return nxt - timedelta(days=1)


# procedure ----------------------------------------------------------------------


def _notice(origin: str) -> Callable[[Row, str], NoticeRule]:
    def parse(row: Row, path: str) -> NoticeRule:
        weekdays = row.get("non_delivery_weekdays", [])
        if not isinstance(weekdays, list) or any(w not in WEEKDAYS for w in weekdays):
            raise ValidationError(
                f"non_delivery_weekdays must list names from {', '.join(WEEKDAYS)}",
                field=where(origin, path),
            )
        return NoticeRule(
            method=NoticeMethod.FROM_RECEIPT,  # set per section below
            term_days=as_int(row, "term_days", origin, path),
            post_days=as_int(row, "post_days", origin, path),
            email_days=as_int(row, "email_days", origin, path),
            non_delivery_weekdays=frozenset(WEEKDAYS.index(w) for w in weekdays),
            extend_term_end=as_bool(row, "extend_term_end", origin, path),
        )

    return parse


def _order(origin: str) -> Callable[[Row, str], tuple[Bucket, ...]]:
    def parse(row: Row, path: str) -> tuple[Bucket, ...]:
        order = row.get("order")
        if not isinstance(order, list) or sorted(order) != sorted(b.value for b in Bucket):
            raise ValidationError(
                "order must list costs, interest and principal once each",
                field=where(origin, path),
            )
        return tuple(Bucket(b) for b in order)

    return parse


def _calendar(section: Mapping[str, Any], origin: str) -> HolidayCalendar:
    fixed = []
    for text in section.get("include_fixed", []):
        month, day = (int(x) for x in str(text).split("-"))
        fixed.append((month, day))
    return HolidayCalendar(
        as_str(section, "country", origin, "calendar"),
        tuple(fixed),
        tuple(str(n) for n in section.get("exclude_names", [])),
        str(section.get("source", "")),
    )


def _csv_rates(path: Path, name: str, covered_until: date | None) -> RuleTable[Decimal] | None:
    """A CSV of ``date,rate,source`` rows (e.g. NBP table A, average EUR rate)."""
    origin = str(path)
    rows: list[Versioned[Decimal]] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip() and not line.startswith("#")]
    except FileNotFoundError:
        raise RuleCoverageError(f"rule file {path} is missing") from None
    for i, record in enumerate(csv.DictReader(lines), start=2):
        rows.append(
            Versioned(
                as_date(record, "date", origin, f"line {i}"),
                as_decimal(record, "rate", origin, f"line {i}"),
                as_str(record, "source", origin, f"line {i}"),
            )
        )
    if not rows:
        return None  # a table still to be filled: a lookup names the file and the date
    return RuleTable(name, origin, tuple(rows), covered_until)


# the pack -----------------------------------------------------------------------


@cache
def load_pack(code: str) -> RulePack:
    """The rule pack of one jurisdiction (``NL``, ``BE``, ``PL``), validated."""
    code = code.strip().upper()
    if code not in JURISDICTIONS:
        raise ValidationError(f"unknown jurisdiction {code!r} (known: {', '.join(JURISDICTIONS)})")
    folder = rules_dir() / code.lower()
    costs_path, interest_path, proc_path = (
        folder / "costs.toml",
        folder / "interest.toml",
        folder / "procedure.toml",
    )
    costs_doc, interest_doc, proc_doc = (
        _read_toml(costs_path),
        _read_toml(interest_path),
        _read_toml(proc_path),
    )
    c_origin, i_origin, p_origin = str(costs_path), str(interest_path), str(proc_path)

    currency = Currency.of(str(costs_doc.get("currency", "EUR")))
    costs: dict[str, CostRule] = {
        kind: _cost_rule(_section(costs_doc, kind, c_origin), c_origin, kind)
        for kind in ("consumer", "business")
        if kind in costs_doc
    }
    interest: dict[str, InterestRule] = {
        kind: _interest_rule(_section(interest_doc, kind, i_origin), i_origin, kind, interest_doc)
        for kind in ("consumer", "commercial")
        if kind in interest_doc
    }
    vat = None
    if "vat" in costs_doc:
        section = _section(costs_doc, "vat", c_origin)
        vat = _table(
            section,
            as_str(section, "title", c_origin, "vat"),
            c_origin,
            "vat",
            _amount(c_origin, "percent"),
        )

    notice = None
    if "notice" in proc_doc:
        section = _section(proc_doc, "notice", p_origin)
        method: NoticeMethod = _enum(
            section.get("method"), NoticeMethod, where(p_origin, "notice.method")
        )
        raw = _table(section, f"{code} formal notice term", p_origin, "notice", _notice(p_origin))
        notice = RuleTable(
            raw.name,
            raw.origin,
            tuple(
                Versioned(r.valid_from, _with_method(r.value, method), r.source) for r in raw.rows
            ),
            raw.covered_until,
        )
    allocation = _table(
        _section(proc_doc, "allocation", p_origin),
        f"{code} payment allocation order",
        p_origin,
        "allocation",
        _order(p_origin),
    )
    calendar = _calendar(_section(proc_doc, "calendar", p_origin), p_origin)

    eur_rates = None
    extra: dict[str, str] = {}
    fx = costs_doc.get("eur_rates")
    if isinstance(fx, Mapping):
        until = fx.get("covered_until")
        extra["eur_rates_file"] = str(folder / as_str(fx, "file", c_origin, "eur_rates"))
        eur_rates = _csv_rates(
            Path(extra["eur_rates_file"]),
            as_str(fx, "title", c_origin, "eur_rates"),
            until if isinstance(until, date) else None,
        )
    cap = interest_doc.get("consumer_interest_cap")
    return RulePack(
        code=code,
        name=str(costs_doc.get("name", code)),
        currency=currency,
        costs=costs,
        interest=interest,
        allocation=allocation,
        calendar=calendar,
        notice=notice,
        vat=vat,
        eur_rates=eur_rates,
        consumer_interest_cap=str(cap) if cap else None,
        extra=extra,
        default_debtor=_debtor_kind(costs_doc.get("default_debtor", "consumer"), c_origin),
    )


def _debtor_kind(value: Any, origin: str) -> str:
    if value not in ("consumer", "business"):
        raise ValidationError(
            f"default_debtor must be consumer or business, got {value!r}", field=origin
        )
    return str(value)


def _with_method(rule: NoticeRule, method: NoticeMethod) -> NoticeRule:
    return replace(rule, method=method)


def all_tables(pack: RulePack) -> Sequence[RuleTable[Any]]:
    """Every table in a pack (for validation reports and tests)."""
    tables: list[RuleTable[Any]] = [pack.allocation]
    for rule in pack.costs.values():
        tables += [t for t in (rule.scale, rule.fixed, rule.bands) if t is not None]
    tables += [r.rates for r in pack.interest.values()]
    tables += [t for t in (pack.notice, pack.vat, pack.eur_rates) if t is not None]
    return tables
