"""The protected minimum income: published figures and worked examples (NL, BE, PL)."""

from __future__ import annotations

from datetime import date

import pytest

from respite.domain.affordability import (
    Household,
    IncomeKind,
    ProtectedIncome,
    protected_income,
)
from respite.domain.money import Money
from respite.errors import RuleCoverageError
from respite.rules.affordability import load_protected_income


def protect(
    code: str,
    net: str,
    on: date,
    household: Household = Household.SINGLE,
    *,
    children: int = 0,
    kind: IncomeKind = IncomeKind.WORK,
) -> ProtectedIncome:
    rule = load_protected_income(code)
    return protected_income(
        rule, household, Money.of(net, rule.currency), on, children=children, income_kind=kind
    )


# NL ------------------------------------------------------------------------------

S, SP, C, CC = (
    Household.SINGLE,
    Household.SINGLE_PARENT,
    Household.COUPLE,
    Household.COUPLE_WITH_CHILDREN,
)


@pytest.mark.parametrize(
    ("on", "household", "maximum"),
    [
        # schuldinfo.nl/beslag-inkomen/hoogte-beslagvrije-voet/: "Maximum beslagvrije voet
        # januari 2024": alleenstaande 1.996,21; met kind(eren) 2.162,60; gehuwden zonder
        # kinderen 2.631,49; met kind(eren) 2.747,09.
        (date(2024, 1, 1), S, "1996.21"),
        (date(2024, 3, 15), SP, "2162.60"),
        (date(2024, 6, 30), C, "2631.49"),
        (date(2024, 2, 1), CC, "2747.09"),
        # aag.nl/kennis/beslagvrije-voet-per-1-januari-2025/: 2.071,24; 2.242,24; 2.739,03;
        # 2.855,96.
        (date(2025, 1, 1), S, "2071.24"),
        (date(2025, 3, 1), SP, "2242.24"),
        (date(2025, 6, 30), C, "2739.03"),
        (date(2025, 2, 14), CC, "2855.96"),
        # fundamentvoor.nl/node/55343 (per 1 juli 2025): 2.093,67; 2.264,67; 2.771,07;
        # 2.888,00.
        (date(2025, 7, 1), S, "2093.67"),
        (date(2025, 9, 1), SP, "2264.67"),
        (date(2025, 12, 31), C, "2771.07"),
        (date(2025, 8, 15), CC, "2888.00"),
    ],
)
def test_nl_high_income_keeps_exactly_the_published_maximum(
    on: date, household: Household, maximum: str
) -> None:
    result = protect("NL", "6000.00", on, household)
    assert result.regime == "high_income"
    assert str(result.protected) == maximum
    assert result.available == Money.of("6000.00") - Money.of(maximum)


def test_nl_low_income_keeps_95_percent_of_net_income() -> None:
    # Rule [S] schuldinfo.nl / aag.nl: "Voor werknemers met een laag inkomen – gelijk aan of
    # lager dan de voor hen geldende bijstandsnorm – is de beslagvrije voet 95% van het netto
    # inkomen ... Deze werknemers hebben daardoor altijd 5% afloscapaciteit."
    # Derived: a single person on 2025-03-01 (norm 1.345,45, metronieuws.nl/Rijksoverheid)
    # with 1.200,00 net: 95 % = 1.140,00; 60,00 left.
    result = protect("NL", "1200.00", date(2025, 3, 1))
    assert result.regime == "low_income"
    assert (str(result.protected), str(result.available)) == ("1140.00", "60.00")


def test_nl_bijstand_at_the_norm_leaves_five_percent_of_the_benefit() -> None:
    # 072bewind.nl: "Bij een bijstandsuitkering is de beslag vrije voet standaard 5% van de
    # uitkering" (i.e. 5 % may be taken). Derived for the published norms incl. vakantietoeslag
    # (metronieuws.nl, bron Rijksoverheid): single 1.345,45 and couple 1.922,07 from
    # 1-1-2025; 1.369,06 and 1.955,80 from 1-7-2025.
    cases = [
        (date(2025, 1, 1), S, "1345.45", "1278.18", "67.27"),
        (date(2025, 1, 1), C, "1922.07", "1825.97", "96.10"),
        (date(2025, 7, 1), SP, "1369.06", "1300.61", "68.45"),
        (date(2025, 7, 1), CC, "1955.80", "1858.01", "97.79"),
    ]
    for on, household, norm, protected, available in cases:
        result = protect("NL", norm, on, household)
        assert result.regime == "low_income"
        assert (str(result.protected), str(result.available)) == (protected, available)


