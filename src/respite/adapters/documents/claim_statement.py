"""The claim statement for a debt counsellor, as CSV and as a PDF (WeasyPrint).

CSV: UTF-8, a header row, one row per claim, amounts as plain decimals with a dot (so a
spreadsheet or a counsellor's system reads them without guessing). PDF: A4, one table per
creditor and the totals, rendered from ``templates/claim_statement.html``; WeasyPrint gets
a URL fetcher that refuses every external resource, so rendering never touches the
network or the file system beyond the template.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:  # the view is built by the service; this adapter only renders it
    from respite.services.referrals import ClaimStatement

__all__ = ["CSV_HEADER", "render_html", "write_csv", "write_pdf"]

CSV_HEADER = (
    "creditor",
    "case_reference",
    "invoice_reference",
    "description",
    "issue_date",
    "due_date",
    "currency",
    "principal",
    "interest",
    "costs",
    "paid",
    "written_off",
    "open",
)


def write_csv(statement: ClaimStatement, path: Path | str) -> Path:
    """One row per claim, with a header row; returns the path written."""
    target = Path(path)
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for line in statement.lines:
            writer.writerow(
                (
                    line.creditor,
                    line.case_reference,
                    line.invoice_reference,
                    line.description,
                    line.issue_date.isoformat(),
                    line.due_date.isoformat(),
                    statement.currency.code,
                    str(line.principal),
                    str(line.interest),
                    str(line.costs),
                    str(line.paid),
                    str(line.written_off),
                    str(line.open),
                )
            )
    return target


_env = Environment(
    loader=PackageLoader("respite.adapters.documents", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _amount(value: Any) -> str:
    """``1234.5`` → ``1,234.50``: grouped for reading; the CSV keeps plain decimals."""
    text = str(value)
    sign = "-" if text.startswith("-") else ""
    whole, _, cents = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{cents}" if cents else f"{sign}{grouped}"


_env.filters["amount"] = _amount


def render_html(statement: ClaimStatement, *, agency: Mapping[str, str] | None = None) -> str:
    """The statement as HTML (the PDF's source); ``agency`` adds the sender's contact."""
    return _env.get_template("claim_statement.html").render(
        s=statement, cur=statement.currency.code, agency=agency or {}
    )


def write_pdf(
    statement: ClaimStatement, path: Path | str, *, agency: Mapping[str, str] | None = None
) -> Path:
    """The statement as an A4 PDF; returns the path written."""
    # Heavy imports, only when a PDF is asked for.
    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    class _NoFetch(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"external resources are not fetched: {url}")

    target = Path(path)
    HTML(string=render_html(statement, agency=agency), url_fetcher=_NoFetch()).write_pdf(
        str(target)
    )
    return target
