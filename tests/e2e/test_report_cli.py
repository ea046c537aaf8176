"""``respite report social`` as a user runs it: four formats, and refusals in one line."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from respite.adapters.db.engine import make_engine, upgrade

from ..integration.test_social_report import build
from .cli import run


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database holding the integration test's constructed first quarter."""
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'respite.db'}"
    engine = make_engine(url)
    upgrade(engine)
    build(engine)
    engine.dispose()
    return url


def report(db: str, out: Path, fmt: str, *extra: str) -> dict[str, object]:
    proc = run(
        "report", "social", "--from", "2025-01-01", "--to", "2025-03-31",
        "--format", fmt, "--out", str(out), "--db", db, *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed: dict[str, object] = json.loads(proc.stdout)
    return printed


def test_json_report_parses_and_carries_figures_and_definitions(db: str, tmp_path: Path) -> None:
    printed = report(db, tmp_path / "r.json", "json")
    assert printed["dossiers_handled"] == 5
    assert printed["amount_collected"] == {"EUR": "100.00", "PLN": "270.00"}
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["period"] == {"from": "2025-01-01", "to": "2025-03-31"}
    assert data["scopes"] == ["agency", "Telecom", "Water"]
    figures = {(f["metric"], f["scope"], f["unit"]): f["value"] for f in data["figures"]}
    assert figures[("dossiers_closed", "agency", "count")] == 4
    assert figures[("amount_collected", "Water", "EUR")] == "100.00"
    assert figures[("messages_b1_share", "agency", "percent")] == "66.7"
    assert all(m["definition"] for m in data["metrics"])


def test_csv_has_one_row_per_metric_and_scope_with_its_definition(db: str, tmp_path: Path) -> None:
    report(db, tmp_path / "r.csv", "csv", "--creditor", "Water")
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"metric_id", "title", "scope", "value", "unit", "period_from", "period_to",
            "definition"} <= set(rows[0])  # fmt: skip
    assert {r["scope"] for r in rows} == {"Water"}
    by_id = {(r["metric_id"], r["unit"]): r for r in rows}
    assert by_id[("dossiers_handled", "count")]["value"] == "3"
    assert by_id[("amount_collected", "EUR")]["value"] == "100.00"
    assert "plan_started" in by_id[("arrangements_made", "count")]["definition"]
    assert all(r["period_from"] == "2025-01-01" and r["definition"] for r in rows)


def test_html_report_shows_headlines_charts_and_definitions(db: str, tmp_path: Path) -> None:
    report(db, tmp_path / "r.html", "html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Social collection report" in html
    assert html.count("<svg") >= 4
    assert "What each figure means" in html
    assert "EUR 100.00" in html


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) absent")
def test_pdf_report_text_contains_the_headline_figures(db: str, tmp_path: Path) -> None:
    report(db, tmp_path / "r.pdf", "pdf")
    pdf = tmp_path / "r.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "Social collection report",
        "DOSSIERS HANDLED",
        "EUR 100.00",
        "PLN 270.00",
        "Payment arrangements made",
        "What each figure means",
    ):
        assert expected in text, expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-02-30", "--to", "2025-03-31"], "--from: expected a date"),
        (["--from", "2025-03-31", "--to", "2025-01-01"], "before it starts"),
        (["--from", "2025-01-01", "--to", "2025-03-31", "--creditor", "Gas"], "no creditor"),
        (["--from", "2025-01-01", "--to", "2025-03-31", "--format", "xls"], "--format"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    proc = run("report", "social", *args, "--out", str(tmp_path / "x"), "--db", db)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
