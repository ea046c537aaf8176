"""``respite calc court-costs``, ``respite screen`` and ``respite legal`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from .cli import hand_over, ok, run


def test_court_costs_of_the_rules_md_example() -> None:
    # shared/RULES.md §1e: a company suing a consumer for EUR 600 in 2024 pays EUR 328
    # griffierecht (https://wvhl.nl/tools/proceskosten) + the summons, BTAG 2024 EUR 112.37
    # (https://www.invorderingsbedrijf.nl/btag/).
    r = ok(
        "calc",
        "court-costs",
        "--jurisdiction",
        "NL",
        "--claim",
        "600",
        "--claimant",
        "legal",
        "--on",
        "2024-05-01",
    )
    assert r["court_fee"] == "328.00"
    assert r["bailiff"]["summons"] == "112.37"
    assert r["bailiff"]["service_of_judgment"] == "122.34"
    assert r["total_upfront"] == "440.37"


def test_court_costs_for_a_natural_person_in_2022() -> None:
    # https://www.weersinkincasso.nl/griffierechten-2022/: natural person, EUR 500-1,500:
    # EUR 214; BTAG 2022 (shared/RULES.md 1e, schuldinfo.nl): summons 103.33, service of
    # the judgment 114.01, attachment of periodic payments 154.14.
    r = ok("calc", "court-costs", "--claim", "1000", "--claimant", "natural", "--on", "2022-06-01")
    assert r["court_fee"] == "214.00"
    assert r["bailiff"] == {
        "summons": "103.33",
        "service_of_judgment": "114.01",
        "wage_garnishment": "154.14",
    }
    assert r["total_upfront"] == "317.33"
    assert "schuldinfo.nl" in r["sources"]["summons"]


def test_a_year_whose_figures_were_not_found_exits_2_naming_the_file() -> None:
    # The 2025 court fees and bailiff tariffs are not in the table: never last year's.
    proc = run(
        "calc", "court-costs", "--claim", "1000", "--claimant", "natural", "--on", "2025-06-01"
    )
    assert proc.returncode == 2
    assert "court_costs.toml" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_date_outside_the_tables_exits_2_naming_the_file() -> None:
    proc = run("calc", "court-costs", "--claim", "600", "--claimant", "legal", "--on", "2031-01-01")
    assert proc.returncode == 2
    assert "court_costs.toml" in proc.stderr


def test_bad_input_exits_2_with_one_line() -> None:
    for args in (
        ("--claim", "600", "--claimant", "robot", "--on", "2024-05-01"),
        ("--claim", "six hundred", "--claimant", "legal", "--on", "2024-05-01"),
        ("--claim", "30000", "--claimant", "legal", "--on", "2024-05-01"),
    ):
        proc = run("calc", "court-costs", *args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1


HEADER = (
    "external_ref,debtor_type,debtor_name,debtor_email,debtor_phone,debtor_iban,debtor_street,"
    "debtor_postcode,debtor_city,debtor_country,debtor_language,debtor_birth_date,"
    "debtor_company_number,description,issue_date,due_date,amount,currency"
)
ROW = (
    "TEL-2023-1,consumer,Anna de Vries,anna@example.nl,,,Kerkstraat 12,3511 LK,Utrecht,NL,nl,"
    "1984-03-12,,Abonnement 2023,2023-11-01,2023-12-01,1500.00,EUR"
)


def test_screen_then_a_second_person_approves_the_handover(tmp_path: Path) -> None:
    env = {"RESPITE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    claims = tmp_path / "claims.csv"
    claims.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    hand_over(env, "Telecom BV", claims, "2024-01-10")
    ref = "R000000001"
    for stage, on in (
        ("formal_notice", "2024-01-22"),
        ("amicable", "2024-02-15"),
        ("legal_screening", "2024-04-01"),
    ):
        moved = run(
            "case", "move", ref, "--to", stage, "--on", on, "--by", "t", "--reason", "x", env=env
        )
        assert moved.returncode == 0, moved.stderr
    budget = tmp_path / "budget.json"
    budget.write_text(
        json.dumps(
            {
                "currency": "EUR",
                "income": {"wages": "2500.00"},
                "fixed": {"housing": "1000.00", "energy": "150.00", "insurance": "150.00"},
                "flexible": {"food": "400.00", "other_flexible": "600.00"},
            }
        ),
        encoding="utf-8",
    )
    stated = ok(
        "plan", "statement", ref, "--file", str(budget), "--household", "single",
        "--on", "2024-03-01", "--confirmed", env=env,
    )  # fmt: skip
    assert stated["capacity"]["capacity"] == "200.00"

    screened = ok("screen", ref, "--date", "2024-05-01", "--by", "eva", "--json", env=env)
    assert screened["outcome"] == "proceed"
    assert screened["upfront_costs"] == "440.37"
    assert any(
        x["figure"] == "court fee" and x["value"] == "328.00" for x in screened["explanation"]
    )

    plain = run("screen", ref, "--date", "2024-05-01", "--by", "eva", env=env)
    assert plain.returncode == 0, plain.stderr
    assert "proceed" in plain.stdout
    assert "court fee" in plain.stdout

    same = run("legal", "approve", ref, "--approver", "eva", "--authority", "5000", "--date", "2024-05-01", env=env)  # fmt: skip
    assert same.returncode == 1
    assert "four eyes" in same.stderr
    approved = ok(
        "legal", "approve", ref, "--approver", "joost", "--authority", "5000",
        "--date", "2024-05-01", env=env,
    )  # fmt: skip
    assert approved["stage"] == "legal_handover"
    assert approved["screened_by"] == "eva"


def test_screen_an_unknown_case_exits_2(tmp_path: Path) -> None:
    proc = run("screen", "R999999999", "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert proc.returncode == 2
    assert "R999999999" in proc.stderr
