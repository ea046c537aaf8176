"""The social collection report as HTML, PDF (A4, WeasyPrint), CSV and JSON.

HTML and PDF are for people (a creditor's board): headline figures, a few static inline
SVG bar charts, one table per theme, a per-creditor table and every metric's written
definition. CSV and JSON are for the creditor's own BI: one row per metric per scope, with
the definition beside it; amounts as plain decimals with a dot (strings in JSON), so that
no float ever carries money.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from respite.domain.social_report import (
    AGENCY,
    METRIC_BY_ID,
    METRICS,
    SECTIONS,
    Figure,
    Report,
    Unit,
)

__all__ = ["CSV_HEADER", "FORMATS", "render_html", "write", "write_csv", "write_json", "write_pdf"]

FORMATS = ("html", "pdf", "csv", "json")

CSV_HEADER = (
    "metric_id",
    "title",
    "scope",
    "value",
    "unit",
    "part",
    "whole",
    "period_from",
    "period_to",
    "additive",
    "creditor_additive",
    "definition",
)


def _unit(f: Figure) -> str:
    unit = METRIC_BY_ID[f.metric].unit
    return f.currency or "" if unit is Unit.MONEY else unit.value


def _plain(value: int | Decimal | None) -> str:
    return "" if value is None else str(value)


def write_csv(report: Report, path: Path | str) -> Path:
    target = Path(path)
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        for f in report.figures:
            m = METRIC_BY_ID[f.metric]
            writer.writerow(
                (
                    m.id,
                    m.title,
                    f.scope,
                    _plain(f.value),
                    _unit(f),
                    _plain(f.part),
                    _plain(f.whole),
                    report.period_from.isoformat(),
                    report.period_to.isoformat(),
                    str(m.additive).lower(),
                    str(m.creditor_additive).lower(),
                    m.definition,
                )
            )
    return target


def as_json(report: Report) -> dict[str, Any]:
    def value(v: int | Decimal | None) -> int | str | None:
        return str(v) if isinstance(v, Decimal) else v

    return {
        "report": "social collection report",
        "period": {"from": report.period_from.isoformat(), "to": report.period_to.isoformat()},
        "creditor": report.creditor,
        "scopes": list(report.scopes),
        "metrics": [
            {
                "id": m.id,
                "section": m.section,
                "title": m.title,
                "unit": m.unit.value,
                "additive": m.additive,
                "creditor_additive": m.creditor_additive,
                "definition": m.definition,
            }
            for m in METRICS
        ],
        "figures": [
            {
                "metric": f.metric,
                "scope": f.scope,
                "value": value(f.value),
                "unit": _unit(f),
                **({"part": f.part, "whole": f.whole} if f.whole is not None else {}),
            }
            for f in report.figures
        ],
        "collected_by_month": [
            {"scope": m.scope, "month": m.month, "currency": m.currency, "amount": str(m.amount)}
            for m in report.collected_by_month
        ],
    }


def write_json(report: Report, path: Path | str) -> Path:
    target = Path(path)
    target.write_text(
        json.dumps(as_json(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return target


# --- for people ------------------------------------------------------------------------


def _grouped(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


def format_figure(f: Figure) -> str:
    """A figure as a person reads it: ``1,234``, ``EUR 45,504.17``, ``87.5%``, ``12 days``."""
    unit = METRIC_BY_ID[f.metric].unit
    if f.value is None:
        return "—"
    if unit is Unit.COUNT:
        return _grouped(str(f.value))
    if unit is Unit.MONEY:
        return f"{f.currency} {_grouped(str(f.value))}"
    if unit is Unit.PERCENT:
        return f"{f.value}%"
    if unit is Unit.SCORE:
        return f"{f.value} / 5"
    days = Decimal(f.value)
    shown = str(days.to_integral_value()) if days == days.to_integral_value() else str(days)
    return f"{shown} days"


def _money_text(figures: Sequence[Figure]) -> str:
    shown = [format_figure(f) for f in figures if f.value]
    return " · ".join(shown) if shown else "0"


@dataclass(frozen=True, slots=True)
class _Row:
    title: str
    value: str
    note: str
    sub: bool


@dataclass(frozen=True, slots=True)
class _Section:
    title: str
    rows: tuple[_Row, ...]


def _note(f: Figure) -> str:
    unit = METRIC_BY_ID[f.metric].unit
    if unit is Unit.PERCENT:
        return f"{_grouped(str(f.part or 0))} of {_grouped(str(f.whole or 0))}"
    if unit is Unit.SCORE:
        return f"{_grouped(str(f.whole or 0))} responses"
    if unit is Unit.DAYS:
        return f"{_grouped(str(f.whole or 0))} dossiers"
    return ""


def _sections(report: Report, scope: str) -> list[_Section]:
    out = []
    for title in SECTIONS:
        rows = []
        for m in METRICS:
            if m.section != title:
                continue
            figures = report.figures_of(m.id, scope)
            if m.unit is Unit.MONEY:
                value, note = _money_text(figures), ""
            else:
                value = format_figure(figures[0]) if figures else "—"
                note = _note(figures[0]) if figures else ""
            rows.append(_Row(m.title.lstrip("… "), value, note, m.title.startswith("…")))
        out.append(_Section(title, tuple(rows)))
    return out


# --- charts (static inline SVG) --------------------------------------------------------

INK = "#1f2d3d"
ACCENT = "#2f6f8f"
SOFT = "#9cc3d5"
WARM = "#d98c3f"


def _bar_chart(
    bars: Sequence[tuple[str, Decimal, str]],
    *,
    width: int = 340,
    row: int = 26,
    maximum: Decimal | None = None,
    color: str = ACCENT,
) -> Markup:
    """Horizontal bars: (label, value, text shown at the bar's end)."""
    label_w = 120
    top = max((v for _, v, _ in bars), default=Decimal(0))
    scale = maximum if maximum is not None else top
    # Room after the longest bar for the longest end text (DejaVu Sans at 11 px: at most
    # 7 px a digit, 6.6 px a character on average over such texts), so that
    # "100.0%  (7 of 7)" next to a full bar stays inside the chart.
    text_room = max(40, int(max((len(t) for _, _, t in bars), default=0) * 6.6) + 10)
    plot = width - label_w - text_room
    height = row * len(bars) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="11">'
    ]
    for i, (label, value, text) in enumerate(bars):
        y = 4 + i * row
        length = int(plot * value / scale) if scale > 0 else 0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row / 2 + 4}" text-anchor="end" fill="{INK}">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{max(length, 1)}" height="{row - 10}" '
            f'rx="2" fill="{color}"/>'
            f'<text x="{label_w + length + 5}" y="{y + row / 2 + 4}" fill="{INK}">'
            f"{escape(text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text inside is escaped above