def test_nl_explanation_names_the_figures_and_their_sources() -> None:
    text = protect("NL", "6000.00", date(2025, 3, 1)).explanation
    for figure in ("2071.24", "aag.nl", "1345.45", "metronieuws.nl"):
        assert figure in text


@pytest.mark.parametrize(
    ("on", "message"),
    [
        (date(2023, 12, 31), "known from 2024-01-01"),
        # The 1 July 2024 maxima were not found: refused, not taken from January.
        (date(2024, 7, 15), "not known"),
        (date(2026, 1, 1), "known up to 2025-12-31"),
    ],
)
def test_nl_dates_outside_the_verified_tables_are_refused(on: date, message: str) -> None:
    with pytest.raises(RuleCoverageError, match=message):
        protect("NL", "2500.00", on)


# BE ------------------------------------------------------------------------------


def test_be_2025_worker_with_2000_net_can_have_328_60_seized() -> None:
    # syndicatsmagazine.be/saisie-sur-salaire-combien-2025: "Un travailleur touche 2000€ net
    # par mois ... 20,80 euros + 46,20 euros + 61,60 euros + ... 200 euros. Au total donc,
    # une saisie maximale de 328,60€."
    result = protect("BE", "2000.00", date(2025, 3, 1))
    assert (str(result.available), str(result.protected)) == ("328.60", "1671.40")


def test_be_2024_three_dependent_children_lower_the_seizable_part() -> None:
    # securex.be (lex4you, "Hoe wordt de vermindering voor kinderen ten laste berekend?",
    # 2024): 2.000 euro netto, drie kinderen ten laste: 386,10 - 249 (3 x 83) = 137,10;
    # "de werknemer 1.862,90 euro overhoudt".
    without = protect("BE", "2000.00", date(2024, 5, 1))
    assert str(without.available) == "386.10"
    result = protect("BE", "2000.00", date(2024, 5, 1), children=3)
    assert (str(result.available), str(result.protected)) == ("137.10", "1862.90")


def test_be_2024_replacement_income_of_1800_can_have_201_seized() -> None:
    # aclvb.be/nl/node/10401: werkloosheidsuitkering 1 800 euro netto, januari 2024:
    # 19,80 + 119,20 + 62 = "In totaal kan je schuldeiser dus 201 euro ... in beslag nemen".
    result = protect("BE", "1800.00", date(2024, 1, 31), kind=IncomeKind.REPLACEMENT)
    assert str(result.available) == "201.00"


@pytest.mark.parametrize(
    ("net", "seizable"),
    [
        # latribune.avocats.be (seuils 2025): ≤ 1 388 aucune saisie; 20 % (max 20,8 €);
        # 30 % (max 46,2 €); 40 % (max 61,6 €); above 1 800 everything. Derived cumulative
        # amounts at the top of each slice.
        ("1388.00", "0.00"),
        ("1492.00", "20.80"),
        ("1646.00", "67.00"),
        ("1800.00", "128.60"),
    ],
)
def test_be_2025_slices_have_the_published_maximum_per_slice(net: str, seizable: str) -> None:
    assert str(protect("BE", net, date(2025, 6, 1)).available) == seizable


@pytest.mark.parametrize(
    ("net", "seizable"),
    [
        # securex.be/fr/lex4you/employeur/actualites/les-seuils-pour-la-saisie-sur-salaire-a-
        # partir-du-1er-janvier-2026: "0 à 1 419 euros: Aucune saisie possible";
        # "1 419,01 à 1 524 euros: 20 %"; "1 524,01 à 1 682 euros: 30 %"; "1 682,01 à
        # 1 839 euros: 40 %"; "À partir de 1 839,01 euros: Montant total". Derived cumulative
        # amounts at the top of each slice: 21,00; 21,00 + 47,40; + 62,80.
        ("1419.00", "0.00"),
        ("1524.00", "21.00"),
        ("1682.00", "68.40"),
        ("1839.00", "131.20"),
        ("1900.00", "192.20"),
    ],
)
def test_be_2026_slices_follow_the_published_thresholds(net: str, seizable: str) -> None:
    assert str(protect("BE", net, date(2026, 1, 1)).available) == seizable
    assert str(protect("BE", net, date(2026, 12, 31)).available) == seizable


