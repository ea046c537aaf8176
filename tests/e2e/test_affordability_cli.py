"""``calc protected-income`` and ``calc budget`` as a user calls them (Typer CliRunner).

main.py wiring is the lead's; these tests mount the two command functions on a small local
Typer app the same way (``calc`` sub-app), and check the JSON and the error mapping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from respite.entrypoints.cli.affordability import budget_check_command, protected_income_command
from respite.errors import InputError

app = typer.Typer()
calc = typer.Typer()
app.add_typer(calc, name="calc")
calc.command("protected-income")(protected_income_command)
calc.command("budget")(budget_check_command)
runner = CliRunner()


def ok(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["calc", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.output)
    assert isinstance(data, dict)
    return data


def fails(*args: str) -> InputError:
    result = runner.invoke(app, ["calc", *args])
    assert isinstance(result.exception, InputError), (result.output, result.exception)
    return result.exception


def test_protected_income_prints_protected_and_available_as_two_decimal_strings() -> None:
    out = ok(
        "protected-income",
        "--jurisdiction",
        "NL",
        "--household",
        "single-parent",
        "--net-income",
        "3.000,00",
        "--on",
        "2025-03-01",
    )
    # aag.nl: maximum for an alleenstaande ouder from 1-1-2025 is 2.242,24.
    assert (out["protected"], out["available"]) == ("2242.24", "757.76")
    assert (out["regime"], out["household"], out["on"]) == (
        "high_income",
        "single-parent",
        "2025-03-01",
    )


def test_protected_income_for_be_with_children_and_pl() -> None:
    be = ok(
        "protected-income", "-j", "BE", "--household", "couple-with-children",
        "--net-income", "2000", "--on", "2024-05-01", "--children", "3",
    )  # fmt: skip
    assert be["available"] == "137.10"
    pl = ok(
        "protected-income", "-j", "pl", "--household", "single",
        "--net-income", "3510,92", "--on", "2025-06-01",
    )  # fmt: skip
    assert (pl["protected"], pl["available"], pl["currency"]) == ("3510.92", "0.00", "PLN")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("-j", "DE", "--household", "single", "--net-income", "1"), "--jurisdiction"),
        (("-j", "NL", "--household", "family", "--net-income", "1"), "--household"),
        (("-j", "NL", "--household", "single", "--net-income", "1.234"), "--net-income"),
        (("-j", "NL", "--household", "single", "--net-income", "-5"), "--net-income"),
        (("-j", "NL", "--household", "single", "--net-income", "1", "--on", "1-3-2025"), "--on"),
        (
            ("-j", "BE", "--household", "single", "--net-income", "1", "--children", "-1"),
            "--children",
        ),
    ],
)
def test_bad_options_are_input_errors_naming_the_option(args: tuple[str, ...], field: str) -> None:
    assert fails("protected-income", *args).field == field


def test_a_date_outside_the_rules_is_a_coverage_error() -> None:
    error = fails(
        "protected-income", "-j", "NL", "--household", "single",
        "--net-income", "1000", "--on", "2026-01-01",
    )  # fmt: skip
    assert "known up to 2025-12-31" in str(error)


def test_budget_prints_totals_flags_and_capacity(tmp_path: Path) -> None:
    file = tmp_path / "statement.json"
    file.write_text(
        json.dumps(
            {
                "currency": "EUR",
                "income": {"wages": "2400.00"},
                "fixed": {"housing": "900.00", "energy": "150.00"},
                "flexible": {"food": "60.00"},
                "declared": {"fixed": "1100.00"},
            }
        )
    )
    out = ok("budget", str(file), "--household", "single", "--on", "2025-03-01")
    assert out["totals"]["expenditure"] == "1110.00"
    assert [(f["code"], f["severity"]) for f in out["flags"]] == [
        ("subtotal_mismatch", "inconsistent"),
        ("below_reference", "confirm"),
    ]
    # 2400 − 1110 = 1290 surplus; the BVV (min(2071.24, 2280.00)) leaves 328.76.
    assert (out["capacity"]["capacity"], out["protected"]["protected"]) == ("328.76", "2071.24")
    assert out["needs_confirmation"] is True


def test_budget_refuses_a_missing_file_and_float_amounts(tmp_path: Path) -> None:
    assert fails("budget", str(tmp_path / "nope.json"), "--household", "single").field == "FILE"
    file = tmp_path / "float.json"
    file.write_text(json.dumps({"household": "single", "income": {"wages": 1200.5}}))
    assert "quoted strings" in str(fails("budget", str(file), "--on", "2025-01-01"))
