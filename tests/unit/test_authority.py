"""The console's authority rules: the role table and the money limits (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respite.errors import InputError, NotAllowed
from respite.services.authority import (
    PERMISSIONS,
    ROLES,
    Actor,
    Permission,
    allows,
    may_read_vulnerability,
    may_view_creditor,
    plan_within_authority,
    require,
    require_creditor,
    require_plan_decision,
    require_plan_proposal,
    require_write_off,
    write_off_within_authority,
)

P = Permission
cents = st.integers(min_value=0, max_value=10**12)


def test_every_role_of_the_users_table_has_a_row_and_nothing_else_does() -> None:
    assert (
        set(PERMISSIONS)
        == set(ROLES)
        == {
            "agent",
            "supervisor",
            "admin",
            "compliance",
            "creditor",
        }
    )


def test_only_compliance_reads_the_text_of_a_vulnerability_note() -> None:
    readers = {role for role in ROLES if may_read_vulnerability(Actor("u", role))}
    assert readers == {"compliance"}


def test_a_supervisor_can_do_everything_an_agent_can_and_an_admin_everything_a_supervisor_can() -> (
    None
):
    assert PERMISSIONS["agent"] < PERMISSIONS["supervisor"] < PERMISSIONS["admin"]
    assert PERMISSIONS["admin"] - PERMISSIONS["supervisor"] == {P.MANAGE_USERS}


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("agent", P.WORK_QUEUE, True),
        ("agent", P.PLACE_HOLD, True),
        ("agent", P.LIFT_HOLD, False),
        ("agent", P.DECIDE_PLAN, False),
        ("agent", P.VIEW_AUDIT, False),
        ("agent", P.VIEW_DASHBOARDS, False),
        ("supervisor", P.LIFT_HOLD, True),
        ("supervisor", P.EXPORT_AUDIT, True),
        ("supervisor", P.MANAGE_USERS, False),
        ("compliance", P.WORK_QUEUE, False),
        ("compliance", P.PROPOSE_PLAN, False),
        ("compliance", P.EXPORT_AUDIT, True),
        ("creditor", P.VIEW_DEBTOR, False),
        ("creditor", P.SEARCH, False),
        ("creditor", P.VIEW_DASHBOARDS, False),
        ("creditor", P.VIEW_OWN_DASHBOARD, True),
        ("creditor", P.VIEW_SOCIAL_REPORT, True),
        ("nobody", P.SEARCH, False),
    ],
)
def test_the_role_table(role: str, permission: Permission, allowed: bool) -> None:
    assert allows(role, permission) is allowed
    if allowed:
        require(Actor("u", role), permission)
    else:
        with pytest.raises(NotAllowed, match=permission.value.replace("_", " ")):
            require(Actor("u", role), permission)


def test_no_role_outside_the_agency_sees_a_debtors_personal_data() -> None:
    personal = {P.SEARCH, P.VIEW_DEBTOR, P.WORK_QUEUE, P.READ_VULNERABILITY, P.VIEW_AUDIT}
    assert not PERMISSIONS["creditor"] & personal


@given(limit=cents, total=cents)
def test_a_plan_is_within_authority_exactly_up_to_and_including_the_limit(
    limit: int, total: int
) -> None:
    """Invariant: within ⇔ total ≤ limit, and the refusal names both amounts."""
    actor = Actor("alice", "agent", plan_limit_cents=limit)
    assert plan_within_authority(actor, total) is (total <= limit)
    if total <= limit:
        require_plan_proposal(actor, total)
    else:
        with pytest.raises(NotAllowed, match="above your authority") as refused:
            require_plan_proposal(actor, total)
        assert f"{total // 100:,}.{total % 100:02d}" in str(refused.value)


@given(limit=cents, amount=cents)
def test_a_write_off_is_within_authority_exactly_up_to_the_limit(limit: int, amount: int) -> None:
    """Invariant: within ⇔ amount ≤ limit; a zero limit allows only nothing."""
    actor = Actor("alice", "agent", writeoff_limit_cents=limit)
    assert write_off_within_authority(actor, amount) is (amount <= limit)
    if amount > limit:
        with pytest.raises(NotAllowed):
            require_write_off(actor, amount)


def test_the_limit_is_in_exact_cents() -> None:
    agent = Actor("alice", "agent", plan_limit_cents=250_000)
    require_plan_proposal(agent, 250_000)
    with pytest.raises(NotAllowed, match=r"EUR 2,500\.01, above your authority of EUR 2,500\.00"):
        require_plan_proposal(agent, 250_001)


def test_an_agent_with_a_high_limit_still_cannot_decide_a_plan() -> None:
    agent = Actor("alice", "agent", plan_limit_cents=10**9)
    with pytest.raises(NotAllowed, match="decide plan"):
        require_plan_decision(agent, 100)
    require_plan_decision(Actor("sam", "supervisor", plan_limit_cents=100), 100)


def test_a_compliance_officer_cannot_write_off_whatever_their_limit() -> None:
    with pytest.raises(NotAllowed):
        require_write_off(Actor("cora", "compliance", writeoff_limit_cents=10**9), 1)


def test_a_negative_amount_is_refused_not_approved() -> None:
    with pytest.raises(InputError):
        plan_within_authority(Actor("a", "agent", plan_limit_cents=0), -1)


def test_a_creditor_user_sees_only_their_own_dashboard() -> None:
    own = Actor("stroom", "creditor", creditor_id=7)
    assert may_view_creditor(own, 7)
    assert not may_view_creditor(own, 8)
    with pytest.raises(NotAllowed):
        require_creditor(own, 8)
    assert may_view_creditor(Actor("sam", "supervisor"), 8)
    assert not may_view_creditor(Actor("alice", "agent"), 7)
