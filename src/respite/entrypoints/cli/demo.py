"""``make demo``: a tour of the calculators, then a portfolio collected for 90 days.

Each step runs the real ``respite`` command, shows it so it can be copied, and prints the
figures that matter. The portfolio lives in the embedded SQLite database (``./respite.db``
unless ``RESPITE_DATABASE_URL`` says otherwise), rebuilt from scratch on every run.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
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
        "Would court pay off? NL court fee and bailiff for a company suing a consumer for "
        "EUR 600 in 2024 (RULES.md: EUR 328 + EUR 112.37 upfront):",
        [
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
        ],
        ["court_fee", "bailiff", "total_upfront"],
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
ARRANGEMENT_DATE = "2025-02-14"  # the 31st day: arrangements are made, then 60 more nights
OUTPUT = Path("demo-output")
LAST_DAY = "2025-04-14"  # the 90th night
API_SCOPES = "claims:write,claims:read,cases:read,remittances:read,webhooks:manage"

# Two monthly budgets (EUR, NL single household), as a debtor would enter them in the
# portal: one with room to repay, one that leaves little (a case for debt help).
BUDGETS: dict[str, dict[str, Any]] = {
    "room": {
        "household": "single",
        "currency": "EUR",
        "income": {"wages": "2400.00"},
        "fixed": {
            "housing": "850.00",
            "energy": "150.00",
            "water": "25.00",
            "insurance": "160.00",
            "transport": "90.00",
            "phone_internet": "45.00",
        },
        "flexible": {"food": "330.00", "clothing": "60.00", "personal_care": "50.00"},
    },
    "tight": {
        "household": "single",
        "currency": "EUR",
        "income": {"wages": "1450.00"},
        "fixed": {
            "housing": "720.00",
            "energy": "140.00",
            "water": "25.00",
            "insurance": "150.00",
            "transport": "40.00",
            "phone_internet": "35.00",
        },
        "flexible": {"food": "250.00", "clothing": "20.00", "personal_care": "20.00"},
    },
}


def _step(title: str, args: list[str]) -> dict[str, Any] | str:
    print(f"- {title}")
    print(f"  $ respite {shlex.join(args)}")
    proc = _run(args)
    if proc.returncode != 0:
        print(f"  exit {proc.returncode}: {proc.stderr.strip()}\n")
        return ""
    out = proc.stdout.strip()
    try:
        parsed: dict[str, Any] | str = json.loads(out)
    except ValueError:
        parsed = out
        print("\n".join("    " + line for line in out.splitlines()))
        print()
    return parsed


def _people_with_several_debts(limit: int) -> list[tuple[str, int, int]]:
    """(a case reference, number of open cases, total open cents) per NL person, EUR only."""
    from sqlalchemy import text

    from respite.adapters.db.engine import make_engine

    engine = make_engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT MIN(c.reference), COUNT(DISTINCT c.id), SUM(cl.open_principal_cents"
                    " + cl.open_interest_cents + cl.open_costs_cents)"
                    " FROM cases c JOIN debtors d ON d.id = c.debtor_id"
                    " JOIN creditors cr ON cr.id = c.creditor_id"
                    " JOIN claims cl ON cl.case_id = c.id"
                    " WHERE c.closed = :no AND d.country = 'NL' AND cr.currency = 'EUR'"
                    " AND c.id NOT IN (SELECT case_id FROM holds)"
                    " GROUP BY COALESCE(d.person_id, d.id)"
                    " HAVING COUNT(DISTINCT c.id) >= 2 ORDER BY MIN(c.id) LIMIT :n"
                ),
                {"no": False, "n": limit},
            ).all()
    finally:
        engine.dispose()
    return [(str(r[0]), int(r[1]), int(r[2] or 0)) for r in rows]


def _arrangements(on: str) -> list[str]:
    """Coordinated plans for people with several creditors, and referrals to debt help."""
    OUTPUT.mkdir(exist_ok=True)
    people = sorted(_people_with_several_debts(200), key=lambda p: -p[2])
    refer = people[:2]  # the largest debts: more than a small budget repays in the term
    plan = [p for p in people[2:] if p[2] < 300_000][:4]
    print("One debtor, many debts: coordinated plans sized to what the debtor can pay\n")
    for ref, n, total in plan:
        budget = OUTPUT / f"budget-{ref}.json"
        budget.write_text(json.dumps(BUDGETS["room"], indent=2), encoding="utf-8")
        stated = _step(
            f"{ref}: the debtor's income & expenditure ({n} open cases, EUR {total / 100:,.2f} owed)",
            ["plan", "statement", ref, "--file", str(budget), "--household", "single", "--on", on],
        )
        if not isinstance(stated, dict):
            continue
        capacity = stated["capacity"]["capacity"]
        print(
            f"    protected income {stated['protected']['protected']} "
            f"({stated['protected']['regime'].replace('_', ' ')}), "
            f"capacity {capacity} a month ({stated['capacity']['binding'].replace('_', ' ')})\n"
        )
        offer = _step(
            f"{ref}: plan options across all creditors (payday the 25th)",
            ["plan", "options", ref, "--all-cases", "--payday", "25", "--on", on],
        )
        if isinstance(offer, dict):
            print(f"    total {offer['total']} over {len(offer['cases'])} creditors:")
            for o in offer["options"]:
                print(
                    f"    {o['label']:<14} {o['months']:>2} x {o['instalment']:>8}  first {o['first_due']}"
                )
        proposed = _step(
            f"{ref}: the debtor proposes to pay the capacity each month",
            [
                "plan",
                "propose",
                ref,
                "--all-cases",
                "--instalment",
                str(capacity),
                "--payday",
                "25",
                "--on",
                on,
            ],
        )
        if isinstance(proposed, dict):
            shares = ", ".join(f"{k} {v}" for k, v in proposed["shares"].items())
            print(
                f"    plan {proposed['plan']} {proposed['status']}: {proposed['months']} months of "
                f"{proposed['instalment']}, interest frozen: {proposed['interest_frozen']}\n"
                f"    shared pro rata by principal: {shares}\n"
            )
    print("Debt that cannot be repaid within the term: a referral to municipal debt help\n")
    for ref, n, total in refer:
        budget = OUTPUT / f"budget-{ref}.json"
        budget.write_text(json.dumps(BUDGETS["tight"], indent=2), encoding="utf-8")
        stated = _step(
            f"{ref}: income & expenditure ({n} open cases, EUR {total / 100:,.2f} owed)",
            ["plan", "statement", ref, "--file", str(budget), "--household", "single", "--on", on],
        )
        if isinstance(stated, dict):
            print(f"    capacity {stated['capacity']['capacity']} a month\n")
        referred = _step(
            f"{ref}: refer to debt counselling (collection on hold while it runs)",
            ["referral", "create", ref, "--date", on, "--actor", "agent:demo"],
        )
        if isinstance(referred, dict):
            reasons = "; ".join(
                str(r.get("explanation", r)) if isinstance(r, dict) else str(r)
                for r in referred.get("reasons", [])
            )
            contact = referred.get("contact", {})
            print(
                f"    referral {referred.get('referral_id')}: {reasons}\n"
                f"    contact: {contact.get('organisation', '')} {contact.get('website', '')} "
                f"{contact.get('phone') or ''}\n"
                f"    cases on hold: {referred.get('cases_on_hold')}\n"
            )
        pdf = OUTPUT / f"claim-statement-{ref}.pdf"
        _step(
            f"{ref}: the claim statement for the counsellor",
            ["referral", "statement", ref, "--out", str(pdf), "--date", on],
        )
        print(f"    written: {pdf}\n")
    return [ref for ref, _, _ in plan]


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
            "Build a synthetic portfolio: 2,000 debtors (NL, BE, PL), handed over on 15 January 2025",
            [
                "demo-data",
                "--debtors",
                "2000",
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
            "Run 30 nights: each day's payments are booked (6:43/6:44 BW), then the nightly "
            "cycle; each morning at 09:00 `respite send` delivers its messages behind the "
            "contact guardrails (e-mail to the local SMTP sink, SMS to the local provider, "
            "letters to the day's print batch, calls to the agent queue)",
            ["simulate", "--from", PORTFOLIO_DATE, "--days", "30", "--quiet", "--send"],
        ),
        (
            "Identity resolution across creditors: link spellings of one person, queue doubts",
            ["debtor", "match", "--all"],
        ),
    ]
    _run_steps(steps)
    OUTPUT.mkdir(exist_ok=True)
    planned = _arrangements(ARRANGEMENT_DATE)
    statement = str(OUTPUT / f"camt053-{ARRANGEMENT_DATE}.xml")
    print("Money in: a bank statement for the demo portfolio\n")
    _run_steps(
        [
            (
                "The bank's CAMT.053 of today: debtors paying with their reference, in free "
                "text, by name only, one paying too much, one bank charge",
                ["bank", "generate", "--date", ARRANGEMENT_DATE, "--out", statement],
            ),
            (
                "Import it: balance check, matches (and why), 6:43/6:44 allocation, refunds, review",
                ["bank", "import", statement, "--date", ARRANGEMENT_DATE],
            ),
            (
                "Import the same file again: every entry is booked exactly once",
                ["bank", "import", statement, "--date", ARRANGEMENT_DATE],
            ),
        ]
    )
    payer = _open_case(planned)
    _run_steps(
        [
            (
                f"How {payer} can pay: references, IBAN and the EPC QR payload",
                ["payment", "details", payer],
            ),
            (
                "The EPC QR code a banking app scans (exact amount, RF reference)",
                ["payment", "qr", payer, "--out", str(OUTPUT / f"qr-{payer}.png")],
            ),
        ]
    )
    _run_steps(
        [
            (
                "Run 60 more nights: plans are paid and followed up (grace period, friendly "
                "reminder, re-plan offer), held cases wait",
                ["simulate", "--from", ARRANGEMENT_DATE, "--days", "60", "--quiet", "--send"],
            ),
            ("The portfolio after 90 days", ["summary"]),
            *(
                (
                    f"{ref} signs a SEPA Direct Debit mandate for all the plan's cases",
                    [
                        "sepa",
                        "mandate",
                        "add",
                        ref,
                        "--mandate-id",
                        f"RSP-{ref}",
                        "--signed-on",
                        "2025-04-10",
                        "--iban",
                        _demo_iban(n),
                        "--all-cases",
                        "--on",
                        "2025-04-10",
                    ],
                )
                for n, ref in enumerate(planned)
            ),
            (
                "Pre-notify the collections due in 14 days (the SEPA rulebook's default)",
                ["sepa", "prenotify", "--date", "2025-04-11"],
            ),
            (
                "Collect the instalments due on 25 April: a pain.008.001.08 batch (XSD-valid)",
                [
                    "sepa",
                    "collect",
                    "--date",
                    "2025-04-25",
                    "--version",
                    "08",
                    "--out",
                    str(OUTPUT / "pain008-2025-04-25.xml"),
                    "--on",
                    "2025-04-14",
                ],
            ),
            (
                "Money out: pay the creditors what was collected minus 15% commission (pain.001.001.09)",
                [
                    "payout",
                    "run",
                    "--from",
                    PORTFOLIO_DATE,
                    "--to",
                    "2025-04-13",
                    "--version",
                    "09",
                    "--out",
                    str(OUTPUT / "pain001-2025-04-13.xml"),
                    "--statement",
                    str(OUTPUT / "remittance-2025-04-13.csv"),
                    "--on",
                    "2025-04-14",
                ],
            ),
            *(
                (
                    f"Debtor 360 of {ref}: every case, plan and hold of one person",
                    ["debtor", "show", ref, "--on", "2025-04-14"],
                )
                for ref in planned[::2]
            ),
            (
                f"The timeline of case {DEMO_HOLDS[0][0]}: who, when, what, why",
                ["case", "timeline", DEMO_HOLDS[0][0]],
            ),
        ]
    )


@contextmanager
def _local_channels() -> Iterator[None]:
    """A local SMTP sink and SMS provider for the demo; letters go to demo-output/print.

    The settings reach every `respite` command the demo runs through the environment,
    exactly as they would point at a real relay and provider in production.
    """
    from respite.adapters.channels.fake_sms import FakeSmsProvider
    from respite.adapters.channels.mail_sink import MailSink

    OUTPUT.mkdir(exist_ok=True)
    for old in ("mail", "print"):
        shutil.rmtree(OUTPUT / old, ignore_errors=True)
    (OUTPUT / "sms.jsonl").unlink(missing_ok=True)
    key = "demo-sms-key"
    with (
        MailSink(OUTPUT / "mail") as sink,
        FakeSmsProvider(api_key=key, deliver_after_polls=0, log_path=OUTPUT / "sms.jsonl") as sms,
    ):
        os.environ.update(
            RESPITE_SMTP_HOST=sink.host,
            RESPITE_SMTP_PORT=str(sink.port),
            RESPITE_SMS_URL=sms.url,
            RESPITE_SMS_API_KEY=key,
            RESPITE_PRINT_DIR=str(OUTPUT / "print"),
        )
        print(
            f"Local channels for the demo: SMTP sink on {sink.host}:{sink.port} "
            f"(stores into {OUTPUT / 'mail'}), SMS provider at {sms.url}, letters into "
            f"{OUTPUT / 'print'}\n"
        )
        yield


def _communications() -> None:
    """What the 90 mornings delivered, one case's letter, and the call queue."""
    from respite.adapters.channels.letters import batch_paths

    several = _people_with_several_debts(1)
    screened = _screened_case()
    _run_steps(
        [
            (
                "`respite send` for the last day: what is still due goes out, deferred "
                "messages wait for their slot",
                ["send", "--date", LAST_DAY],
            ),
            *(
                [
                    (
                        f"The messages of {several[0][0]}'s person ({several[0][1]} creditors): "
                        "one written message a day across creditors, every decision with its rule",
                        ["messages", "list", "--case", several[0][0], "--limit", "6"],
                    )
                ]
                if several
                else []
            ),
            *(
                [
                    (
                        f"Case {screened} reached legal screening: would court recover "
                        "anything, at what cost, at what harm to the debtor?",
                        ["screen", screened, "--date", LAST_DAY, "--by", "agent:demo"],
                    )
                ]
                if screened
                else []
            ),
            (
                "The current letter of one case as a PDF (amounts explained, EPC QR, portal)",
                [
                    "letter",
                    "R000000002",
                    "--date",
                    "2025-04-14",
                    "--out",
                    str(OUTPUT / "letter-R000000002.pdf"),
                ],
            ),
        ]
    )
    _run_steps(
        [
            (
                "The social collection report for the 90 days (PDF for the board)",
                [
                    "report",
                    "social",
                    "--from",
                    PORTFOLIO_DATE,
                    "--to",
                    LAST_DAY,
                    "--format",
                    "pdf",
                    "--out",
                    str(OUTPUT / "social-report.pdf"),
                ],
            ),
            (
                "The same figures as CSV and JSON for the creditors' own BI",
                [
                    "report",
                    "social",
                    "--from",
                    PORTFOLIO_DATE,
                    "--to",
                    LAST_DAY,
                    "--format",
                    "json",
                    "--out",
                    str(OUTPUT / "social-report.json"),
                ],
            ),
        ]
    )
    spooled = {
        day.name: len(list(day.glob("*.json")))
        for day in sorted((OUTPUT / "print" / "spool").glob("20*"))
    }
    busy = [day for day, n in spooled.items() if n]
    # The print batch of the busiest day of at most 150 letters (a few pages a second).
    busy.sort(key=lambda day: (spooled[day] <= 150, spooled[day] if spooled[day] <= 150 else 0))
    if busy:
        _run_steps(
            [
                (
                    f"Lay out the print batch of {busy[-1]}: one PDF for the print shop and a "
                    f"CSV manifest ({spooled[busy[-1]]} letters; every day's letters are "
                    "spooled, `respite print-batch --date` lays out any day)",
                    ["print-batch", "--date", busy[-1]],
                )
            ]
        )
    mails = sorted((OUTPUT / "mail").glob("*.eml"))
    sms = OUTPUT / "sms.jsonl"
    sms_count = len(sms.read_text(encoding="utf-8").splitlines()) if sms.exists() else 0
    print("Delivered in 90 mornings:")
    print(
        f"  {len(mails)} e-mails in the SMTP sink: {OUTPUT / 'mail'} (open an .eml in a mail program)"
    )
    print(f"  {sms_count} SMS at the local provider: {sms}")
    print(
        f"  {sum(spooled.values())} letters spooled on {len(busy)} days: {OUTPUT / 'print' / 'spool'}"
    )
    if busy:
        pdf, csv = batch_paths(OUTPUT / "print" / "batches", date.fromisoformat(busy[-1]))
        print(f"  the print batch of {busy[-1]}: {pdf} with its manifest {csv}")
    print(f"  the social collection report: {OUTPUT / 'social-report.pdf'}")
    print()


