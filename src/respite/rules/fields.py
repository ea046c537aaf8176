"""Typed readers for values in rule files, with errors that name the file and the field.

Rule files hold amounts and rates as *strings* (``"6775.00"``, ``"12.5"``): a TOML float
would be a binary float, which has no place on a money path, so one is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from respite.errors import ValidationError

__all__ = ["as_date", "as_decimal", "as_int", "as_str", "where"]


def where(origin: str, path: str) -> str:
    return f"{origin} [{path}]"


def _get(row: Mapping[str, Any], key: str, origin: str, path: str) -> Any:
    if key not in row:
        raise ValidationError(f"missing field {key!r}", field=where(origin, path))
    return row[key]


def as_decimal(row: Mapping[str, Any], key: str, origin: str, path: str) -> Decimal:
    value = _get(row, key, origin, path)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValidationError(
            f'{key!r} must be a quoted decimal such as "12.50", got {value!r}',
            field=where(origin, path),
        )
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValidationError(
            f"{key!r} is not a decimal: {value!r}", field=where(origin, path)
        ) from None
    if not result.is_finite():
        raise ValidationError(f"{key!r} must be finite", field=where(origin, path))
    return result


def as_date(row: Mapping[str, Any], key: str, origin: str, path: str) -> date:
    value = _get(row, key, origin, path)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(
        f"{key!r} must be a date (YYYY-MM-DD), got {value!r}", field=where(origin, path)
    )


def as_str(row: Mapping[str, Any], key: str, origin: str, path: str) -> str:
    value = _get(row, key, origin, path)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key!r} must be a non-empty text", field=where(origin, path))
    return value.strip()


def as_int(row: Mapping[str, Any], key: str, origin: str, path: str) -> int:
    value = _get(row, key, origin, path)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{key!r} must be a whole number", field=where(origin, path))
    return value


def as_bool(row: Mapping[str, Any], key: str, origin: str, path: str) -> bool:
    value = _get(row, key, origin, path)
    if not isinstance(value, bool):
        raise ValidationError(f"{key!r} must be true or false", field=where(origin, path))
    return value
