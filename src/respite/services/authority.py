"""Who may do what in the console: roles, their permissions and authority limits.

Pure rules, no I/O: the console asks ``require(actor, permission)`` before every action
and ``plan_within_authority`` / ``write_off_within_authority`` before money decisions.
Every route of the console checks on the server; hiding a button is only a courtesy.

Roles (the ``users.role`` column):

- **agent** works the call queue, reads the debtor-360, logs calls, places holds,
  records vulnerability, proposes plans up to their own ``plan_limit`` (and may write off
  up to their own ``writeoff_limit``, zero unless an admin gives one).
- **supervisor** is an agent who also approves or rejects plan proposals up to their own
  limit, lifts holds, reads and exports the audit log, sees the creditor dashboards and
  the social report.
- **admin** manages users and may do everything a supervisor does, but never reads the
  text of a vulnerability note.
- **compliance** reads vulnerability notes (with a stated reason, audited), reads and
  exports the audit log, sees the debtor-360 (to find the notes), the dashboards and the
  social report. Compliance does not work cases.
- **creditor** sees the dashboard and the social report of their own creditor only: no
  debtor's personal data beyond what the creditor gave us.

Only compliance reads the text of a vulnerability note. Supervisors see that a note exists
(its kind, date and author) and the ``vulnerability_review`` hold it may have placed, which
is what they need to adapt the handling; the details are special-category data (GDPR
art. 9) and stay with the smallest group that needs them (data minimisation, art. 5(1)(c)).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from respite.domain.money import Currency, Money
from respite.errors import InputError, NotAllowed

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "Actor",
    "Permission",
    "allows",
    "may_read_vulnerability",
    "may_view_creditor",
    "plan_within_authority",
    "require",
    "require_creditor",
    "require_plan_decision",
    "require_plan_proposal",
    "require_write_off",
    "write_off_within_authority",
]

ROLES: Final = ("agent", "supervisor", "admin", "compliance", "creditor")


class Permission(StrEnum):
    SEARCH = "search"
    VIEW_DEBTOR = "view_debtor"  # the debtor-360: personal data, every read audited
    WORK_QUEUE = "work_queue"  # the call queue and logging call outcomes
    PLACE_HOLD = "place_hold"
    LIFT_HOLD = "lift_hold"
    PROPOSE_PLAN = "propose_plan"
    DECIDE_PLAN = "decide_plan"  # approve or reject a proposal outside policy
    WRITE_OFF = "write_off"  # up to the user's own write-off limit (default 0: none)
    RECORD_VULNERABILITY = "record_vulnerability"
    READ_VULNERABILITY = "read_vulnerability"  # the sealed text itself
    VIEW_AUDIT = "view_audit"
    EXPORT_AUDIT = "export_audit"
    MANAGE_USERS = "manage_users"
    VIEW_DASHBOARDS = "view_dashboards"  # every creditor's dashboard
    VIEW_OWN_DASHBOARD = "view_own_dashboard"  # the creditor user's own
    VIEW_SOCIAL_REPORT = "view_social_report"


P = Permission
_AGENT = frozenset(
    {
        P.SEARCH,
        P.VIEW_DEBTOR,
        P.WORK_QUEUE,
        P.PLACE_HOLD,
        P.PROPOSE_PLAN,
        P.RECORD_VULNERABILITY,
        P.WRITE_OFF,
    }
)
_SUPERVISOR = _AGENT | {
    P.LIFT_HOLD,
    P.DECIDE_PLAN,
    P.VIEW_AUDIT,
    P.EXPORT_AUDIT,
    P.VIEW_DASHBOARDS,
    P.VIEW_SOCIAL_REPORT,
}
PERMISSIONS: Final[Mapping[str, frozenset[Permission]]] = MappingProxyType(
    {
        "agent": _AGENT,
        "supervisor": _SUPERVISOR,
        "admin": _SUPERVISOR | {P.MANAGE_USERS},
        "compliance": frozenset(
            {
                P.SEARCH,
                P.VIEW_DEBTOR,
                P.READ_VULNERABILITY,
                P.VIEW_AUDIT,
                P.EXPORT_AUDIT,
                P.VIEW_DASHBOARDS,
                P.VIEW_SOCIAL_REPORT,
            }
        ),
        "creditor": frozenset({P.VIEW_OWN_DASHBOARD, P.VIEW_SOCIAL_REPORT}),
    }
)


@dataclass(frozen=True, slots=True)
class Actor:
    """The logged-in user as the rules see them."""

    username: str
    role: str
    plan_limit_cents: int = 0
    writeoff_limit_cents: int = 0
    creditor_id: int | None = None

    @property
    def name(self) -> str:
        """How the user is named in the timeline and the audit log."""
        return f"user:{self.username}"


def allows(role: str, permission: Permission) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def require(actor: Actor, permission: Permission) -> None:
    if not allows(actor.role, permission):
        raise NotAllowed(f"your role ({actor.role}) may not {permission.value.replace('_', ' ')}")


def _eur(cents: int, currency: str) -> str:
    return f"{currency} {Money.from_minor_units(cents, Currency.of(currency)).amount:,}"


def _check_amount(cents: int) -> None:
    if cents < 0:
        raise InputError("an amount cannot be negative", field="amount")


def plan_within_authority(actor: Actor, total_cents: int) -> bool:
    """A plan of ``total_cents`` is within the user's own plan limit (inclusive)."""
    _check_amount(total_cents)
    return total_cents <= actor.plan_limit_cents


def write_off_within_authority(actor: Actor, cents: int) -> bool:
    """A write-off of ``cents`` is within the user's own write-off limit (inclusive)."""
    _check_amount(cents)
    return cents <= actor.writeoff_limit_cents


def require_plan_proposal(actor: Actor, total_cents: int, currency: str = "EUR") -> None:
    require(actor, P.PROPOSE_PLAN)
    if not plan_within_authority(actor, total_cents):
        raise NotAllowed(
            f"this plan covers {_eur(total_cents, currency)}, above your authority of "
            f"{_eur(actor.plan_limit_cents, currency)}: ask a supervisor"
        )


def require_plan_decision(actor: Actor, total_cents: int, currency: str = "EUR") -> None:
    require(actor, P.DECIDE_PLAN)
    if not plan_within_authority(actor, total_cents):
        raise NotAllowed(
            f"this plan covers {_eur(total_cents, currency)}, above your authority of "
            f"{_eur(actor.plan_limit_cents, currency)}: a user with a higher limit decides"
        )


def require_write_off(actor: Actor, cents: int, currency: str = "EUR") -> None:
    """A write-off needs a case-working role and an amount within the user's limit."""
    require(actor, P.WRITE_OFF)
    if not write_off_within_authority(actor, cents):
        raise NotAllowed(
            f"a write-off of {_eur(cents, currency)} is above your authority of "
            f"{_eur(actor.writeoff_limit_cents, currency)}"
        )


def may_read_vulnerability(actor: Actor) -> bool:
    return allows(actor.role, P.READ_VULNERABILITY)


def may_view_creditor(actor: Actor, creditor_id: int) -> bool:
    """Every dashboard for the agency's overseers; a creditor user only their own."""
    if allows(actor.role, P.VIEW_DASHBOARDS):
        return True
    return allows(actor.role, P.VIEW_OWN_DASHBOARD) and actor.creditor_id == creditor_id


def require_creditor(actor: Actor, creditor_id: int) -> None:
    if not may_view_creditor(actor, creditor_id):
        raise NotAllowed("you may only see your own creditor's figures")
