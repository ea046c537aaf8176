"""Strategies as data: ``<name>.toml`` files in this folder, loaded and validated here."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import cache
from pathlib import Path

from respite.domain.lifecycle import Stage
from respite.domain.strategy import Step, Strategy
from respite.errors import ValidationError

__all__ = ["load_strategy"]

HERE = Path(__file__).resolve().parent


@cache
def load_strategy(name: str) -> Strategy:
    path = HERE / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in HERE.glob("*.toml")))
        raise ValidationError(f"unknown strategy {name!r} (known: {known})")
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    try:
        steps = tuple(
            Step(
                id=str(s["id"]),
                stage=Stage(s["stage"]),
                after_days=int(s["after_days"]),
                action=str(s["action"]),
                channel=str(s["channel"]),
                template=str(s["template"]),
                brand=str(s.get("brand", "agency")),
                advance_to=Stage(s["advance_to"]) if "advance_to" in s else None,
                min_outstanding=Decimal(str(s["min_outstanding"]))
                if "min_outstanding" in s
                else None,
            )
            for s in doc["steps"]
        )
        return Strategy(str(doc["name"]), int(doc["version"]), steps)
    except (KeyError, ValueError) as exc:
        raise ValidationError(f"{path}: malformed strategy: {exc}") from None
