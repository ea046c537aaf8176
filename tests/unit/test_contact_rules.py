"""Contact rule files: each one loads, every rule is sourced, policy tightens but never loosens."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from respite.adapters.calendars import is_holiday_for
from respite.domain.guardrails import ContactRequest, ContactState, Outcome, PastContact, decide
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.contact import (
    CONTACT_JURISDICTIONS,
    contact_rules_path,
    load_contact_rules,
    strictest,
)
from respite.rules.loader import rules_dir

ON = date(2026, 1, 1)


@pytest.mark.parametrize("code", CONTACT_JURISDICTIONS)
def test_every_shipped_file_loads_and_every_rule_has_a_source(code: str) -> None:
    rules = load_contact_rules(code, ON)
    assert rules.jurisdiction == code
    assert set(rules.windows) == set(range(7))
    assert rules.caps
    for cap in rules.caps:
        assert cap.source.strip()
        assert rules.sources[cap.rule] == cap.source
    for rule in (
        "quiet_hours",
        "public_holiday",
        *(f"consent:{c}" for c in rules.consent_required),
    ):
        assert rules.sources[rule].strip(), rule
    assert contact_rules_path(code).name == "contact.toml"


@pytest.mark.parametrize("code", ["NL", "BE", "PL", "UK"])
def test_where_the_law_sets_no_figure_the_file_says_it_is_agency_policy(code: str) -> None:
    rules = load_contact_rules(code, ON)
    for cap in rules.caps:
        assert "agency policy default; no statutory figure" in cap.source
    assert "agency policy default" in rules.sources["quiet_hours"]


def test_nl_defaults() -> None:
    rules = load_contact_rules("NL", ON)
    assert rules.windows[0] == (time(8), time(20))
    assert rules.windows[5] == (time(9), time(17))
    assert rules.windows[6] is None
    assert rules.holidays_closed
    assert rules.consent_required == {"sms"}
    assert rules.call_pause_after_conversation_days is None
    caps = {c.rule: (c.channels, c.limit, c.window_days, c.per_debt) for c in rules.caps}
    assert caps == {
        "frequency:any:1/1d": (frozenset({"email", "sms", "post"}), 1, 1, False),
        "frequency:email:3/7d": (frozenset({"email"}), 3, 7, False),
        "frequency:sms:2/7d": (frozenset({"sms"}), 2, 7, False),
        "frequency:phone:3/7d": (frozenset({"phone"}), 3, 7, False),
    }


def test_the_us_file_holds_regulation_f() -> None:
    # 12 CFR 1006.6(b)(1)(i) and 1006.14(b)(2), effective 30 November 2021.
    rules = load_contact_rules("US", ON)
    assert all(rules.windows[d] == (time(8), time(21)) for d in range(7))
    assert not rules.holidays_closed
    assert rules.call_pause_after_conversation_days == 7
    reg_f = next(c for c in rules.caps if c.rule == "us_reg_f_7in7")
    assert (reg_f.channels, reg_f.limit, reg_f.window_days, reg_f.per_debt) == (
        frozenset({"phone"}),
        7,
        7,
        True,
    )
    assert "1006.14(b)(2)" in reg_f.source
    assert "1006.14(b)(2)(i)(B)" in rules.sources["us_reg_f_after_conversation"]


def test_the_be_phone_ban_is_marked_as_recalled_not_verified() -> None:
    assert "[U] recalled" in load_contact_rules("BE", ON).sources["quiet_hours"]


def test_pl_weekends_are_closed_and_the_industry_code_is_quoted() -> None:
    rules = load_contact_rules("PL", ON)
    assert rules.windows[5] is None
    assert rules.windows[6] is None
    assert "6:00–22:00" in rules.sources["quiet_hours"]


def test_a_date_outside_coverage_is_an_error_naming_the_file() -> None:
    with pytest.raises(RuleCoverageError, match=r"us[/\\]contact\.toml"):
        load_contact_rules("US", date(2021, 11, 29))  # the day before Reg F took effect
    assert load_contact_rules("US", date(2021, 11, 30)).jurisdiction == "US"
    with pytest.raises(RuleCoverageError, match=r"nl[/\\]contact\.toml"):
        load_contact_rules("NL", date(2019, 12, 31))


def test_an_unknown_jurisdiction_is_an_error() -> None:
    with pytest.raises(RuleCoverageError, match="no contact rules for 'DE'"):
        load_contact_rules("DE", ON)


# policy -----------------------------------------------------------------------------


def contact(**values: Any) -> dict[str, Any]:
    return {"contact": values, "max_months": 12}  # other policy keys are not ours


def test_a_policy_lowers_a_cap_next_to_the_files_cap() -> None:
    rules = load_contact_rules("NL", ON, contact(caps={"sms": {"limit": 1}}))
    by_rule = {c.rule: c for c in rules.caps}
    assert by_rule["frequency:sms:2/7d"].limit == 2  # the file's cap stays
    assert by_rule["frequency:sms:1/7d"].limit == 1
    assert "creditor policy" in rules.sources["frequency:sms:1/7d"]


def test_a_policy_cap_is_the_rule_a_decision_names() -> None:
    tz = ZoneInfo("Europe/Amsterdam")
    rules = load_contact_rules("NL", ON, contact(caps={"letters": _letters()}))
    state = ContactState(
        tz, history=(PastContact(datetime(2026, 3, 2, 10, tzinfo=tz), "post", frozenset({1})),)
    )
    request = ContactRequest(
        "post", frozenset({1}), datetime(2026, 3, 20, 10, tzinfo=tz), "strategy"
    )
    decision = decide(request, state, rules, is_holiday_for("NL"))
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "frequency:letters:1/30d")


def _letters() -> dict[str, Any]:
    return {"channels": ["post"], "limit": 1, "window_days": 30}


def test_a_policy_narrows_windows_closes_days_and_adds_consent() -> None:
    rules = load_contact_rules(
        "US",
        ON,
        contact(
            windows={"monday": ["09:00", "17:00"], "sunday": "closed"},
            holidays_closed=True,
            closed_dates=["2026-12-24"],
            consent_required=["email"],
            call_pause_after_conversation_days=10,
        ),
    )
    assert rules.windows[0] == (time(9), time(17))
    assert rules.windows[6] is None
    assert rules.windows[1] == (time(8), time(21))
    assert rules.holidays_closed
    assert rules.closed_dates == {date(2026, 12, 24)}
    assert rules.consent_required == {"sms", "email"}
    assert rules.call_pause_after_conversation_days == 10


@pytest.mark.parametrize(
    ("code", "values", "field"),
    [
        ("NL", {"caps": {"sms": {"limit": 3}}}, "policy.contact.caps.sms.limit"),
        ("NL", {"caps": {"email": {"window_days": 6}}}, "policy.contact.caps.email.window_days"),
        ("NL", {"caps": {"any": {"channels": ["email"]}}}, "policy.contact.caps.any.channels"),
        ("NL", {"caps": {"phone": {"per_debt": True}}}, "policy.contact.caps.phone.per_debt"),
        ("NL", {"caps": {"new": {"limit": 1}}}, "policy.contact.caps.new"),
        ("NL", {"windows": {"monday": ["07:00", "20:00"]}}, "policy.contact.windows.monday"),
        ("NL", {"windows": {"friday": ["08:00", "21:00"]}}, "policy.contact.windows.friday"),
        ("NL", {"windows": {"sunday": ["10:00", "12:00"]}}, "policy.contact.windows.sunday"),
        ("NL", {"windows": {"funday": "closed"}}, "policy.contact.windows.funday"),
        ("NL", {"holidays_closed": False}, "policy.contact.holidays_closed"),
        ("NL", {"consent_required": ["fax"]}, "policy.contact.consent_required"),
        ("NL", {"quiet": True}, "policy.contact.quiet"),
        (
            "US",
            {"call_pause_after_conversation_days": 3},
            "policy.contact.call_pause_after_conversation_days",
        ),
        ("US", {"caps": {"reg_f_7in7": {"limit": 8}}}, "policy.contact.caps.reg_f_7in7.limit"),
    ],
)
def test_a_policy_that_would_loosen_a_rule_is_refused_naming_the_key(
    code: str, values: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        load_contact_rules(code, ON, contact(**values))
    assert info.value.field == field


def test_a_policy_without_contact_rules_changes_nothing() -> None:
    assert load_contact_rules("NL", ON, {"max_months": 12}) == load_contact_rules("NL", ON)


def test_the_contact_section_itself_is_read_like_a_whole_policy() -> None:
    whole = load_contact_rules("NL", ON, contact(caps={"sms": {"limit": 1}}))
    section = load_contact_rules("NL", ON, {"caps": {"sms": {"limit": 1}}})
    assert section == whole
    assert section != load_contact_rules("NL", ON)


def test_the_strictest_of_several_creditors_rules_keeps_every_limit() -> None:
    one = load_contact_rules("NL", ON, contact(windows={"monday": ["09:00", "20:00"]}))
    two = load_contact_rules(
        "NL", ON, contact(windows={"monday": ["08:00", "17:00"]}, caps={"sms": {"limit": 1}})
    )
    both = strictest([one, two])
    assert both.windows[0] == (time(9), time(17))
    assert "frequency:sms:1/7d" in {c.rule for c in both.caps}
    assert len(both.caps) == len({c.rule for c in both.caps})
    with pytest.raises(ValidationError, match="different jurisdictions"):
        strictest([one, load_contact_rules("BE", ON)])


# the file format --------------------------------------------------------------------


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped contact files that a test may edit, as a compliance officer."""
    for code in CONTACT_JURISDICTIONS:
        target = tmp_path / code.lower()
        target.mkdir()
        shutil.copy(rules_dir() / code.lower() / "contact.toml", target / "contact.toml")
    monkeypatch.setenv("RESPITE_RULES_DIR", str(tmp_path))
    return tmp_path