def _column_chart(
    columns: Sequence[tuple[str, Decimal, str]], *, width: int = 340, height: int = 170
) -> Markup:
    """Vertical columns (e.g. months): (label under the column, value, text above it)."""
    bottom = height - 22
    plot_h = bottom - 18
    top = max((v for _, v, _ in columns), default=Decimal(0))
    n = max(len(columns), 1)
    slot = (width - 10) / n
    bar_w = min(46.0, slot * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="10">',
        f'<line x1="4" y1="{bottom}" x2="{width - 4}" y2="{bottom}" stroke="#b8c2cc"/>',
    ]
    for i, (label, value, text) in enumerate(columns):
        h = int(plot_h * value / top) if top > 0 else 0
        x = 5 + i * slot + (slot - bar_w) / 2
        cx = x + bar_w / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{bottom - h}" width="{bar_w:.1f}" height="{max(h, 1)}" '
            f'rx="2" fill="{ACCENT}"/>'
            f'<text x="{cx:.1f}" y="{bottom - h - 4}" text-anchor="middle" fill="{INK}">'
            f"{escape(text)}</text>"
            f'<text x="{cx:.1f}" y="{bottom + 14}" text-anchor="middle" fill="{INK}">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text inside is escaped above


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _short(amount: Decimal) -> str:
    if abs(amount) >= 1_000_000:
        return f"{(amount / 1_000_000).quantize(Decimal('0.1'))}m"
    if abs(amount) >= 10_000:
        return f"{(amount / 1000).quantize(Decimal('1'))}k"
    return _grouped(str(amount.quantize(Decimal("1"))))