def _open_case(preferred: list[str]) -> str:
    """The first of ``preferred`` that still owes euros, else the first open euro case."""
    from sqlalchemy import text

    from respite.adapters.db.engine import make_engine

    engine = make_engine()
    try:
        with engine.connect() as conn:
            owing = [
                str(r[0])
                for r in conn.execute(
                    text(
                        "SELECT c.reference FROM cases c JOIN claims cl ON cl.case_id = c.id"
                        " WHERE c.closed = :no AND cl.currency = 'EUR' GROUP BY c.id, c.reference"
                        " HAVING SUM(cl.open_principal_cents + cl.open_interest_cents"
                        " + cl.open_costs_cents) > 0 ORDER BY c.id"
                    ),
                    {"no": False},
                )
            ]
    finally:
        engine.dispose()
    return next((ref for ref in preferred if ref in set(owing)), owing[0])


def _screened_case() -> str | None:
    """A case the nightly cycle screened for legal action (the first by id), if any."""
    from sqlalchemy import text

    from respite.adapters.db.engine import make_engine

    engine = make_engine()
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT MIN(c.reference) FROM cases c JOIN events e ON e.case_id = c.id"
                    " WHERE e.kind = 'screening'"
                )
            ).scalar()
    finally:
        engine.dispose()
    return str(found) if found else None


