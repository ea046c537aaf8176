"""Money: Decimal amounts quantized to a currency's minor unit, never a float.

Every amount is a :class:`Money` of one :class:`Currency`. Arithmetic between different
currencies is refused. Multiplying by a rate is the only operation that can produce
fractions of a cent, so :meth:`Money.times` always rounds explicitly (half-up unless a
rule says otherwise).

:func:`parse_amount` reads amounts as people type them: ``1.234,56`` (continental),
``1,234.56`` (English), ``1 234,56`` (Polish/French grouping) and plain ``1234.56``.
Anything ambiguous, such as ``1.234`` (one thousand two hundred thirty-four, or one point
two three four?), is refused with a message rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum

from respite.errors import ValidationError

__all__ = [
    "Currency",
    "Money",
    "allocate_pro_rata",
    "money_sum",
    "parse_amount",
    "parse_money",
    "quantize",
]


class Currency(Enum):
    """Supported currencies and their number of decimals (ISO 4217 minor unit)."""

    EUR = ("EUR", 2, "€")
    PLN = ("PLN", 2, "zł")
    GBP = ("GBP", 2, "£")
    USD = ("USD", 2, "$")

    def __init__(self, code: str, minor_unit: int, symbol: str) -> None:
        self.code = code
        self.minor_unit = minor_unit
        self.symbol = symbol

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_unit)

    @classmethod
    def of(cls, code: str) -> Currency:
        try:
            return cls[code.strip().upper()]
        except KeyError:
            known = ", ".join(c.code for c in cls)
            raise ValidationError(f"unknown currency {code!r} (known: {known})") from None

    def __str__(self) -> str:
        return self.code


def quantize(value: Decimal, currency: Currency, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round ``value`` to the currency's minor unit with an explicit rounding mode."""
    return value.quantize(currency.quantum, rounding=rounding)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount of one currency, always at the currency's minor unit."""

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            # A float here is the bug this type exists to prevent.
            raise TypeError(f"Money needs a Decimal amount, got {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise ValidationError(f"amount must be finite, got {self.amount}")
        if self.amount != self.amount.quantize(self.currency.quantum, rounding=ROUND_DOWN):
            raise ValidationError(
                f"{self.amount} has more decimals than {self.currency.code} allows "
                f"({self.currency.minor_unit}); round explicitly first"
            )
        # Normalise the exponent so that equal amounts print and hash alike.
        object.__setattr__(self, "amount", self.amount.quantize(self.currency.quantum))

    # construction -------------------------------------------------------------------
    @classmethod
    def of(cls, amount: str | int | Decimal, currency: Currency | str = Currency.EUR) -> Money:
        cur = currency if isinstance(currency, Currency) else Currency.of(currency)
        if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
            raise TypeError(f"Money.of needs str, int or Decimal, got {type(amount).__name__}")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ValidationError(f"not an amount: {amount!r}") from None
        return cls(value, cur)

    @classmethod
    def zero(cls, currency: Currency = Currency.EUR) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: Currency = Currency.EUR) -> Money:
        return cls(Decimal(units).scaleb(-currency.minor_unit), currency)

    @classmethod
    def rounded(cls, value: Decimal, currency: Currency, rounding: str = ROUND_HALF_UP) -> Money:
        """Money from an exact intermediate result, rounded explicitly."""
        return cls(quantize(value, currency, rounding), currency)

    # arithmetic ---------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency is not self.currency:
            raise ValidationError(f"cannot combine {self.currency.code} with {other.currency.code}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def times(self, factor: Decimal, rounding: str = ROUND_HALF_UP) -> Money:
        """Multiply by an exact factor (a rate, a share) and round explicitly."""
        if not isinstance(factor, Decimal):
            raise TypeError(f"factor must be a Decimal, got {type(factor).__name__}")
        return Money.rounded(self.amount * factor, self.currency, rounding)

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        return self if self >= other else other

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def minor_units(self) -> int:
        """The amount in cents (or grosze): what the database stores."""
        return int(self.amount.scaleb(self.currency.minor_unit))

    def __str__(self) -> str:
        """The amount with exactly the currency's decimals, as JSON carries it."""
        return f"{self.amount:.{self.currency.minor_unit}f}"

    def __repr__(self) -> str:
        return f"Money('{self}', {self.currency.code})"


def money_sum(amounts: Iterable[Money], currency: Currency) -> Money:
    """Sum of amounts of one currency (zero for an empty iterable)."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def allocate_pro_rata(total: Money, weights: Sequence[Decimal]) -> list[Money]:
    """Split ``total`` in proportion to ``weights`` so that the parts add up exactly.

    Largest-remainder method: every part is rounded down to the minor unit, and the
    cents left over go one by one to the parts with the largest remainders (earliest
    first on a tie), so no cent is created or lost.
    """
    if not weights:
        raise ValidationError("cannot split an amount over no parts")
    if any(w < 0 for w in weights):
        raise ValidationError("weights must not be negative")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        raise ValidationError("weights must not all be zero")
    sign = -1 if total.is_negative else 1
    units = abs(total.minor_units)
    exact = [Decimal(units) * w / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Money.from_minor_units(sign * f, total.currency) for f in floors]


# parsing --------------------------------------------------------------------------

_GROUP_SPACES = "\u0020\u00a0\u202f\u2009'"
_SYMBOLS = {
    "€": Currency.EUR,
    "EUR": Currency.EUR,
    "ZŁ": Currency.PLN,
    "ZL": Currency.PLN,
    "PLN": Currency.PLN,
    "£": Currency.GBP,
    "GBP": Currency.GBP,
    "$": Currency.USD,
    "USD": Currency.USD,
}
_SYMBOL_RE = re.compile(r"^(€|EUR|ZŁ|ZL|PLN|£|GBP|\$|USD)|(€|EUR|ZŁ|ZL|PLN|£|GBP|\$|USD)$")


def _check_grouping(integer: str, separator: str, text: str) -> str:
    if not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(separator)}\d{{3}})+", integer):
        raise ValidationError(
            f"malformed amount {text!r}: digit groups separated by {separator!r} "
            "must have exactly three digits"
        )
    return integer.replace(separator, "")


def parse_amount(
    text: str,
    currency: Currency = Currency.EUR,
    *,
    decimal_separator: str | None = None,
) -> Decimal:
    """Parse a user-typed amount in either ``1.234,56`` or ``1,234.56`` style.

    ``decimal_separator`` (``","`` or ``"."``), when the caller knows the user's locale,
    settles the one ambiguous shape: a single separator followed by exactly three digits.

    >>> parse_amount("1.234,56")
    Decimal('1234.56')
    >>> parse_amount("1,234.56")
    Decimal('1234.56')
    >>> parse_amount("€ 12,5")
    Decimal('12.50')
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_amount needs a string, got {type(text).__name__}")
    original = text
    s = text.strip().upper()
    if not s:
        raise ValidationError("empty amount")
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:].strip()
    match = _SYMBOL_RE.search(s)
    if match:
        symbol = match.group(1) or match.group(2)
        if _SYMBOLS[symbol] is not currency:
            raise ValidationError(
                f"amount {original!r} is in {_SYMBOLS[symbol].code}, expected {currency.code}"
            )
        s = (s[: match.start()] + s[match.end() :]).strip()
    if s.startswith("-") and sign == 1:
        sign, s = -1, s[1:].strip()
    for space in _GROUP_SPACES:
        if space in s:
            integer_part = re.split(r"[.,]", s)[0]
            _check_grouping(integer_part, space, original)
            s = s.replace(space, "")
    if not re.fullmatch(r"[\d.,]+", s) or not s[0].isdigit():
        raise ValidationError(f"not an amount: {original!r}")

    dots, commas = s.count("."), s.count(",")
    integer, fraction = s, ""
    if dots and commas:
        decimal_sep = "." if s.rfind(".") > s.rfind(",") else ","
        group_sep = "," if decimal_sep == "." else "."
        if s.count(decimal_sep) > 1:
            raise ValidationError(f"malformed amount {original!r}: two decimal separators")
        integer, fraction = s.split(decimal_sep)
        integer = _check_grouping(integer, group_sep, original)
    elif dots or commas:
        sep = "." if dots else ","
        parts = s.split(sep)
        if len(parts) > 2:
            integer = _check_grouping(s, sep, original)
        else:
            head, tail = parts
            if decimal_separator is not None and decimal_separator not in ",.":
                raise ValueError("decimal_separator must be ',' or '.'")
            if decimal_separator == sep or len(tail) != 3:
                integer, fraction = head, tail
            elif decimal_separator is not None:  # the other separator: thousands
                integer = _check_grouping(s, sep, original)
            elif head == "0" or len(head) > 3:
                # "0.123" or "1234.567" cannot be digit grouping: three decimals.
                integer, fraction = head, tail
            else:
                raise ValidationError(
                    f"ambiguous amount {original!r}: {head}{tail} or {head}.{tail}? "
                    f"write {head}{tail} or add the cents, e.g. {s}{',00' if sep == '.' else '.00'}"
                )
    if not integer or (not fraction.isdigit() and fraction):
        raise ValidationError(f"not an amount: {original!r}")
    if len(fraction) > currency.minor_unit:
        raise ValidationError(
            f"amount {original!r} has {len(fraction)} decimals; "
            f"{currency.code} has {currency.minor_unit}"
        )
    value = Decimal(f"{integer}.{fraction or '0'}")
    return sign * quantize(value, currency)


def parse_money(text: str, currency: Currency = Currency.EUR) -> Money:
    """:func:`parse_amount` wrapped in :class:`Money`."""
    return Money(parse_amount(text, currency), currency)