@dataclass(frozen=True, slots=True)
class _Chart:
    title: str
    svg: Markup
    note: str = ""


def _count(report: Report, metric: str, scope: str) -> int:
    value = report.value(metric, scope)
    return int(value) if isinstance(value, int) else 0


def _charts(report: Report, scope: str) -> list[_Chart]:
    charts = []
    currencies = sorted({m.currency for m in report.collected_by_month if m.scope == scope})
    for cur in currencies:
        months = [m for m in report.collected_by_month if m.scope == scope and m.currency == cur]
        if len(months) > 18:  # a long period: the last 18 months
            months = months[-18:]
        cols = [
            (
                f"{MONTHS[int(m.month[5:]) - 1]} {m.month[2:4]}",
                max(m.amount, Decimal(0)),
                _short(m.amount),
            )
            for m in months
        ]
        charts.append(_Chart(f"Amount collected per month ({cur})", _column_chart(cols)))
    channels = [
        ("E-mail", "messages_email"),
        ("SMS", "messages_sms"),
        ("Letters", "messages_post"),
        ("Phone calls", "messages_phone"),
    ]
    bars = [
        (label, Decimal(_count(report, m, scope)), _grouped(str(_count(report, m, scope))))
        for label, m in channels
    ]
    charts.append(_Chart("Messages sent per channel", _bar_chart(bars)))
    kept = []
    for label, m in (
        ("So far", "arrangements_kept_to_date"),
        ("3 months", "arrangements_kept_3m"),
        ("6 months", "arrangements_kept_6m"),
        ("12 months", "arrangements_kept_12m"),
    ):
        (f,) = report.figures_of(m, scope)
        value = f.value if isinstance(f.value, Decimal) else Decimal(0)
        text = f"{f.value}%  ({f.part} of {f.whole})" if f.value is not None else "no plans yet"
        kept.append((label, value, text))
    charts.append(
        _Chart(
            "Payment arrangements kept",
            _bar_chart(kept, maximum=Decimal(100), color=SOFT, width=340),
            "share of arrangements not broken at each mark",
        )
    )
    closes = [
        (label, Decimal(_count(report, m, scope)), _grouped(str(_count(report, m, scope))))
        for label, m in (
            ("Paid in full", "closed_paid"),
            ("Settled", "closed_settled"),
            ("Written off", "closed_written_off"),
            ("Recalled", "closed_recalled"),
        )
    ]
    charts.append(_Chart("Dossiers closed, by outcome", _bar_chart(closes)))
    resolution = []
    for label, m in (
        ("Vulnerable", "resolution_days_vulnerable"),
        ("Others", "resolution_days_other"),
    ):
        (f,) = report.figures_of(m, scope)
        value = Decimal(f.value) if f.value is not None else Decimal(0)
        resolution.append(
            (label, value, format_figure(f) if f.value is not None else "none closed")
        )
    charts.append(
        _Chart(
            "Median days from opening to closing",
            _bar_chart(resolution, color=WARM),
            "dossiers closed in the period",
        )
    )
    return charts


@dataclass(frozen=True, slots=True)
class _Tile:
    label: str
    value: str
    note: str


