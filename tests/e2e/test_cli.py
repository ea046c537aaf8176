"""The respite CLI as a user runs it: a real subprocess, JSON out, one-line errors."""

from __future__ import annotations

import pytest

from .cli import ok, run


def test_calc_costs_sums_repeated_principals_for_nl() -> None:
    r = ok(
        "calc",
        "costs",
        "--jurisdiction",
        "NL",
        "--principal",
        "1.500,00",
        "--principal",
        "1,000.00",
        "--on",
        "2025-01-15",
    )
    assert (r["costs"], r["currency"], r["basis"]) == ("375.00", "EUR", "2500.00")


def test_calc_costs_with_vat_uplift_and_business_debtor() -> None:
    assert (
        ok(
            "calc", "costs", "-j", "NL", "--principal", "2500", "--vat-uplift", "--on", "2025-01-15"
        )["costs"]
        == "453.75"
    )
    assert (
        ok(
            "calc",
            "costs",
            "-j",
            "NL",
            "--principal",
            "100",
            "--debtor",
            "business",
            "--on",
            "2025-01-15",
        )["costs"]
        == "40.00"
    )


def test_calc_costs_pl_counts_per_invoice_in_pln() -> None:
    r = ok(
        "calc",
        "costs",
        "-j",
        "PL",
        "--principal",
        "4000",
        "--principal",
        "4000",
        "--debtor",
        "business",
        "--currency",
        "PLN",
        "--on",
        "2024-05-15",
        "--eur-rate",
        "4.3213",
    )
    assert (r["costs"], r["currency"]) == ("345.70", "PLN")  # 2 x 40 EUR x 4.3213


def test_calc_interest_lists_each_rate_period() -> None:
    r = ok(
        "calc",
        "interest",
        "-j",
        "NL",
        "--kind",
        "consumer",
        "--principal",
        "100",
        "--from",
        "2013-02-01",
        "--to",
        "2023-10-30",
    )
    assert r["interest"] == "28.94"
    periods = r["periods"]
    assert isinstance(periods, list)
    assert len(periods) == 14
    assert {"from", "to", "days", "rate", "interest"} <= set(periods[0])


def test_calc_allocate_and_cost_date_and_reference() -> None:
    r = ok(
        "calc",
        "allocate",
        "-j",
        "NL",
        "--payment",
        "100",
        "--costs",
        "40",
        "--interest",
        "5",
        "--principal",
        "100",
    )
    assert (r["costs"], r["interest"], r["principal"], r["unallocated"]) == (
        "40.00",
        "5.00",
        "55.00",
        "0.00",
    )
    assert (
        ok("calc", "cost-date", "-j", "BE", "--sent", "2026-11-20", "--channel", "email")[
            "costs_chargeable_from"
        ]
        == "2026-12-05"
    )
    assert ok("calc", "reference", "--create", "539007547034")["reference"] == "RF18539007547034"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("calc", "costs", "-j", "NL", "--principal", "1.234"), "--principal"),
        (("calc", "costs", "-j", "NL", "--principal", "-5"), "--principal"),
        (("calc", "costs", "-j", "NL", "--principal", "0"), "--principal"),
        (("calc", "costs", "-j", "XX", "--principal", "5"), "--jurisdiction"),
        (("calc", "costs", "-j", "NL", "--principal", "5", "--debtor", "robot"), "--debtor"),
        (("calc", "costs", "-j", "NL", "--principal", "5", "--currency", "XYZ"), "--currency"),
        (("calc", "costs", "-j", "NL", "--principal", "5", "--currency", "PLN"), "--currency"),
        (("calc", "costs", "-j", "NL", "--principal", "5", "--on", "2024-13-01"), "--on"),
        (("calc", "costs", "-j", "NL"), "--principal"),
        (
            (
                "calc",
                "costs",
                "-j",
                "PL",
                "--principal",
                "5",
                "--debtor",
                "business",
                "--eur-rate",
                "abc",
            ),
            "--eur-rate",
        ),
        (
            (
                "calc",
                "interest",
                "-j",
                "NL",
                "--principal",
                "5",
                "--from",
                "2024-02-01",
                "--to",
                "2024-01-01",
            ),
            "--to",
        ),
        (
            (
                "calc",
                "interest",
                "-j",
                "NL",
                "--principal",
                "5",
                "--from",
                "2024-02-01",
                "--to",
                "2024-03-01",
                "--kind",
                "x",
            ),
            "--kind",
        ),
        (
            (
                "calc",
                "interest",
                "-j",
                "NL",
                "--principal",
                "5",
                "--from",
                "1999-01-01",
                "--to",
                "2024-03-01",
            ),
            "known from",
        ),
        (("calc", "allocate", "-j", "NL", "--payment", "abc"), "--payment"),
        (
            ("calc", "cost-date", "-j", "NL", "--sent", "2024-01-01", "--channel", "pigeon"),
            "--channel",
        ),
        (("calc", "cost-date", "-j", "PL", "--sent", "2024-01-01"), "--jurisdiction"),
        (("calc", "reference", "--create", "not valid!"), "--create"),
        (("calc", "costs", "-j", "NL", "--principal", "5", "--bogus"), "--bogus"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_option(
    args: tuple[str, ...], names: str
) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert names in lines[0]
    assert "Traceback" not in proc.stderr
