"""The report's SVG bar charts keep every label inside the chart, measured with the font
the PDF is set in (DejaVu Sans, Debian's sans-serif)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import ImageFont

from respite.adapters.documents.social_report import _bar_chart

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TEXT = re.compile(r'<text x="([\d.]+)"([^>]*)>([^<]*)</text>')
WIDTH = re.compile(r'<svg [^>]*width="(\d+)"')


@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu Sans (fonts-dejavu-core) absent")
@pytest.mark.parametrize(
    "bars",
    [
        # a kept-arrangements chart: every plan kept, the share and its counts at the end
        [("So far", Decimal(100), "100.0%  (7 of 7)"), ("3 months", Decimal(0), "no plans yet")],
        [("So far", Decimal(100), "100.0%  (12,345 of 12,345)")],
        # messages per channel: the longest bar carries the largest count
        [("E-mail", Decimal(2_727_783), "2,727,783"), ("SMS", Decimal(1), "1")],
    ],
)
def test_the_text_at_the_end_of_the_longest_bar_stays_inside_the_chart(
    bars: list[tuple[str, Decimal, str]],
) -> None:
    font = ImageFont.truetype(str(DEJAVU), 11)
    svg = str(_bar_chart(bars, maximum=Decimal(100) if bars[0][1] == 100 else None))
    match = WIDTH.search(svg)
    assert match is not None
    width = int(match.group(1))
    # The texts after the bars (the labels before them are anchored at their end).
    ends = [(float(x), text) for x, attrs, text in TEXT.findall(svg) if "anchor" not in attrs]
    assert len(ends) == len(bars)
    for x, text in ends:
        assert x + font.getlength(text) <= width, (text, x, width)
