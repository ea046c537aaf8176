"""Strategies as data: ``<name>/v<N>.toml`` files in this folder, loaded and validated here.

A strategy is versioned: a case records the version it started under and keeps it, so a
changed strategy (a new ``v<N+1>.toml``) applies to new cases only and never rewrites the
course of a running one.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from functools import cache
from pathlib import Path

from respite.domain.lifecycle import Stage
from respite.domain.strategy import Step, Strategy
from respite.errors import ValidationError

__all__ = ["latest_version", "load_strategy"]

HERE = Path(__file__).resolve().parent


def _versions(name: str) -> list[int]:
    folder = HERE / name
    found = [
        int(m.group(1))
        for p in folder.glob("v*.toml")
        if (m := re.fullmatch(r"v(\d+)\.toml", p.name))
    ]
    if not found:
        known = ", ".join(
            sorted(p.name for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("_"))
        )
        raise ValidationError(f"unknown strategy {name!r} (known: {known})")
    return sorted(found)


@cache
def latest_version(name: str) -> int:
    return _versions(name)[-1]


@cache
def load_strategy(name: str, version: int | None = None) -> Strategy:
    """The strategy ``name`` at ``version`` (default: the newest)."""
    wanted = latest_version(name) if version is None else version
    path = HERE / name / f"v{wanted}.toml"
    if not path.is_file():
        raise ValidationError(
            f"strategy {name!r} has no version {wanted} (known: {_versions(name)})"
        )
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    if int(doc.get("version", -1)) != wanted or doc.get("name") != name:
        raise ValidationError(
            f"{path}: name and version inside the file must be {name!r} and {wanted}"
        )
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
                tone=str(s.get("tone", "neutral")),
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
