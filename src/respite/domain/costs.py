"""Collection-cost scales: the arithmetic shared by every jurisdiction's cost rule.

A scale is a list of tiers. For a basis ``x`` the highest tier whose ``above`` is below
``x`` applies: ``fixed + rate% × (x − above)``, then the scale's minimum and maximum.

- NL *buitengerechtelijke incassokosten* (Besluit BIK art. 2) is a marginal staffel
  (15 % of the first €2,500, 10 % of the next €2,500, ...); :func:`marginal_tiers`
  turns those brackets into tiers with the cumulative fixed part.
- BE Book XIX caps are stepped tiers (€20 up to €150, then €30 + 10 % above €150, ...).
- PL recovery compensation is a fixed EUR sum per invoice chosen by thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from respite.domain.money import Money
from respite.errors import ValidationError

__all__ = [
    "Bracket",
    "FixedSum",
    "Scale",
    "Tier",
    "fixed_sum_for",
    "marginal_tiers",
    "scale_amount",
    "vat_uplift",
]

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Tier:
    """Applies to a basis strictly above ``above``: ``fixed + rate_percent% × (x − above)``."""

    above: Decimal
    fixed: Decimal
    rate_percent: Decimal


@dataclass(frozen=True, slots=True)
class Bracket:
    """A marginal bracket: ``rate_percent`` of the part of the basis up to ``up_to``."""

    up_to: Decimal | None
    rate_percent: Decimal


@dataclass(frozen=True, slots=True)
class Scale:
    tiers: tuple[Tier, ...]
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def __post_init__(self) -> None:
        aboves = [t.above for t in self.tiers]
        if not aboves or aboves[0] != 0 or aboves != sorted(aboves):
            raise ValidationError("a scale's tiers must start above 0 and increase")


def marginal_tiers(brackets: Sequence[Bracket]) -> tuple[Tier, ...]:
    """Turn marginal brackets into tiers carrying the cumulative amount of lower brackets."""
    tiers: list[Tier] = []
    lower = Decimal(0)
    fixed = Decimal(0)
    for i, bracket in enumerate(brackets):
        tiers.append(Tier(lower, fixed, bracket.rate_percent))
        if bracket.up_to is None:
            if i != len(brackets) - 1:
                raise ValidationError("only the last bracket may be open-ended")
            break
        if bracket.up_to <= lower:
            raise ValidationError("bracket limits must increase")
        fixed += (bracket.up_to - lower) * bracket.rate_percent / HUNDRED
        lower = bracket.up_to
    return tuple(tiers)


def scale_amount(basis: Money, scale: Scale) -> Money:
    """The amount a scale gives for ``basis``, rounded half-up to the cent at the end."""
    if basis.is_negative:
        raise ValidationError(f"basis must not be negative, got {basis}")
    x = basis.amount
    tier = scale.tiers[0]
    for candidate in scale.tiers:
        if x > candidate.above:
            tier = candidate
    exact = tier.fixed + tier.rate_percent * (x - tier.above) / HUNDRED
    if scale.minimum is not None:
        exact = max(exact, scale.minimum)
    if scale.maximum is not None:
        exact = min(exact, scale.maximum)
    return Money.rounded(exact, basis.currency, ROUND_HALF_UP)


def vat_uplift(amount: Money, vat_percent: Decimal) -> Money:
    """Collection costs increased by the VAT percentage (NL Besluit BIK art. 2 lid 3).

    The uplift is applied to the costs after the minimum and maximum, and rounded half-up
    to the cent: EUR 375 at 21 % gives EUR 453.75.
    """
    return amount.times(1 + vat_percent / HUNDRED)


@dataclass(frozen=True, slots=True)
class FixedSum:
    """A fixed sum due when the basis is within ``(above, up_to]`` (bounds in basis units)."""

    above: Decimal | None
    up_to: Decimal | None
    amount: Decimal
    up_to_inclusive: bool = True


def fixed_sum_for(basis: Decimal, sums: Sequence[FixedSum]) -> FixedSum:
    """The fixed sum whose band holds ``basis`` (PL art. 10: ≤5,000 / <50,000 / ≥50,000)."""
    for band in sums:
        low_ok = band.above is None or basis > band.above
        if band.up_to is None:
            high_ok = True
        elif band.up_to_inclusive:
            high_ok = basis <= band.up_to
        else:
            high_ok = basis < band.up_to
        if low_ok and high_ok:
            return band
    raise ValidationError(f"no band of the fixed-sum table holds {basis}")
