"""Rule packs are data: every value dated and sourced, no floats, no silent defaults."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from respite.errors import RuleCoverageError, ValidationError
from respite.rules import loader
from respite.rules.loader import JURISDICTIONS, all_tables, load_pack, rules_dir
from respite.rules.tables import RuleTable, Versioned


def table(*rows: tuple[date, str], until: date | None = None) -> RuleTable[Decimal]:
    return RuleTable(
        "test rate", "test.toml", tuple(Versioned(d, Decimal(v), "src") for d, v in rows), until
    )


def test_value_on_a_date_and_errors_outside_coverage() -> None:
    t = table((date(2020, 1, 1), "2"), (date(2021, 1, 1), "3"), until=date(2021, 12, 31))
    assert t.value_at(date(2020, 12, 31)) == Decimal(2)
    assert t.value_at(date(2021, 1, 1)) == Decimal(3)
    with pytest.raises(RuleCoverageError, match="known from 2020-01-01"):
        t.value_at(date(2019, 12, 31))
    with pytest.raises(RuleCoverageError, match="known up to 2021-12-31"):
        t.value_at(date(2022, 1, 1))


def test_segments_split_a_period_at_every_change() -> None:
    t = table((date(2020, 1, 1), "2"), (date(2020, 7, 1), "3"), (date(2021, 1, 1), "4"))
    segs = t.segments(date(2020, 6, 1), date(2021, 2, 1))
    assert [(s.start, s.end, s.row.value) for s in segs] == [
        (date(2020, 6, 1), date(2020, 7, 1), Decimal(2)),
        (date(2020, 7, 1), date(2021, 1, 1), Decimal(3)),
        (date(2021, 1, 1), date(2021, 2, 1), Decimal(4)),
    ]
    assert sum(s.days for s in segs) == (date(2021, 2, 1) - date(2020, 6, 1)).days


def test_rows_must_be_in_date_order() -> None:
    with pytest.raises(RuleCoverageError, match="strictly increasing"):
        table((date(2021, 1, 1), "3"), (date(2020, 1, 1), "2"))


@pytest.mark.parametrize("code", JURISDICTIONS)
def test_every_shipped_value_has_a_date_and_a_source(code: str) -> None:
    pack = load_pack(code)
    for t in all_tables(pack):
        for row in t.rows:
            assert isinstance(row.valid_from, date)
            assert row.source.strip(), f"{t.name} row {row.valid_from} has no source"


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped rules that a test may edit, as a compliance officer would."""
    target = tmp_path / "rules"
    for code in JURISDICTIONS:
        shutil.copytree(rules_dir() / code.lower(), target / code.lower())
    monkeypatch.setenv("RESPITE_RULES_DIR", str(target))
    load_pack.cache_clear()
    yield target
    load_pack.cache_clear()


def test_a_compliance_officer_adds_a_rate_by_editing_a_file(rules_copy: Path) -> None:
    path = rules_copy / "nl" / "interest.toml"
    text = path.read_text()
    text = text.replace(
        '  { valid_from = 2026-01-01, percent = "4",',
        '  { valid_from = 2026-07-01, percent = "5", source = "test decree" },\n'
        '  { valid_from = 2026-01-01, percent = "4",',
    )
    # keep the rows in date order: move the new row after the 2026-01-01 one
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if "test decree" in line)
    lines.insert(i + 1, lines.pop(i))
    text = "\n".join(lines).replace("covered_until = 2026-06-30", "covered_until = 2026-12-31", 1)
    path.write_text(text)
    rule = load_pack("NL").interest_kind("consumer")
    assert rule.rates.value_at(date(2026, 8, 1)) == Decimal(5)


def test_a_float_in_a_rule_file_is_refused_with_its_place(rules_copy: Path) -> None:
    path = rules_copy / "nl" / "costs.toml"
    path.write_text(path.read_text().replace('minimum = "40.00"', "minimum = 40.0", 1))
    with pytest.raises(
        ValidationError, match=r"costs\.toml \[consumer\.rows\[0\]\].*quoted decimal"
    ):
        load_pack("NL")


def test_a_row_without_a_source_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "be" / "interest.toml"
    text = path.read_text()
    start = text.index(", source = \"https://schoups.com/en/nieuws/48424 ('2010")
    end = text.index("}", start)
    path.write_text(text[:start] + text[end:])
    with pytest.raises(ValidationError, match="missing field 'source'"):
        load_pack("BE")


def test_an_unknown_jurisdiction_is_an_input_error() -> None:
    with pytest.raises(ValidationError, match="unknown jurisdiction 'XX'"):
        loader.load_pack("XX")