def test_a_compliance_officer_changes_a_cap_from_a_date(rules_copy: Path) -> None:
    path = rules_copy / "nl" / "contact.toml"
    text = path.read_text()
    old = '{ valid_from = 2020-01-01, channels = ["sms"], limit = 2, window_days = 7,'
    assert old in text
    text = text.replace(
        old,
        '{ valid_from = 2026-07-01, channels = ["sms"], limit = 1, window_days = 7, '
        'source = "agency policy default; no statutory figure (revised)" },\n  ' + old,
    )
    # keep the rows in date order
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if "2026-07-01" in line)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    path.write_text("\n".join(lines) + "\n")
    assert "frequency:sms:2/7d" in {
        c.rule for c in load_contact_rules("NL", date(2026, 6, 30)).caps
    }
    assert "frequency:sms:1/7d" in {c.rule for c in load_contact_rules("NL", date(2026, 7, 1)).caps}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "limit = 3, window_days = 7",
            "limit = 3.0, window_days = 7",
            "'limit' must be a whole number",
        ),
        ('saturday = ["09:00", "17:00"]', 'saturday = ["17:00", "09:00"]', "start before the end"),
        ("closed = true", "closed = true, extra = 1", "unknown key 'extra'"),
        ('channels = ["sms"], source', 'channels = ["fax"], source', "'channels' must list"),
    ],
)
def test_a_malformed_file_is_an_error_naming_the_file(
    rules_copy: Path, old: str, new: str, message: str
) -> None:
    path = rules_copy / "nl" / "contact.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ValidationError, match=message) as info:
        load_contact_rules("NL", ON)
    assert "contact.toml" in str(info.value)


# holiday calendars ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "day", "holiday"),
    [
        ("NL", date(2026, 4, 27), True),  # Koningsdag
        ("NL", date(2026, 5, 5), True),  # Bevrijdingsdag (Algemene termijnenwet art. 3)
        ("BE", date(2026, 7, 21), True),  # national day
        ("PL", date(2026, 11, 11), True),  # independence day
        ("UK", date(2026, 4, 6), True),  # Easter Monday, England and Wales
        ("UK", date(2026, 8, 31), True),  # summer bank holiday, England and Wales
        ("US", date(2026, 11, 26), True),  # Thanksgiving
        ("US", date(2026, 4, 6), False),  # Easter Monday is no US federal holiday
        ("NL", date(2026, 3, 10), False),
    ],
)
def test_holiday_calendars_per_jurisdiction(code: str, day: date, holiday: bool) -> None:
    assert is_holiday_for(code)(day) is holiday


def test_an_unknown_holiday_calendar_is_an_error() -> None:
    with pytest.raises(ValidationError, match="no holiday calendar for 'DE'"):
        is_holiday_for("DE")
