"""The portal's budget chart: an accessible SVG whose bars are exactly proportional."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]

from respite.adapters.documents.budget_chart import BAR_WIDTH, Bar, bar_width, budget_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
BARS = [
    Bar("income", "Inkomen", 185_000, "€ 1.850,00"),
    Bar("fixed", "Vaste lasten", 97_000, "€ 970,00"),
    Bar("living", "Dagelijkse kosten", 30_000, "€ 300,00"),
    Bar("protected", "Beschermd door de wet", 175_750, "€ 1.757,50"),
    Bar("capacity", "U kunt betalen", 9_250, "€ 92,50"),
]


def chart(bars: list[Bar] = BARS, **kw: str) -> str:
    return budget_chart_svg(
        bars, title=kw.get("title", "Uw budget per maand"), description=kw.get("desc", "…")
    )


# The chart is our own output, but parse it the safe way all the same.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def parse(svg: str) -> Any:
    return etree.fromstring(svg.encode("utf-8"), PARSER)


def widths(svg: str) -> list[Decimal]:
    return [Decimal(r.get("width", "")) for r in parse(svg).iter(f"{SVG}rect")]


def test_the_same_budget_draws_the_same_bytes() -> None:
    assert chart() == chart()
    assert chart() != chart(BARS[:-1])


def test_the_chart_is_an_image_named_by_its_title_and_described_in_words() -> None:
    root = parse(chart(desc="Inkomen € 1.850,00; u kunt betalen € 92,50."))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Uw budget per maand"
    assert desc.text == "Inkomen € 1.850,00; u kunt betalen € 92,50."
    # Every bar says what it is and how much, so nothing depends on colour.
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == [f"{b.label}: {b.amount}" for b in BARS]


def test_the_bars_are_proportional_to_the_amounts() -> None:
    # 360 units for the largest (income, EUR 1,850); the others in exact proportion:
    # 970 / 1850 * 360 = 188.756.. -> 188.76; 92.50 / 1850 * 360 = 18.00.
    assert BAR_WIDTH == 360
    assert widths(chart()) == [
        Decimal("360.00"),
        Decimal("188.76"),
        Decimal("58.38"),
        Decimal("342.00"),
        Decimal("18.00"),
    ]


def test_text_is_escaped_and_cannot_break_out_of_the_svg() -> None:
    svg = chart([Bar("income", "<script>alert(1)</script>", 100, "€ 1 & co")], title="a<b")
    assert "<script>" not in svg
    root = parse(svg)  # still well-formed
    assert next(root.iter(f"{SVG}text")).text == "<script>alert(1)</script>: € 1 & co"


def test_an_empty_budget_draws_empty_bars_instead_of_failing() -> None:
    assert widths(chart([Bar("income", "Inkomen", 0, "€ 0,00")])) == [Decimal("0.00")]
    assert bar_width(5, 0) == Decimal("0.00")


def test_a_negative_bar_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Bar("capacity", "x", -1, "-€ 0,01")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=6))
def test_bar_lengths_keep_the_order_and_ratio_of_the_amounts(cents: list[int]) -> None:
    """The largest amount is exactly BAR_WIDTH long; every bar is within half a
    hundredth of a unit of its exact proportion, and a larger amount is never shorter."""
    svg = chart([Bar("income", f"b{i}", c, str(c)) for i, c in enumerate(cents)])
    drawn = widths(svg)
    largest = max(cents)
    for c, w in zip(cents, drawn, strict=True):
        if largest == 0:
            assert w == 0
            continue
        exact = Decimal(c) * BAR_WIDTH / Decimal(largest)
        assert abs(w - exact) <= Decimal("0.005")
    if largest:
        assert max(drawn) == BAR_WIDTH
    by_amount = [w for _, w in sorted(zip(cents, drawn, strict=True))]
    assert by_amount == sorted(by_amount)
