"""Collection strategies: declarative, versioned steps that move a case through its stages.

A strategy is data (``src/respite/strategies/<name>.toml``). Each step says: when a case has
been ``after_days`` in ``stage`` and meets the conditions, write one action (a message on a
channel, a call task, a review) and optionally move the case to ``advance_to``. The
lifecycle's allowed transitions are checked when the strategy is loaded, so a strategy
cannot move a case where the lifecycle forbids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from respite.domain.lifecycle import TRANSITIONS, Stage
from respite.errors import ValidationError

__all__ = ["ACTIONS", "Step", "Strategy", "due_steps"]

ACTIONS = ("message", "call_task", "review")


TONES = ("neutral", "supportive")


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    stage: Stage
    after_days: int
    action: str
    channel: str
    template: str
    brand: str = "agency"
    advance_to: Stage | None = None
    min_outstanding: Decimal | None = None
    # The wording of the message: "supportive" puts help first (the messaging engine also
    # chooses it for a person who was ever flagged vulnerable).
    tone: str = "neutral"

    def __post_init__(self) -> None:
        if self.tone not in TONES:
            raise ValidationError(f"step {self.id}: tone must be one of {', '.join(TONES)}")
        if self.after_days < 0:
            raise ValidationError(f"step {self.id}: after_days must not be negative")
        if self.action not in ACTIONS:
            raise ValidationError(f"step {self.id}: action must be one of {', '.join(ACTIONS)}")
        if self.advance_to is not None and self.advance_to not in TRANSITIONS[self.stage]:
            raise ValidationError(
                f"step {self.id}: the lifecycle does not allow {self.stage} -> {self.advance_to}"
            )
        if self.advance_to is Stage.CLOSED or self.advance_to is Stage.LEGAL_HANDOVER:
            raise ValidationError(
                f"step {self.id}: only a person may move a case to {self.advance_to}"
            )


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    version: int
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValidationError(f"strategy {self.name}: step ids must be unique")


def due_steps(
    steps: Sequence[Step],
    *,
    stage: Stage,
    stage_since: date,
    previous_run: date | None,
    on: date,
    outstanding: Decimal,
) -> list[Step]:
    """The steps that fire on ``on``: each exactly once per stay in a stage.

    A step fires on the first cycle at which the case has been ``after_days`` in its stage:
    if the previous cycle (``previous_run``) already saw that many days, the step fired
    then. Skipped nights still fire the step once. At most one step moves the case.
    """
    days_now = (on - stage_since).days
    # Negative when the stage began after the previous run (a new stage, or a stage start
    # moved on by nights on hold): then no step of this stay has fired yet.
    days_before = -1 if previous_run is None else (previous_run - stage_since).days
    fired: list[Step] = []
    for step in steps:
        if step.stage is not stage or not (days_before < step.after_days <= days_now):
            continue
        if step.min_outstanding is not None and outstanding < step.min_outstanding:
            continue
        if step.advance_to is not None and any(f.advance_to is not None for f in fired):
            continue
        fired.append(step)
    return fired