def test_be_2026_each_dependent_child_lowers_the_seizable_part_by_88() -> None:
    # securex.be (seuils 2026): "le montant insaisissable par enfant à charge est augmenté de
    # 88 euros". Derived: 2 000 net -> 131,20 + 161,00 = 292,20; two children -> 116,20.
    assert str(protect("BE", "2000.00", date(2026, 6, 1)).available) == "292.20"
    result = protect("BE", "2000.00", date(2026, 6, 1), children=2)
    assert (str(result.available), str(result.protected)) == ("116.20", "1883.80")


def test_be_2026_replacement_income_uses_the_same_amounts_without_the_30_percent_slice() -> None:
    # Art. 1409 § 1bis: 20 % up to the 2nd amount, 40 % up to the 4th (the 2026 amounts 1 419,
    # 1 524, 1 839 from securex.be). Derived: 1 839 -> 21,00 + 126,00 = 147,00.
    result = protect("BE", "1839.00", date(2026, 3, 1), kind=IncomeKind.REPLACEMENT)
    assert str(result.available) == "147.00"


def test_be_2027_is_not_yet_covered() -> None:
    with pytest.raises(RuleCoverageError, match="known up to 2026-12-31"):
        protect("BE", "2000.00", date(2027, 1, 1))


# PL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "minimum_net"),
    [
        # forsal.pl (2025): "minimalnego wynagrodzenia brutto wynosi 4666 zł, czyli 3510,92
        # netto. Pracownik zarabiający tę kwotę nie powinien mieć potrącanych żadnych środków".
        (date(2025, 3, 1), "3510.92"),
        # biznes.wprost.pl (2025-11-24): in 2026 "płaca minimalna wyniesie 4806 zł brutto, co
        # przekłada się na 3605,85 zł 'na rękę'. Ta kwota będzie jednocześnie poziomem ochrony".
        # infor.pl "Kwoty wolne od potrąceń w 2026 r.": "Inne niż alimenty (100% minimalnego
        # wynagrodzenia netto) | 3605,85 zł" (KUP podstawowe, PIT-2, bez PPK).
        (date(2026, 2, 1), "3605.85"),
        (date(2026, 12, 31), "3605.85"),
    ],
)
def test_pl_minimum_wage_earner_is_fully_protected(on: date, minimum_net: str) -> None:
    result = protect("PL", minimum_net, on)
    assert (str(result.protected), str(result.available)) == (minimum_net, "0.00")
    assert result.regime == "fully_protected"


def test_pl_above_the_free_amount_at_most_half_the_wage_is_taken() -> None:
    # Rule [S] art. 87 § 3 pkt 2 and 87(1) KP (warszawawpigulce.pl, 2026). Derived 2025:
    # 5 000 net -> 5 000 - 3 510,92 = 1 489,08 (below half); 9 000 net -> half = 4 500.
    assert str(protect("PL", "5000.00", date(2025, 5, 1)).available) == "1489.08"
    high = protect("PL", "9000.00", date(2025, 5, 1))
    assert (str(high.available), high.regime) == ("4500.00", "half_of_wage")


def test_pl_2026_only_the_part_above_the_free_amount_is_taken() -> None:
    # Rule [S] art. 87(1) § 1 pkt 1 KP with the 2026 free amount 3 605,85 zł (infor.pl,
    # rachunkowosc.com.pl). Derived: 3 700,00 net -> 94,15 may be taken.
    result = protect("PL", "3700.00", date(2026, 7, 1))
    assert (str(result.available), str(result.protected)) == ("94.15", "3605.85")


def test_pl_2027_is_not_yet_covered() -> None:
    with pytest.raises(RuleCoverageError, match="known up to 2026-12-31"):
        protect("PL", "5000.00", date(2027, 1, 1))
