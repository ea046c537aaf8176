"""``make demo``: a tour of the calculators, then a portfolio collected for 90 days.

Each step runs the real ``respite`` command, shows it so it can be copied, and prints the
figures that matter. The portfolio lives in the embedded SQLite database (``./respite.db``
unless ``RESPITE_DATABASE_URL`` says otherwise), rebuilt from scratch on every run.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

STEPS: list[tuple[str, list[str], list[str]]] = [
    (
        "NL collection costs on one reminder for two invoices (EUR 1,500 + EUR 1,000): "
        "the staffel is applied once to the sum (art. 6:96 lid 7 BW).",
        [
            "calc",
            "costs",
            "--jurisdiction",
            "NL",
            "--principal",
            "1.500,00",
            "--principal",
            "1000",
            "--on",
            "2026-03-02",
        ],
        ["basis", "costs", "source"],
    ),
    (
        "The same, for a creditor that cannot deduct VAT and declares so (Besluit BIK art. 2 lid 3).",
        [
            "calc",
            "costs",
            "--jurisdiction",
            "NL",
            "--principal",
            "2500",
            "--vat-uplift",
            "--on",
            "2026-03-02",
        ],
        ["costs_excluding_vat", "vat_percent", "costs"],
    ),
    (
        "The debtor pays EUR 1,500 inside the 14-day term: costs are recomputed on the rest (HR 2016:2704).",
        [
            "calc",
            "costs",
            "--jurisdiction",
            "NL",
            "--principal",
            "2500",
            "--paid-in-term",
            "1500",
            "--on",
            "2026-03-02",
        ],
        ["costs_announced", "basis", "costs"],
    ),
    (
        "When may those costs be charged? A letter posted on Friday 6 November 2026:",
        ["calc", "cost-date", "--jurisdiction", "NL", "--sent", "2026-11-06", "--channel", "post"],
        ["assumed_received", "term_ends", "costs_chargeable_from"],
    ),
    (
        "NL statutory interest on EUR 100 from 1 Feb 2013 to 30 Oct 2023, capitalised each "
        "year (the published vergoedingsns.nl example says EUR 128.94):",
        [
            "calc",
            "interest",
            "--jurisdiction",
            "NL",
            "--kind",
            "consumer",
            "--principal",
            "100",
            "--from",
            "2013-02-01",
            "--to",
            "2023-10-30",
        ],
        ["days", "interest", "total", "periods"],
    ),
    (
        "A payment of EUR 1,000 on EUR 875 costs, EUR 250 interest and EUR 10,000 principal (art. 6:44 BW):",
        [
            "calc",
            "allocate",
            "--jurisdiction",
            "NL",
            "--payment",
            "1000",
            "--costs",
            "875",
            "--interest",
            "250",
            "--principal",
            "10000",
        ],
        ["costs", "interest", "principal", "unallocated"],
    ),
    (
        "BE consumer debt of EUR 1,000: the Book XIX cap on damages (trends.knack.be: EUR 90).",
        ["calc", "costs", "--jurisdiction", "BE", "--principal", "1000", "--on", "2026-03-02"],
        ["costs", "source"],
    ),
    (
        "BE free first reminder by post on Friday 20 November 2026: the 14 days start on the third working day.",
        ["calc", "cost-date", "--jurisdiction", "BE", "--sent", "2026-11-20", "--channel", "post"],
        ["term_starts", "term_ends", "costs_chargeable_from"],
    ),
    (
        "PL B2B: two invoices of PLN 4,000 and PLN 60,000 due 15 May 2024, per invoice (CJEU 2022), "
        "at the NBP rate of 30 April 2024 from the rule table:",
        [
            "calc",
            "costs",
            "--jurisdiction",
            "PL",
            "--debtor",
            "business",
            "--principal",
            "4000",
            "--principal",
            "60000",
            "--on",
            "2024-05-15",
        ],
        ["per_claim", "eur_pln_rate", "rate_source", "costs", "currency"],
    ),
    (
        "PL statutory late interest on PLN 10,000 through the October 2025 reference-rate cut:",
        [
            "calc",
            "interest",
            "--jurisdiction",
            "PL",
            "--principal",
            "10000",
            "--from",
            "2025-10-01",
            "--to",
            "2025-11-01",
        ],
        ["interest", "periods"],
    ),
    (
        "An ISO 11649 structured creditor reference for case 2026-000123:",
        ["calc", "reference", "--create", "2026000123"],
        ["reference", "print"],
    ),
    (
        "Bad input is refused with one line naming the option (exit status 2):",
        ["calc", "costs", "--jurisdiction", "NL", "--principal", "1.234"],
        [],
    ),
]


def _show(value: Any) -> str:
    if isinstance(value, list):
        rows = []
        for item in value:
            if isinstance(item, dict) and "rate" in item:
                rows.append(
                    f"{item['from']} → {item['to']}  {item['days']:>4} days at {item['rate']:>5}%  "
                    f"on {item['base']:>9}  = {item['interest']}"
                )
            else:
                rows.append(json.dumps(item, ensure_ascii=False))
        return "\n".join("      " + r for r in rows)
    return str(value)


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    # Our own interpreter running our own command with fixed arguments.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "respite", *args], capture_output=True, text=True, check=False
    )


def _tour() -> None:
    print(
        "Respite — a tour of the calculators (every figure from rule tables that cite their source)\n"
    )
    for n, (title, args, fields) in enumerate(STEPS, start=1):
        print(f"{n}. {title}")
        print(f"   $ respite {shlex.join(args)}")
        proc = _run(args)
        if proc.returncode != 0:
            print(f"   exit {proc.returncode}: {proc.stderr.strip()}\n")
            continue
        result = json.loads(proc.stdout)
        for field in fields:
            value = _show(result[field])
            sep = "\n" if "\n" in value or value.startswith("      ") else " "
            print(f"   {field}:{sep}{value}")
        print()


PORTFOLIO_DATE = "2025-01-15"
DEMO_HOLDS = [
    ("R000000007", "dispute", "debtor says the meter reading is wrong"),
    ("R000000019", "debt_counselling", "in the municipality's debt help programme"),
    ("R000000031", "vulnerability_review", "debtor mentioned a recent bereavement (consent given)"),
]


def _portfolio() -> None:
    if os.environ.get("RESPITE_DATABASE_URL") is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"respite.db{suffix}").unlink(missing_ok=True)
        where = "./respite.db (SQLite, WAL)"
    else:
        where = "the database of RESPITE_DATABASE_URL"
    print(f"A portfolio collected for 90 days, in {where}\n")
    steps: list[tuple[str, list[str]]] = [
        (
            "Build a synthetic portfolio: 5,000 debtors (NL, BE, PL), handed over on 15 January 2025",
            [
                "demo-data",
                "--debtors",
                "5000",
                "--creditors",
                "8",
                "--seed",
                "42",
                "--date",
                PORTFOLIO_DATE,
            ],
        ),
        *(
            (
                f"An agent records a {kind.replace('_', ' ')} for case {ref}",
                [
                    "case",
                    "hold",
                    ref,
                    "--kind",
                    kind,
                    "--reason",
                    why,
                    "--by",
                    "agent:demo",
                    "--on",
                    PORTFOLIO_DATE,
                ],
            )
            for ref, kind, why in DEMO_HOLDS
        ),
        (
            "Run 90 nights: each day's payments are booked (6:43/6:44 BW), then the nightly cycle",
            ["simulate", "--from", PORTFOLIO_DATE, "--days", "90", "--quiet"],
        ),
        ("The portfolio after 90 days", ["summary"]),
        (
            f"The timeline of case {DEMO_HOLDS[0][0]}: who, when, what, why",
            ["case", "timeline", DEMO_HOLDS[0][0]],
        ),
    ]
    for title, args in steps:
        print(f"- {title}")
        print(f"  $ respite {shlex.join(args)}")
        proc = _run(args)
        if proc.returncode != 0:
            print(f"  exit {proc.returncode}: {proc.stderr.strip()}")
            raise SystemExit(1)
        out = proc.stdout.strip()
        if args[:2] == ["case", "timeline"]:
            out = "\n".join(
                f"{e['date']}  {e['actor']:<12} {e['what']:<18} {e['why']}" for e in json.loads(out)
            )
        elif args[0] == "case":
            out = ""
        if out:
            print("\n".join("    " + line for line in out.splitlines()))
        print()


def main() -> None:
    _tour()
    _portfolio()
    print(
        "Next: `respite --help`; `respite summary` and `respite case timeline REF` read the same database."
    )


if __name__ == "__main__":
    main()