def _demo_iban(n: int) -> str:
    """A syntactically valid debtor IBAN (computed check digits; no real account)."""
    from schwifty import IBAN

    return str(IBAN.generate("NL", bank_code="RABO", account_code=str(300_000_000 + n)))


def _run_steps(steps: list[tuple[str, list[str]]]) -> None:
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
        elif args[:3] == ["sepa", "mandate", "add"]:
            m = json.loads(out)
            out = f"mandate {m['mandate']} ({m['type']}, {m['scope']}-wide), IBAN {m['iban']}"
        elif args[:2] == ["sepa", "prenotify"]:
            n = json.loads(out)
            out = (
                f"{n['queued']} pre-notifications queued for collections on "
                f"{n['window'][0]}..{n['window'][1]} (e-mail, through the outbox)"
            )
        elif args[:2] == ["bank", "import"]:
            lines = out.splitlines()
            marks = [i for i, line in enumerate(lines) if line.strip() == "needs attention:"]
            if marks:
                cut = marks[0] + 6
                more = len(lines) - cut
                if more > 0:
                    lines = [*lines[:cut], f"  ... {more} more: `respite bank review`"]
            out = "\n".join(lines)
        elif args[:2] == ["messages", "list"]:
            out = "\n".join(
                f"{(m['sent_at'] or m['date'])[:10]}  {m['channel']:<6} {m['template']:<26} {m['status']:<9} "
                + ", ".join(f"{d['outcome']}:{d['rule']}" for d in m["decisions"])
                for m in json.loads(out)
            )
        elif args[0] == "send":
            r = json.loads(out)
            out = (
                f"prepared {r['prepared']}, sent {r['sent_total']} {r['sent']}, deferred "
                f"{r['deferred']}, blocked {r['blocked']}"
            )
        elif args[0] == "screen":
            out = "\n".join(out.splitlines()[:14])
        elif args[0] == "print-batch":
            b = json.loads(out)
            out = f"{b.get('letters', 0)} letters, {b.get('pages', 0)} pages: {b.get('pdf_path')}"
        elif args[0] == "letter":
            out = f"written: {json.loads(out)['pdf']}"
        elif args[:2] == ["debtor", "match"]:
            found = json.loads(out)
            out = (
                f"linked automatically: {found['linked']}, queued for a person to review: "
                f"{found['review']} (never on a name alone; `respite debtor review` lists them)"
            )
        if out:
            print("\n".join("    " + line for line in out.splitlines()))
        print()


