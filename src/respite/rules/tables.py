"""Date-effective rule tables: every value has a ``valid_from`` date and a cited source.

A :class:`RuleTable` answers "the value on date D". A date before the first row, or after
the table's ``covered_until`` date, raises :class:`~respite.errors.RuleCoverageError`
naming the table and its file: a rate that nobody has checked is never assumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Generic, TypeVar

from respite.errors import RuleCoverageError

T = TypeVar("T")

__all__ = ["RuleTable", "Segment", "Versioned"]


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """One value of a rule, in force from ``valid_from`` until the next row."""

    valid_from: date
    value: T
    source: str


@dataclass(frozen=True, slots=True)
class Segment(Generic[T]):
    """A stretch of days ``[start, end)`` during which one row applies."""

    start: date
    end: date
    row: Versioned[T]

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True, slots=True)
class RuleTable(Generic[T]):
    """Rows sorted by ``valid_from``; coverage ends on ``covered_until`` (inclusive)."""

    name: str
    origin: str
    rows: tuple[Versioned[T], ...]
    covered_until: date | None = None

    def __post_init__(self) -> None:
        if not self.rows:
            raise RuleCoverageError(f"rule table {self.name} in {self.origin} has no rows")
        dates = [r.valid_from for r in self.rows]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise RuleCoverageError(
                f"rule table {self.name} in {self.origin}: valid_from dates must be "
                "strictly increasing"
            )

    @property
    def covered_from(self) -> date:
        return self.rows[0].valid_from

    def _check(self, on: date) -> None:
        if on < self.covered_from:
            raise RuleCoverageError(
                f"{self.name} is known from {self.covered_from.isoformat()} only; "
                f"no value for {on.isoformat()} (table: {self.origin})"
            )
        if self.covered_until is not None and on > self.covered_until:
            raise RuleCoverageError(
                f"{self.name} is known up to {self.covered_until.isoformat()} only; "
                f"no value for {on.isoformat()} — add the new value to {self.origin}"
            )

    def at(self, on: date) -> Versioned[T]:
        """The row in force on ``on``."""
        self._check(on)
        current = self.rows[0]
        for row in self.rows:
            if row.valid_from > on:
                break
            current = row
        return current

    def value_at(self, on: date) -> T:
        return self.at(on).value

    def segments(self, start: date, end: date) -> list[Segment[T]]:
        """Split the half-open range ``[start, end)`` at every change of value."""
        if end < start:
            raise RuleCoverageError(f"{self.name}: period ends before it starts")
        if end == start:
            return []
        self._check(start)
        self._check(end - timedelta(days=1))
        out: list[Segment[T]] = []
        cursor = start
        for row, next_from in self._spans():
            if next_from is not None and next_from <= cursor:
                continue
            stop = end if next_from is None else min(end, next_from)
            out.append(Segment(cursor, stop, row))
            cursor = stop
            if cursor >= end:
                break
        return out

    def _spans(self) -> Iterator[tuple[Versioned[T], date | None]]:
        for i, row in enumerate(self.rows):
            nxt = self.rows[i + 1].valid_from if i + 1 < len(self.rows) else None
            yield row, nxt
