"""Load the contact guardrails of a jurisdiction from ``rules/<cc>/contact.toml``.

One file per jurisdiction (``NL``, ``BE``, ``PL``, ``UK``, ``US``; the contact rules cover
more countries than the cost and interest packs). Each section is a dated table of rows
with ``valid_from`` and ``source``:

- ``[windows]``: per weekday (``monday`` … ``sunday``) ``["HH:MM", "HH:MM"]`` (local time,
  start allowed, end refused) or ``"closed"``;
- ``[holidays]``: ``closed = true|false``;
- ``[consent]``: ``channels`` that need the person's recorded consent;
- ``[call_pause]`` (optional): ``days`` without calls after a telephone conversation;
- ``[caps.<key>]``: ``channels``, ``limit``, ``window_days``, ``per_debt`` (optional); the
  rule id is ``rule`` when the section names one (``us_reg_f_7in7``), else
  ``frequency:<key>:<limit>/<window_days>d``.

A creditor's policy (its ``contact`` key) may only *tighten* the file: narrow a window,
close a weekday or a date, close holidays, lower a cap's limit, widen its window, add
channels to it, add a cap, require consent for more channels, lengthen the call pause. A
policy that would loosen anything is a :class:`~respite.errors.ValidationError` naming the
key. A tightened cap is *added* next to the file's cap (whose rule id and source stay), so
a decision names the policy's rule when the policy is what stopped a message.
``RESPITE_RULES_DIR`` points at another folder with the same layout, as for the rule packs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from respite.domain.guardrails import CHANNELS, PAUSE_RULE, Cap, ContactRules
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.fields import as_bool, as_int, where
from respite.rules.loader import WEEKDAYS, _read_toml, _section, _table, rules_dir
from respite.rules.tables import RuleTable

__all__ = [
    "CONTACT_JURISDICTIONS",
    "contact_rules_path",
    "load_contact_rules",
    "strictest",
]

CONTACT_JURISDICTIONS = ("NL", "BE", "PL", "UK", "US")
POLICY_KEYS = (
    "windows",
    "holidays_closed",
    "closed_dates",
    "caps",
    "consent_required",
    "call_pause_after_conversation_days",
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Window = tuple[time, time] | None
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _CapSpec:
    channels: frozenset[str]
    limit: int
    window_days: int
    per_debt: bool


@dataclass(frozen=True, slots=True)
class _File:
    origin: str
    windows: RuleTable[dict[int, Window]]
    holidays: RuleTable[bool]
    consent: RuleTable[frozenset[str]]
    pause: RuleTable[int] | None
    caps: tuple[tuple[str, str | None, RuleTable[_CapSpec]], ...]  # key, explicit rule, rows


def contact_rules_path(jurisdiction: str) -> Path:
    return rules_dir() / _code(jurisdiction).lower() / "contact.toml"


def load_contact_rules(
    jurisdiction: str, on: date, policy: Mapping[str, Any] | None = None
) -> ContactRules:
    """The contact rules of ``jurisdiction`` in force on ``on``, tightened by ``policy``.

    ``policy`` is a creditor's (or the agency's) policy; only its ``contact`` key is read
    (or, when it has no such key but contact-rule keys, it is taken as that section).
    Raises :class:`~respite.errors.RuleCoverageError` naming the file when ``on`` is outside
    a table's coverage, and :class:`~respite.errors.ValidationError` naming the key when the
    policy would loosen a rule.
    """
    code = _code(jurisdiction)
    parsed = _load(code, str(rules_dir()))
    base, keyed = _rules_on(code, parsed, on)
    if not policy:
        return base
    # A whole creditor policy carries its contact rules under "contact"; the contact
    # section itself (recognised by its keys) is accepted too, so it is never ignored.
    contact = policy.get("contact")
    if contact is None and set(policy) & set(POLICY_KEYS):
        contact = policy
    if contact is None:
        return base
    if not isinstance(contact, Mapping):
        raise ValidationError("must be a table of contact rules", field="policy.contact")
    return _tighten(base, keyed, contact)


def strictest(rules: Sequence[ContactRules]) -> ContactRules:
    """One rule set in which every given rule set holds (a person with several creditors).

    Windows are intersected, closed days and consent united, every cap kept, the longest
    call pause taken. All rule sets must be of one jurisdiction.
    """
    if not rules:
        raise ValidationError("needs at least one rule set", field="rules")
    codes = {r.jurisdiction for r in rules}
    if len(codes) != 1:
        raise ValidationError(
            f"rule sets of different jurisdictions: {', '.join(sorted(codes))}", field="rules"
        )
    windows: dict[int, Window] = {}
    for weekday in range(7):
        found = [r.windows.get(weekday) for r in rules]
        if any(w is None for w in found):
            windows[weekday] = None
            continue
        start = max(w[0] for w in found if w is not None)
        end = min(w[1] for w in found if w is not None)
        windows[weekday] = (start, end) if start < end else None
    caps: list[Cap] = []
    for r in rules:
        caps += [c for c in r.caps if c not in caps]
    pauses = [r.call_pause_after_conversation_days for r in rules]
    known = [p for p in pauses if p is not None]
    sources: dict[str, str] = {}
    for r in rules:
        for rule, text in r.sources.items():
            if text not in sources.get(rule, "").split("; "):
                sources[rule] = f"{sources[rule]}; {text}" if rule in sources else text
    return ContactRules(
        jurisdiction=rules[0].jurisdiction,
        windows=windows,
        holidays_closed=any(r.holidays_closed for r in rules),
        caps=tuple(caps),
        consent_required=frozenset().union(*(r.consent_required for r in rules)),
        call_pause_after_conversation_days=max(known) if known else None,
        sources=sources,
        closed_dates=frozenset().union(*(r.closed_dates for r in rules)),
    )


# the file -------------------------------------------------------------------------


def _code(jurisdiction: str) -> str:
    code = jurisdiction.strip().upper()
    if code not in CONTACT_JURISDICTIONS:
        raise RuleCoverageError(
            f"no contact rules for {jurisdiction!r} (known: {', '.join(CONTACT_JURISDICTIONS)})"
        )
    return code


@cache
def _load(code: str, folder: str) -> _File:
    # Keyed on the folder too, so that a changed RESPITE_RULES_DIR is honoured.
    path = Path(folder) / code.lower() / "contact.toml"
    origin = str(path)
    doc = _read_toml(path)
    if doc.get("jurisdiction") != code:
        raise ValidationError(f"'jurisdiction' must be {code!r}", field=origin)
    known = {"jurisdiction", "title", "windows", "holidays", "consent", "call_pause", "caps"}
    for key in doc:
        if key not in known:
            raise ValidationError(f"unknown section {key!r}", field=origin)
    title = str(doc.get("title", f"{code} contact guardrails"))
    windows = _rows_of(doc, "windows", f"{title}: contact hours", origin, _windows_row)
    holidays = _rows_of(doc, "holidays", f"{title}: public holidays", origin, _holidays_row)
    consent = _rows_of(doc, "consent", f"{title}: consent", origin, _consent_row)
    pause = None
    if "call_pause" in doc:
        pause = _rows_of(
            doc, "call_pause", f"{title}: call pause after a conversation", origin, _pause_row
        )
    caps_doc = doc.get("caps", {})
    if not isinstance(caps_doc, Mapping):
        raise ValidationError("[caps] must be a table of caps", field=origin)
    caps = []
    for key, section in caps_doc.items():
        path_k = f"caps.{key}"
        if not isinstance(section, Mapping):
            raise ValidationError("must be a table", field=where(origin, path_k))
        extras = sorted(set(section) - {"rule", "rows", "covered_until"})
        if extras:
            raise ValidationError(f"unknown key {extras[0]!r}", field=where(origin, path_k))
        rule = section.get("rule")
        if rule is not None and (not isinstance(rule, str) or not rule.strip()):
            raise ValidationError("'rule' must be a non-empty text", field=where(origin, path_k))
        table = _table(
            section,
            f"{title}: cap {key}",
            origin,
            path_k,
            lambda row, p: _cap_row(row, origin, p),
        )
        caps.append((str(key), rule, table))
    return _File(origin, windows, holidays, consent, pause, tuple(caps))


def _rows_of(
    doc: Mapping[str, Any],
    key: str,
    name: str,
    origin: str,
    parse: Callable[[Mapping[str, Any], str, str], T],
) -> RuleTable[T]:
    """The versioned rows of section ``[key]``, each parsed by ``parse(row, origin, path)``."""
    return _table(
        _section(doc, key, origin), name, origin, key, lambda row, p: parse(row, origin, p)
    )


def _only(row: Mapping[str, Any], origin: str, path: str, keys: set[str]) -> None:
    for key in row:
        if key not in keys | {"valid_from", "source"}:
            raise ValidationError(f"unknown key {key!r}", field=where(origin, path))


def _holidays_row(row: Mapping[str, Any], origin: str, path: str) -> bool:
    _only(row, origin, path, {"closed"})
    return as_bool(row, "closed", origin, path)


def _consent_row(row: Mapping[str, Any], origin: str, path: str) -> frozenset[str]:
    _only(row, origin, path, {"channels"})
    return _channels(row.get("channels"), where(origin, path), allow_empty=True)


def _pause_row(row: Mapping[str, Any], origin: str, path: str) -> int:
    _only(row, origin, path, {"days"})
    return _positive(row, "days", origin, path)


def _positive(row: Mapping[str, Any], key: str, origin: str, path: str) -> int:
    value = as_int(row, key, origin, path)
    if value < 1:
        raise ValidationError(f"{key!r} must be at least 1", field=where(origin, path))
    return value


def _windows_row(row: Mapping[str, Any], origin: str, path: str) -> dict[int, Window]:
    _only(row, origin, path, set(WEEKDAYS))
    return {
        i: _window(row.get(name), where(origin, f"{path}.{name}"))
        for i, name in enumerate(WEEKDAYS)
    }


def _window(value: Any, place: str) -> Window:
    if value == "closed":
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, str) and _HHMM.match(v) for v in value)
    ):
        start, end = time.fromisoformat(value[0]), time.fromisoformat(value[1])
        if start < end:
            return (start, end)
    raise ValidationError(
        f'must be "closed" or ["HH:MM", "HH:MM"] with the start before the end, got {value!r}',
        field=place,
    )


def _channels(value: Any, place: str, *, allow_empty: bool = False) -> frozenset[str]:
    if (
        not isinstance(value, list)
        or (not value and not allow_empty)
        or any(c not in CHANNELS for c in value)
    ):
        raise ValidationError(
            f"'channels' must list some of {', '.join(CHANNELS)}, got {value!r}", field=place
        )
    return frozenset(value)


def _cap_row(row: Mapping[str, Any], origin: str, path: str) -> _CapSpec:
    _only(row, origin, path, {"channels", "limit", "window_days", "per_debt"})
    limit = as_int(row, "limit", origin, path)
    if limit < 0:
        raise ValidationError("'limit' must be ≥ 0", field=where(origin, path))
    return _CapSpec(
        _channels(row.get("channels"), where(origin, path)),
        limit,
        _positive(row, "window_days", origin, path),
        as_bool(row, "per_debt", origin, path) if "per_debt" in row else False,
    )


def _cap_rule(key: str, spec: _CapSpec) -> str:
    return f"frequency:{key}:{spec.limit}/{spec.window_days}d"


def _rules_on(code: str, parsed: _File, on: date) -> tuple[ContactRules, dict[str, Cap]]:
    windows = parsed.windows.at(on)
    holidays = parsed.holidays.at(on)
    consent = parsed.consent.at(on)
    sources: dict[str, str] = {
        "quiet_hours": windows.source,
        "sunday": windows.source,
        "closed_day": windows.source,
        "public_holiday": holidays.source,
    }
    for channel in sorted(consent.value):
        sources[f"consent:{channel}"] = consent.source
    pause_days = None
    if parsed.pause is not None:
        pause = parsed.pause.at(on)
        pause_days = pause.value
        sources[PAUSE_RULE] = pause.source
    keyed: dict[str, Cap] = {}
    for key, rule, table in parsed.caps:
        row = table.at(on)
        spec = row.value
        cap = Cap(
            rule or _cap_rule(key, spec),
            spec.channels,
            spec.limit,
            spec.window_days,
            spec.per_debt,
            row.source,
        )
        keyed[key] = cap
        sources[cap.rule] = row.source
    rules = ContactRules(
        jurisdiction=code,
        windows=dict(windows.value),
        holidays_closed=holidays.value,
        caps=tuple(keyed.values()),
        consent_required=consent.value,
        call_pause_after_conversation_days=pause_days,
        sources=sources,
    )
    return rules, keyed


# policy -----------------------------------------------------------------------------

_POLICY = "creditor policy"


def _tighten(base: ContactRules, keyed: dict[str, Cap], contact: Mapping[str, Any]) -> ContactRules:
    for key in contact:
        if key not in POLICY_KEYS:
            raise ValidationError(
                f"unknown key (known: {', '.join(POLICY_KEYS)})", field=f"policy.contact.{key}"
            )
    rules = base
    sources = dict(base.sources)
    if "windows" in contact:
        rules = replace(rules, windows=_policy_windows(base, contact["windows"]))
        for rule in ("quiet_hours", "sunday", "closed_day"):
            sources[rule] = f"{sources.get(rule, '')}; narrowed by {_POLICY}".lstrip("; ")
    if "holidays_closed" in contact:
        value = contact["holidays_closed"]
        field = "policy.contact.holidays_closed"
        if not isinstance(value, bool):
            raise ValidationError("must be true or false", field=field)
        if base.holidays_closed and not value:
            raise ValidationError("would open public holidays that the rules close", field=field)
        if value and not base.holidays_closed:
            sources["public_holiday"] = f"{_POLICY}: no contact on public holidays"
        rules = replace(rules, holidays_closed=base.holidays_closed or value)
    if "closed_dates" in contact:
        rules = replace(rules, closed_dates=_policy_dates(contact["closed_dates"]))
        sources["closed_day"] = f"{sources.get('closed_day', '')}; closed dates of {_POLICY}"
    if "consent_required" in contact:
        extra = _channels(
            contact["consent_required"], "policy.contact.consent_required", allow_empty=True
        )
        for channel in sorted(extra - base.consent_required):
            sources[f"consent:{channel}"] = f"{_POLICY}: {channel} only with consent"
        rules = replace(rules, consent_required=base.consent_required | extra)
    if "call_pause_after_conversation_days" in contact:
        field = "policy.contact.call_pause_after_conversation_days"
        value = contact["call_pause_after_conversation_days"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValidationError("must be a whole number of days ≥ 1", field=field)
        current = base.call_pause_after_conversation_days
        if current is not None and value < current:
            raise ValidationError(
                f"would shorten the call pause of {current} days to {value}", field=field
            )
        if current is None or value > current:
            sources[PAUSE_RULE] = f"{_POLICY}: {value} days without calls after a conversation"
        rules = replace(rules, call_pause_after_conversation_days=value)
    if "caps" in contact:
        added = _policy_caps(keyed, contact["caps"])
        for cap in added:
            sources[cap.rule] = cap.source
        rules = replace(rules, caps=base.caps + added)
    return replace(rules, sources=sources)


def _policy_windows(base: ContactRules, value: Any) -> dict[int, Window]:
    if not isinstance(value, Mapping):
        raise ValidationError("must be a table of weekdays", field="policy.contact.windows")
    windows = dict(base.windows)
    for name, given in value.items():
        field = f"policy.contact.windows.{name}"
        if name not in WEEKDAYS:
            raise ValidationError(f"unknown weekday (known: {', '.join(WEEKDAYS)})", field=field)
        weekday = WEEKDAYS.index(name)
        wanted = _window(given, field)
        current = base.windows.get(weekday)
        if wanted is None:
            windows[weekday] = None
            continue
        if current is None:
            raise ValidationError(f"would open {name}, which the rules close", field=field)
        if wanted[0] < current[0] or wanted[1] > current[1]:
            raise ValidationError(
                f"would widen the contact hours {current[0]:%H:%M}-{current[1]:%H:%M} "
                f"to {wanted[0]:%H:%M}-{wanted[1]:%H:%M}",
                field=field,
            )
        windows[weekday] = wanted
    return windows


def _policy_dates(value: Any) -> frozenset[date]:
    field = "policy.contact.closed_dates"
    if not isinstance(value, list):
        raise ValidationError("must be a list of dates (YYYY-MM-DD)", field=field)
    out = set()
    for item in value:
        if isinstance(item, date):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(str(item)))
        except ValueError:
            raise ValidationError(f"not a date (YYYY-MM-DD): {item!r}", field=field) from None
    return frozenset(out)


def _policy_caps(keyed: dict[str, Cap], value: Any) -> tuple[Cap, ...]:
    if not isinstance(value, Mapping):
        raise ValidationError("must be a table of caps", field="policy.contact.caps")
    added: list[Cap] = []
    for key, given in value.items():
        field = f"policy.contact.caps.{key}"
        if not isinstance(given, Mapping):
            raise ValidationError("must be a table", field=field)
        extras = sorted(set(given) - {"channels", "limit", "window_days", "per_debt"})
        if extras:
            raise ValidationError("unknown key", field=f"{field}.{extras[0]}")
        current = keyed.get(str(key))
        if current is None and not {"channels", "limit", "window_days"} <= set(given):
            raise ValidationError(
                "a new cap needs channels, limit and window_days "
                f"(caps in the rules: {', '.join(keyed) or 'none'})",
                field=field,
            )
        spec = _policy_cap_spec(given, current, field)
        rule = _cap_rule(str(key), spec)
        if current is not None:
            if (spec.channels, spec.limit, spec.window_days, spec.per_debt) == (
                current.channels,
                current.limit,
                current.window_days,
                current.per_debt,
            ):
                continue
            source = f"{_POLICY} (tightens {current.rule})"
        else:
            source = _POLICY
        added.append(Cap(rule, spec.channels, spec.limit, spec.window_days, spec.per_debt, source))
    return tuple(added)


def _policy_cap_spec(given: Mapping[str, Any], current: Cap | None, field: str) -> _CapSpec:
    def number(key: str) -> int:
        value = given[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError("must be a whole number ≥ 0", field=f"{field}.{key}")
        return value

    channels = (
        _channels(given["channels"], f"{field}.channels")
        if "channels" in given
        else (current.channels if current else frozenset())
    )
    limit = number("limit") if "limit" in given else (current.limit if current else 0)
    window = (
        number("window_days") if "window_days" in given else (current.window_days if current else 1)
    )
    per_debt = given.get("per_debt", current.per_debt if current else False)
    if not isinstance(per_debt, bool):
        raise ValidationError("must be true or false", field=f"{field}.per_debt")
    if window < 1:
        raise ValidationError("must be at least 1", field=f"{field}.window_days")
    if current is not None:
        if limit > current.limit:
            raise ValidationError(
                f"would raise the limit of {current.rule} from {current.limit} to {limit}",
                field=f"{field}.limit",
            )
        if window < current.window_days:
            raise ValidationError(
                f"would shorten the window of {current.rule} from {current.window_days} to "
                f"{window} days",
                field=f"{field}.window_days",
            )
        if not current.channels <= channels:
            raise ValidationError(
                f"would drop channels from {current.rule}: "
                f"{', '.join(sorted(current.channels - channels))}",
                field=f"{field}.channels",
            )
        if per_debt and not current.per_debt:
            raise ValidationError(
                f"would count {current.rule} per debt instead of per person",
                field=f"{field}.per_debt",
            )
    return _CapSpec(channels, limit, window, per_debt)
