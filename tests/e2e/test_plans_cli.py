"""The issue-5 commands as a user runs them: distribute, protected income, plans, referral."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from .cli import hand_over, ok, run


def test_calc_distribute_shares_sum_exactly_to_the_capacity() -> None:
    r = ok(
        "calc",
        "distribute",
        "--capacity",
        "100",
        "--claim",
        "energie=1200",
        "--claim",
        "water=300",
        "--claim",
        "telecom=450.50",
    )
    assert r["shares"] == {"energie": "61.52", "water": "15.38", "telecom": "23.10"}
    assert r["unused"] == "0.00"


def test_calc_distribute_serves_a_preferent_claim_first() -> None:
    r = ok(
        "calc",
        "distribute",
        "--capacity",
        "100",
        "--claim",
        "tax=60",
        "--claim",
        "shop=940",
        "--preferent",
        "tax",
    )
    assert r["shares"] == {"tax": "60.00", "shop": "40.00"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--capacity", "100", "--claim", "a"], "--claim: expected NAME=AMOUNT"),
        (["--capacity", "-1", "--claim", "a=1"], "--capacity: capacity must not be negative"),
        (["--capacity", "1", "--claim", "a=1", "--claim", "a=2"], "given twice"),
    ],
)
def test_calc_distribute_refuses_bad_input_with_one_line(args: list[str], message: str) -> None:
    proc = run("calc", "distribute", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_calc_protected_income_prints_protected_and_available() -> None:
    # RULES.md 1d: maximum beslagvrije voet 1-7-2025, alleenstaande: EUR 2,093.67.
    r = ok(
        "calc",
        "protected-income",
        "--jurisdiction",
        "NL",
        "--household",
        "single",
        "--net-income",
        "3000",
        "--on",
        "2025-08-01",
    )
    assert (r["protected"], r["available"]) == ("2093.67", "906.33")


def test_calc_protected_income_outside_the_table_names_the_file() -> None:
    proc = run(
        "calc",
        "protected-income",
        "--jurisdiction",
        "NL",
        "--household",
        "single",
        "--net-income",
        "3000",
        "--on",
        "2030-01-01",
    )
    assert proc.returncode == 2
    assert "protected_income.toml" in proc.stderr


def test_a_statement_then_a_coordinated_plan_from_the_command_line(tmp_path: Path) -> None:
    env = {"RESPITE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    data = Path(__file__).parent.parent / "data" / "claims_ok.csv"
    hand_over(env, "Waterbedrijf", data, "2025-12-01")
    budget = tmp_path / "budget.json"
    budget.write_text(
        json.dumps(
            {
                "currency": "EUR",
                "income": {"wages": "2400.00"},
                "fixed": {"housing": "850.00", "energy": "150.00", "insurance": "160.00"},
                "flexible": {"food": "330.00"},
            }
        ),
        encoding="utf-8",
    )
    stated = ok(
        "plan",
        "statement",
        "R000000001",
        "--file",
        str(budget),
        "--household",
        "single",
        "--on",
        "2025-12-01",
        env=env,
    )
    assert stated["capacity"]["capacity"] == "306.33"  # 2400 - max BVV 2093.67 (1-7-2025)
    offer = ok("plan", "options", "R000000001", "--on", "2025-12-01", "--payday", "25", env=env)
    assert all(Decimal(o["instalment"]) <= Decimal("306.33") for o in offer["options"])
    plan = ok(
        "plan",
        "propose",
        "R000000001",
        "--instalment",
        "100",
        "--payday",
        "25",
        "--on",
        "2025-12-01",
        env=env,
    )
    assert plan["status"] == "active"
    assert plan["first_due"] == "2025-12-25"
    shown = ok("plan", "show", str(plan["plan"]), env=env)
    assert shown["schedule"][0]["amount"] == "100.00"