def _demo_logins() -> list[dict[str, Any]]:
    """Portal codes for three people who still owe something, two with several creditors."""
    people = [ref for ref, _n, owed in _people_with_several_debts(10) if owed > 0][:2]
    refs = [*people, _open_case([])]
    logins = []
    for ref in dict.fromkeys(refs):
        proc = _run(["portal", "code", ref, "--on", LAST_DAY, "--by", "demo"])
        if proc.returncode != 0:
            print(f"  respite portal code {ref}: exit {proc.returncode}: {proc.stderr.strip()}")
            continue
        logins.append(json.loads(proc.stdout))
    return logins


def _api_key() -> dict[str, Any] | None:
    from sqlalchemy import text

    from respite.adapters.db.engine import make_engine

    engine = make_engine()
    try:
        with engine.connect() as conn:
            creditor = conn.execute(text("SELECT name FROM creditors ORDER BY id LIMIT 1")).scalar()
    finally:
        engine.dispose()
    args = ["creditor", "key", "create", str(creditor), "--label", "demo", "--scopes", API_SCOPES]
    proc = _run(args)
    if proc.returncode != 0:
        print(f"  respite {shlex.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return None
    return {"creditor": creditor, **json.loads(proc.stdout)}


def _web() -> None:
    """Serve the portal, the console and the API on the 90th day, with logins to try."""
    from datetime import UTC, datetime

    from respite.adapters.db.engine import make_engine
    from respite.adapters.payments.fake_provider import FakePaymentProvider
    from respite.services.users import ensure_demo_operators

    print("The debtor portal, the operator console and the creditor API\n")
    logins = _demo_logins()
    engine = make_engine()
    try:
        operators = ensure_demo_operators(engine, now=datetime.now(UTC))
    finally:
        engine.dispose()
    key = _api_key()
    host, port = "127.0.0.1", int(os.environ.get("RESPITE_DEMO_PORT", "8000"))
    base = f"http://{host}:{port}"
    secret = "demo-webhook-secret"  # noqa: S105 - the local fake provider's, for the demo only
    with FakePaymentProvider(webhook_secret=secret) as provider:
        os.environ.update(
            RESPITE_BUSINESS_DATE=LAST_DAY,
            RESPITE_PORTAL_URL=base,
            RESPITE_PAYMENT_PROVIDER_URL=provider.url,
            RESPITE_PAYMENT_WEBHOOK_SECRET=secret,
        )
        print(f"Debtor portal: {base}/  (the business date is {LAST_DAY}, the 90th day)")
        for login in logins:
            print(f"  case {login['reference']}  code {login['code']}")
        if logins:
            print(f"  or open the letter's signed link: {logins[0]['login_link']}")
        print(f"  payments go to a local fake payment provider at {provider.url}")
        print(f"Operator console: {base}/console/login")
        for username, role, password in operators:
            print(f"  {role:<11} username {username:<11} password {password}")
        if key is not None:
            print(f"Creditor API ({key['creditor']}): {base}/api/v1/docs")
            print(f"  key {key['key']}  (scopes {API_SCOPES})")
            print(
                f"  $ curl -H 'Authorization: Bearer {key['key']}' {base}/api/v1/cases?per_page=3"
            )
        if os.environ.get("RESPITE_DEMO_SERVE", "1") == "0":
            print("\nRESPITE_DEMO_SERVE=0: not serving; `respite serve` starts it.")
            return
        print(f"\nServing at {base} — press Ctrl+C to stop.", flush=True)
        import uvicorn

        with suppress(KeyboardInterrupt):
            uvicorn.run(
                "respite.entrypoints.web.app:create_app",
                factory=True,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
            )


def main() -> None:
    _tour()
    with _local_channels():
        _portfolio()
        _communications()
        print(
            "`respite --help` lists every command; `respite summary` and "
            "`respite case timeline REF` read the same database.\n"
        )
        _web()


if __name__ == "__main__":
    main()