def _tiles(report: Report, scope: str) -> list[_Tile]:
    def one(metric: str) -> Figure:
        return report.figures_of(metric, scope)[0]

    free = _count(report, "debt_free_private", scope) + _count(report, "debt_free_business", scope)
    made = one("arrangements_made")
    kept = one("arrangements_kept_to_date")
    screened = _count(report, "screenings_negative", scope)
    return [
        _Tile("Dossiers handled", format_figure(one("dossiers_handled")), "open during the period"),
        _Tile(
            "Amount collected",
            _money_text(report.figures_of("amount_collected", scope)),
            "received, net of reversals",
        ),
        _Tile(
            "Became debt-free",
            _grouped(str(free)),
            f"{_count(report, 'debt_free_private', scope):,} private · "
            f"{_count(report, 'debt_free_business', scope):,} business",
        ),
        _Tile(
            "Payment arrangements",
            format_figure(made),
            f"{format_figure(kept)} kept so far" if kept.value is not None else "",
        ),
        _Tile(
            "Costs not charged",
            _money_text(report.figures_of("costs_not_charged", scope)),
            "no stacking, caps and waivers",
        ),
        _Tile(
            "Referred to debt help",
            format_figure(one("referrals_debt_counselling")),
            f"{format_figure(one('vulnerability_reviews'))} vulnerability reviews",
        ),
        _Tile(
            "No court procedure",
            _grouped(str(screened)),
            "court costs avoided: " + _money_text(report.figures_of("court_costs_avoided", scope)),
        ),
        _Tile(
            "Messages at B1 level",
            format_figure(one("messages_b1_share")),
            f"of {format_figure(one('messages_sent'))} messages sent",
        ),
    ]


CREDITOR_COLUMNS = (
    ("Handled", "dossiers_handled"),
    ("Closed", "dossiers_closed"),
    ("Collected", "amount_collected"),
    ("Debt-free", "debt_free"),
    ("Arrangements", "arrangements_made"),
    ("Referrals", "referrals_debt_counselling"),
    ("Disputes", "disputes_opened"),
    ("Messages", "messages_sent"),
)


def _creditor_table(report: Report) -> list[list[str]]:
    rows = []
    for scope in report.scopes:
        if scope == AGENCY:
            continue
        row = [scope]
        for _, metric in CREDITOR_COLUMNS:
            if metric == "debt_free":
                n = _count(report, "debt_free_private", scope) + _count(
                    report, "debt_free_business", scope
                )
                row.append(_grouped(str(n)))
            elif metric == "amount_collected":
                row.append(_money_text(report.figures_of(metric, scope)))
            else:
                row.append(format_figure(report.figures_of(metric, scope)[0]))
        rows.append(row)
    return rows


_env = Environment(
    loader=PackageLoader("respite.adapters.documents", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _code(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` words (event kinds, fields) as code."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))  # noqa: S704


_env.filters["code"] = _code


def render_html(report: Report, *, agency_name: str = "Respite") -> str:
    scope = report.primary
    return _env.get_template("social_report.html").render(
        r=report,
        agency_name=agency_name,
        subject=("the whole agency" if scope == AGENCY else scope),
        tiles=_tiles(report, scope),
        charts=_charts(report, scope),
        sections=_sections(report, scope),
        creditor_columns=[c for c, _ in CREDITOR_COLUMNS],
        creditor_rows=_creditor_table(report),
        metrics=METRICS,
        section_order=SECTIONS,
    )


def write_html(report: Report, path: Path | str) -> Path:
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target


def write_pdf(report: Report, path: Path | str) -> Path:
    """The report as an A4 PDF; nothing outside the HTML is ever fetched."""
    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    class _NoFetch(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"external resources are not fetched: {url}")

    target = Path(path)
    HTML(string=render_html(report), url_fetcher=_NoFetch()).write_pdf(str(target))
    return target


def write(report: Report, fmt: str, path: Path | str) -> Path:
    """Write ``report`` in one of :data:`FORMATS`."""
    writers = {"html": write_html, "pdf": write_pdf, "csv": write_csv, "json": write_json}
    return writers[fmt](report, path)
