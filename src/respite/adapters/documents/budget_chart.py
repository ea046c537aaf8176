"""The budget chart of the debtor portal: one SVG, drawn on the server.

Horizontal bars (they fit a phone's width) for income, fixed costs, daily living costs,
the protected minimum and what is left for repayment, all on one scale so that the bars'
lengths compare the amounts. No JavaScript, no fonts, no inline CSS (the portal's CSP
forbids ``style`` attributes): colours are SVG presentation attributes.

Accessible by construction: ``role="img"`` with ``aria-labelledby`` pointing at a
``<title>`` and a ``<desc>`` that says every figure in words, and every bar carries its
label and amount as text, so no meaning depends on colour. The page shows the same
figures in a table beside it.

Deterministic: the same bars give the same bytes (no random ids, no clock), and the
widths are exact decimals — ``BAR_WIDTH × amount / largest amount``, rounded half-up to
0.01 — computed from integer cents, never floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape, quoteattr

__all__ = ["BAR_WIDTH", "Bar", "bar_width", "budget_chart_svg"]

# A phone's width in user units: on a phone the text is drawn at about its nominal size.
BAR_WIDTH = 360  # the longest bar, in SVG user units (the viewBox is as wide)
ROW = 60  # per bar: a line of text, the bar, a gap
FONT_SIZE = 16
LABEL_Y = 18
BAR_Y = 26
BAR_HEIGHT = 22
INK = "#1b1f24"
# Contrast against white ≥ 3:1 (WCAG 1.4.11 for graphics); meaning never by colour alone.
COLOURS = {
    "income": "#0b5c8e",
    "fixed": "#8a4b00",
    "living": "#6a3d9a",
    "protected": "#1d6b3a",
    "capacity": "#a4161a",
}
DEFAULT_COLOUR = "#4a5560"
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: ``key`` picks the colour, ``label`` and ``amount`` are shown as text."""

    key: str
    label: str  # in the reader's language, e.g. "Inkomen"
    cents: int  # never negative
    amount: str  # formatted for the reader, e.g. "€ 1.850,00"

    def __post_init__(self) -> None:
        if self.cents < 0:
            raise ValueError(f"a bar cannot be negative: {self.key} = {self.cents}")


def bar_width(cents: int, largest: int) -> Decimal:
    """The length of a bar of ``cents`` when the largest bar is ``BAR_WIDTH`` long."""
    if largest <= 0:
        return Decimal("0.00")
    return (Decimal(cents) * BAR_WIDTH / Decimal(largest)).quantize(_CENT, ROUND_HALF_UP)


def budget_chart_svg(
    bars: Sequence[Bar], *, title: str, description: str, id_prefix: str = "budget-chart"
) -> str:
    """The chart as an SVG element to put in an HTML page (text already escaped)."""
    largest = max((b.cents for b in bars), default=0)
    height = ROW * len(bars)
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="budget-chart" role="img" '
        f'viewBox="0 0 {BAR_WIDTH} {height}" width="{BAR_WIDTH}" height="{height}" '
        f'aria-labelledby="{title_id} {desc_id}" id={quoteattr(id_prefix)}>',
        f"<title id={quoteattr(title_id)}>{escape(title)}</title>",
        f"<desc id={quoteattr(desc_id)}>{escape(description)}</desc>",
    ]
    for index, bar in enumerate(bars):
        top = ROW * index
        colour = COLOURS.get(bar.key, DEFAULT_COLOUR)
        parts.append(
            f"<g class={quoteattr('bar bar-' + bar.key)}>"
            f'<text x="0" y="{top + LABEL_Y}" font-size="{FONT_SIZE}" fill="{INK}">'
            f"{escape(bar.label)}: {escape(bar.amount)}</text>"
            f'<rect x="0" y="{top + BAR_Y}" width="{bar_width(bar.cents, largest)}" '
            f'height="{BAR_HEIGHT}" fill="{colour}"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
