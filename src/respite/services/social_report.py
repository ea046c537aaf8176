"""The social collection report for a period, per creditor and for the whole agency.

``social_report(engine, period_from, period_to, creditor)`` reads the case timeline
(``events``) with a handful of set-based queries, each restricted by the index on
``(kind, business_date)`` to the kinds it needs and grouped by creditor in the database;
only the dossiers closed in the period, the plans around it and the people who may have
become debt-free come back row by row. What each figure means is written in
:mod:`respite.domain.social_report`, next to the arithmetic; this module only fetches.

Every query runs unchanged on SQLite and PostgreSQL (JSON fields through SQLAlchemy's
portable accessors; no dialect-specific date functions: dates are grouped in Python).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from respite.adapters.db.models import Case, CostWaiver, Creditor, Debtor, Event
from respite.domain.money import Currency, Money
from respite.domain.social_report import (
    AGENCY,
    METRICS,
    CaseSpan,
    Figure,
    MonthAmount,
    Report,
    Unit,
    add_months,
    average,
    debt_free_days,
    kept_counts,
    median,
    percent,
)
from respite.errors import InputError, ValidationError

__all__ = ["social_report"]

CLOSE_REASONS = ("paid", "settled", "written_off", "recalled")
CHANNELS = ("email", "sms", "post", "phone")
NEGATIVE_SCREENING = ("do_not_proceed", "alternative")
WAIVER_METRIC = {
    "aggregation": "costs_not_charged_no_stacking",
    "policy_cap": "costs_not_charged_cap",
}
# Holds whose placing the report counts, by the metric it feeds.
HOLD_METRIC = {
    "debt_counselling": "referrals_debt_counselling",
    "vulnerability_review": "vulnerability_reviews",
    "deferral": "deferrals_granted",
    "dispute": "disputes_opened",
}
COUNTED_KINDS = {
    "opened": "dossiers_opened",
    "plan_started": "arrangements_made",
    "plan_completed": "arrangements_completed",
    "plan_broken": "arrangements_broken",
    "referral_accepted": "referrals_accepted",
    "portal_login": "portal_logins",
}


@dataclass
class _Tally:
    """The raw aggregates of one scope, before they become figures."""

    counts: Counter[str] = field(default_factory=Counter)
    cents: Counter[tuple[str, str]] = field(default_factory=Counter)  # (metric, currency)
    parts: Counter[str] = field(default_factory=Counter)
    wholes: Counter[str] = field(default_factory=Counter)
    days: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    months: Counter[tuple[str, str]] = field(default_factory=Counter)  # (YYYY-MM, currency)

    def merge(self, other: _Tally) -> None:
        self.counts.update(other.counts)
        self.cents.update(other.cents)
        self.parts.update(other.parts)
        self.wholes.update(other.wholes)
        for k, hist in other.days.items():
            self.days[k].update(hist)
        self.months.update(other.months)


def social_report(
    engine: Engine, period_from: date, period_to: date, creditor: str | None = None
) -> Report:
    """The report for ``[period_from, period_to]`` (both days included).

    Without ``creditor``: the agency's figures first, then each creditor's. With it: that
    creditor's figures only. Raises ``ValidationError`` for a period that ends before it
    starts and ``InputError`` for an unknown creditor.
    """
    if period_to < period_from:
        raise ValidationError(
            f"the period ends ({period_to.isoformat()}) before it starts "
            f"({period_from.isoformat()})",
            field="--to",
        )
    with engine.connect() as conn:
        creditors = _creditors(conn, creditor)
    names = {cid: name for cid, (name, _) in creditors.items()}
    # Messages are the largest share of the timeline: a second connection counts them while
    # this one reads everything else (the machine has two cores; so does SQLite's reader).
    with ThreadPoolExecutor(max_workers=1) as pool:
        side = pool.submit(_message_tallies, engine, period_from, period_to, creditors)
        with _reading(engine) as conn:
            q = _Queries(conn, period_from, period_to, creditors)
            tallies = q.run()
            agency = _Tally()
            for t in tallies.values():
                agency.merge(t)
            q.agency_debt_free(agency)
        by_creditor, agency_messages = side.result()
    for cid, t in by_creditor.items():
        tallies.setdefault(cid, _Tally()).merge(t)
    if creditor is not None:
        (cid,) = creditors
        scopes: list[tuple[str, _Tally]] = [(names[cid], tallies.get(cid, _Tally()))]
    else:
        agency.merge(agency_messages)
        scopes = [(AGENCY, agency)]
        scopes += sorted(((names[c], tallies.get(c, _Tally())) for c in creditors), key=_name)
    figures: list[Figure] = []
    months: list[MonthAmount] = []
    for scope, tally in scopes:
        figures += _figures(scope, tally)
        months += [
            MonthAmount(scope, month, cur, _amount(cents, cur))
            for (month, cur), cents in sorted(tally.months.items())
        ]
    return Report(
        period_from=period_from,
        period_to=period_to,
        creditor=creditor,
        scopes=tuple(s for s, _ in scopes),
        figures=tuple(figures),
        collected_by_month=tuple(months),
    )


# SQLite reads a large timeline much faster through a memory map than through read calls;
# the settings hold for this report's connections only and are put back afterwards.
SQLITE_READING = {"mmap_size": 8 << 30, "cache_size": -256 * 1024}


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        saved = {k: conn.exec_driver_sql(f"PRAGMA {k}").scalar() for k in SQLITE_READING}
        for k, v in SQLITE_READING.items():
            conn.exec_driver_sql(f"PRAGMA {k}={int(v)}")
        try:
            yield conn
        finally:
            for k, old in saved.items():
                conn.exec_driver_sql(f"PRAGMA {k}={int(old or 0)}")


def _name(item: tuple[str, _Tally]) -> str:
    return item[0].casefold()


def _creditors(conn: Connection, name: str | None) -> dict[int, tuple[str, str]]:
    query = select(Creditor.id, Creditor.name, Creditor.currency).order_by(Creditor.id)
    if name is not None:
        query = query.where(Creditor.name == name)
    found = {int(i): (str(n), str(c)) for i, n, c in conn.execute(query)}
    if name is not None and not found:
        raise InputError(f"no creditor named {name!r}", field="--creditor")
    return found


def _amount(cents: int, currency: str) -> Decimal:
    return Money.from_minor_units(cents, Currency.of(currency)).amount


def _figures(scope: str, t: _Tally) -> list[Figure]:
    out: list[Figure] = []
    currencies = sorted({cur for (_, cur) in t.cents})
    for metric in METRICS:
        m = metric.id
        if metric.unit is Unit.COUNT:
            out.append(Figure(m, scope, int(t.counts[m])))
        elif metric.unit is Unit.MONEY:
            out += [
                Figure(m, scope, _amount(t.cents[(m, cur)], cur), currency=cur)
                for cur in currencies
            ]
        elif metric.unit is Unit.PERCENT:
            part, whole = int(t.parts[m]), int(t.wholes[m])
            out.append(Figure(m, scope, percent(part, whole), part=part, whole=whole))
        elif metric.unit is Unit.SCORE:
            total, n = int(t.parts[m]), int(t.wholes[m])
            out.append(Figure(m, scope, average(total, n), part=total, whole=n))
        else:
            hist = t.days.get(m, Counter())
            out.append(Figure(m, scope, median(hist), whole=sum(hist.values())))
    return out


def _self_service(actor: Any) -> ColumnElement[int]:
    return case((or_(actor.like("portal%"), actor.like("debtor%")), 1), else_=0)


class _Queries:
    """The queries of one report; each adds its aggregates to the creditors' tallies."""

    def __init__(
        self,
        conn: Connection,
        period_from: date,
        period_to: date,
        creditors: dict[int, tuple[str, str]],
    ) -> None:
        self.conn = conn
        self.lo = period_from
        self.hi = period_to
        self.creditors = creditors
        self.only = next(iter(creditors)) if len(creditors) == 1 else None
        self.tallies: dict[int, _Tally] = defaultdict(_Tally)
        self.closes: list[Any] = []
        self.spans: list[tuple[int, CaseSpan, str]] = []

    # -- helpers --------------------------------------------------------------------

    def _in_period(self, *kinds: str) -> ColumnElement[bool]:
        return and_(
            Event.kind.in_(kinds) if len(kinds) > 1 else Event.kind == kinds[0],
            Event.business_date >= self.lo,
            Event.business_date <= self.hi,
        )

    def _scoped(self, query: Any) -> Any:
        """Join the event's case (for its creditor) and keep the chosen creditor only."""
        query = query.join(Case, Case.id == Event.case_id)
        if self.only is not None:
            query = query.where(Case.creditor_id == self.only)
        return query

    def _currency(self, creditor_id: int) -> str:
        return self.creditors[creditor_id][1]

    def _known(self, creditor_id: Any) -> int | None:
        cid = int(creditor_id)
        return cid if cid in self.creditors else None

    # -- the queries ----------------------------------------------------------------

    def run(self) -> dict[int, _Tally]:
        self._counted_events()
        self._transitions()
        self._handled()
        self._payments()
        self._holds()
        self._interest_frozen()
        self._amount_events()
        self._waivers()
        self._plans_kept()
        self._debt_free_by_creditor()
        return dict(self.tallies)

    def _counted_events(self) -> None:
        selfish = _self_service(Event.actor)
        query = self._scoped(
            select(Case.creditor_id, Event.kind, selfish, func.count())
            .where(self._in_period(*COUNTED_KINDS))
            .group_by(Case.creditor_id, Event.kind, selfish)
        )
        for cid, kind, by_debtor, n in self.conn.execute(query):
            if self._known(cid) is None:
                continue
            t = self.tallies[int(cid)]
            t.counts[COUNTED_KINDS[kind]] += int(n)
            if kind == "plan_started":
                t.wholes["self_service_share"] += int(n)
                t.parts["self_service_share"] += int(n) * int(by_debtor)

    def _transitions(self) -> None:
        """Closes (row by row: outcomes, time to resolution, debt-free) and handovers."""
        stage = Event.after["stage"].as_string()
        person = func.coalesce(Debtor.person_id, Debtor.id)
        query = self._scoped(
            select(
                Event.case_id,
                Case.creditor_id,
                Event.business_date,
                stage,
                Event.after["close_reason"].as_string(),
                Case.opened_on,
                person,
                Debtor.kind,
            ).where(self._in_period("transition"), stage.in_(("closed", "legal_handover")))
        ).join(Debtor, Debtor.id == Case.debtor_id)
        vulnerable = self._vulnerable_cases()
        seen: set[int] = set()
        for case_id, cid, on, to_stage, reason, opened_on, who, kind in self.conn.execute(query):
            if self._known(cid) is None:
                continue
            t = self.tallies[int(cid)]
            if to_stage == "legal_handover":
                t.counts["legal_handovers"] += 1
                continue
            if case_id in seen:  # a case closes once; a second close event is not counted
                continue
            seen.add(int(case_id))
            t.counts["dossiers_closed"] += 1
            if reason in CLOSE_REASONS:
                t.counts[f"closed_{reason}"] += 1
            which = (
                "resolution_days_vulnerable"
                if int(case_id) in vulnerable
                else "resolution_days_other"
            )
            t.days[which][(on - opened_on).days] += 1
            self.closes.append((int(case_id), int(cid), on, reason, opened_on, int(who), kind))

    def _vulnerable_cases(self) -> set[int]:
        """Cases that had a vulnerability-review hold on or before the period's end."""
        holds = Event.after["holds"].as_string()
        query = (
            select(Event.case_id)
            .distinct()
            .where(
                Event.kind == "hold_placed",
                Event.business_date <= self.hi,
                holds.like("%vulnerability_review%"),
            )
        )
        if self.only is not None:
            query = self._scoped(query)
        return {int(r) for r in self.conn.execute(query).scalars()}

    def _handled(self) -> None:
        opened = select(Case.creditor_id, func.count()).where(Case.opened_on <= self.hi)
        if self.only is not None:
            opened = opened.where(Case.creditor_id == self.only)
        for cid, n in self.conn.execute(opened.group_by(Case.creditor_id)):
            if self._known(cid) is not None:
                self.tallies[int(cid)].counts["dossiers_handled"] += int(n)
        stage = Event.after["stage"].as_string()
        closed_before = self._scoped(
            select(Case.creditor_id, func.count(distinct(Event.case_id)))
            .where(Event.kind == "transition", Event.business_date < self.lo, stage == "closed")
            .group_by(Case.creditor_id)
        )
        for cid, n in self.conn.execute(closed_before):
            if self._known(cid) is not None:
                self.tallies[int(cid)].counts["dossiers_handled"] -= int(n)

    def _payments(self) -> None:
        amount = Event.after["amount_cents"].as_integer()
        query = self._scoped(
            select(Case.creditor_id, Event.business_date, Event.kind, func.sum(amount))
            .where(self._in_period("payment_received", "payment_reversed"))
            .group_by(Case.creditor_id, Event.business_date, Event.kind)
        )
        for cid, on, kind, cents in self.conn.execute(query):
            if self._known(cid) is None:
                continue
            signed = int(cents or 0) * (1 if kind == "payment_received" else -1)
            cur = self._currency(int(cid))
            t = self.tallies[int(cid)]
            t.cents[("amount_collected", cur)] += signed
            t.months[(on.isoformat()[:7], cur)] += signed

    def _holds(self) -> None:
        """Placed and lifted holds: which kind changed is the difference of the lists."""
        before = Event.before["holds"].as_string()
        after = Event.after["holds"].as_string()
        selfish = _self_service(Event.actor)
        query = self._scoped(
            select(Case.creditor_id, Event.kind, before, after, selfish, func.count())
            .where(self._in_period("hold_placed", "hold_lifted"))
            .group_by(Case.creditor_id, Event.kind, before, after, selfish)
        )
        for cid, kind, was, now, by_debtor, n in self.conn.execute(query):
            if self._known(cid) is None:
                continue
            t = self.tallies[int(cid)]
            old, new = _hold_set(was), _hold_set(now)
            if kind == "hold_placed":
                for hold in new - old:
                    if hold in HOLD_METRIC:
                        t.counts[HOLD_METRIC[hold]] += int(n)
                    if hold == "deferral":
                        t.wholes["self_service_share"] += int(n)
                        t.parts["self_service_share"] += int(n) * int(by_debtor)
            elif "dispute" in old - new:
                t.counts["disputes_resolved"] += int(n)

    def _interest_frozen(self) -> None:
        frozen = or_(
            Event.after["interest_frozen"].as_boolean() == true(),
            Event.reason.like("%interest frozen%"),
        )
        query = self._scoped(
            select(Case.creditor_id, func.count(distinct(Event.case_id)))
            .where(
                self._in_period("hold_placed", "plan_started"),
                or_(Event.kind == "hold_placed", frozen),
            )
            .group_by(Case.creditor_id)
        )
        for cid, n in self.conn.execute(query):
            if self._known(cid) is not None:
                self.tallies[int(cid)].counts["interest_frozen_dossiers"] += int(n)

    def _amount_events(self) -> None:
        """Interest not charged, screenings and their court costs, satisfaction scores."""
        outcome = Event.after["outcome"].as_string()
        score = Event.after["score"].as_integer()
        cents = case(
            (Event.kind == "interest_not_charged", Event.after["amount_cents"].as_integer()),
            (Event.kind == "screening", Event.after["court_costs_avoided_cents"].as_integer()),
            (Event.kind == "satisfaction", score),
            else_=literal(0),
        )
        kinds = ("interest_not_charged", "screening", "satisfaction")
        result = case((Event.kind == "screening", outcome), else_=literal(""))
        query = self._scoped(
            select(
                Case.creditor_id,
                Event.kind,
                result,
                func.count(),
                func.sum(cents),
            )
            .where(self._in_period(*kinds))
            .group_by(Case.creditor_id, Event.kind, result)
        )
        for cid, kind, result, n, total in self.conn.execute(query):
            if self._known(cid) is None:
                continue
            t = self.tallies[int(cid)]
            cur = self._currency(int(cid))
            if kind == "interest_not_charged":
                t.cents[("interest_not_charged", cur)] += int(total or 0)
            elif kind == "screening":
                t.counts["screenings"] += int(n)
                if result in NEGATIVE_SCREENING:
                    t.counts["screenings_negative"] += int(n)
                t.cents[("court_costs_avoided", cur)] += int(total or 0)
            else:
                t.parts["satisfaction_average"] += int(total or 0)
                t.wholes["satisfaction_average"] += int(n)
                t.counts["satisfaction_responses"] += int(n)

    def _waivers(self) -> None:
        query = (
            select(Case.creditor_id, CostWaiver.reason, func.sum(CostWaiver.amount_cents))
            .join(Case, Case.id == CostWaiver.case_id)
            .where(CostWaiver.on_date >= self.lo, CostWaiver.on_date <= self.hi)
            .group_by(Case.creditor_id, CostWaiver.reason)
        )
        if self.only is not None:
            query = query.where(Case.creditor_id == self.only)
        for cid, reason, total in self.conn.execute(query):
            if self._known(cid) is None:
                continue
            cur = self._currency(int(cid))
            t = self.tallies[int(cid)]
            t.cents[("costs_not_charged", cur)] += int(total or 0)
            metric = WAIVER_METRIC.get(str(reason), "costs_not_charged_waived")
            t.cents[(metric, cur)] += int(total or 0)

    def _plans_kept(self) -> None:
        """Plans started up to 12 months before the period (their marks may fall in it)."""
        plan = Event.after["plan"].as_integer()
        earliest = add_months(self.lo, -12)
        starts: dict[int, list[tuple[tuple[int, int], date]]] = defaultdict(list)
        query = self._scoped(
            select(Case.creditor_id, Event.case_id, plan, Event.business_date).where(
                Event.kind == "plan_started",
                Event.business_date >= earliest,
                Event.business_date <= self.hi,
            )
        )
        for cid, case_id, plan_id, on in self.conn.execute(query):
            if self._known(cid) is not None:
                starts[int(cid)].append(((int(case_id), int(plan_id or 0)), on))
        breaks: dict[tuple[int, int], date] = {}
        query = self._scoped(
            select(Event.case_id, plan, Event.business_date).where(
                Event.kind == "plan_broken",
                Event.business_date >= earliest,
                Event.business_date <= self.hi,
            )
        )
        for case_id, plan_id, on in self.conn.execute(query):
            key = (int(case_id), int(plan_id or 0))
            breaks[key] = min(on, breaks.get(key, on))
        for cid, rows in starts.items():
            t = self.tallies[cid]
            for months in (3, 6, 12):
                kept, reached = kept_counts(rows, breaks, months, self.lo, self.hi)
                t.parts[f"arrangements_kept_{months}m"] += kept
                t.wholes[f"arrangements_kept_{months}m"] += reached
            for key, on in rows:
                if self.lo <= on <= self.hi:
                    t.wholes["arrangements_kept_to_date"] += 1
                    t.parts["arrangements_kept_to_date"] += key not in breaks

    # -- debt-free ------------------------------------------------------------------

    def _spans(self) -> list[tuple[int, CaseSpan, str]]:
        """Every dossier of the people who closed one as paid or settled in the period.

        Returns (creditor id, span, debtor kind). A person with one dossier needs nothing
        more than the close itself; only people with several are looked up further.
        """
        candidates = {
            who for (_, _, _, reason, _, who, _) in self.closes if reason in ("paid", "settled")
        }
        out = [
            (cid, CaseSpan(who, opened_on, on, reason), kind)
            for (_, cid, on, reason, opened_on, who, kind) in self.closes
            if who in candidates
        ]
        if not candidates:
            return out
        known = {case_id for (case_id, *_) in self.closes}
        person = func.coalesce(Debtor.person_id, Debtor.id)
        several = (
            select(person.label("person"))
            .select_from(Case)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.opened_on <= self.hi)
            .group_by(person)
            .having(func.count() > 1)
        )
        # The cases of people with several (one query), and when those closed: in the period
        # (known already) or before it (one range read of earlier closes).
        query = (
            select(Case.id, Case.creditor_id, person, Case.opened_on, Debtor.kind)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.opened_on <= self.hi, person.in_(several.scalar_subquery()))
        )
        others = [
            (int(i), int(c), int(p), o, str(k))
            for i, c, p, o, k in self.conn.execute(query)
            if int(p) in candidates and int(i) not in known
        ]
        closed: dict[int, tuple[date, str | None]] = {
            case_id: (on, reason) for (case_id, _, on, reason, *_) in self.closes
        }
        if others:
            stage = Event.after["stage"].as_string()
            closing = select(
                Event.case_id, Event.business_date, Event.after["close_reason"].as_string()
            ).where(Event.kind == "transition", Event.business_date < self.lo, stage == "closed")
            wanted = {o[0] for o in others}
            for case_id, on, reason in self.conn.execute(closing):
                if int(case_id) in wanted:
                    closed.setdefault(int(case_id), (on, reason))
        for case_id, cid, who, opened_on, kind in others:
            on, reason = closed.get(case_id, (None, None))
            out.append((cid, CaseSpan(who, opened_on, on, reason), kind))
        return out

    def _debt_free_by_creditor(self) -> None:
        self.spans = spans = self._spans()
        kind_of = {s.person: k for (_, s, k) in spans if s.close_reason in ("paid", "settled")}
        by_creditor: dict[int, list[CaseSpan]] = defaultdict(list)
        for cid, span, _ in spans:
            by_creditor[cid].append(span)
        for cid, rows in by_creditor.items():
            if self._known(cid) is None:
                continue
            t = self.tallies[cid]
            for who, _ in debt_free_days(rows, self.lo, self.hi):
                t.counts[_debt_free_metric(kind_of.get(who))] += 1

    # -- agency-wide figures that are not sums over creditors ---------------------------

    def agency_debt_free(self, agency: _Tally) -> None:
        for m in ("debt_free_private", "debt_free_business"):
            agency.counts[m] = 0
        kind_of = {s.person: k for (_, s, k) in self.spans if s.close_reason in ("paid", "settled")}
        for who, _ in debt_free_days((s for (_, s, _) in self.spans), self.lo, self.hi):
            agency.counts[_debt_free_metric(kind_of.get(who))] += 1


def _message_tallies(
    engine: Engine, period_from: date, period_to: date, creditors: dict[int, tuple[str, str]]
) -> tuple[dict[int, _Tally], _Tally]:
    """Messages and guardrail decisions per creditor, and for the agency (where a message
    that carries several creditors' cases counts once).

    One read of the message events: their fields are taken out of the JSON once into a
    materialised list of distinct (creditor, message), which both counts then use.
    """
    only = next(iter(creditors)) if len(creditors) == 1 else None
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    agency = _Tally()
    params = {"lo": period_from, "hi": period_to, "cid": only}
    with _reading(engine) as conn:
        sql = _message_sql(conn.dialect.name, only is not None)
        for cid, channel, b1, n in conn.execute(text(sql.messages), params):
            if int(cid) == AGENCY_ROW:
                _add_messages(agency, str(channel), int(b1 or 0), int(n))
            elif int(cid) in creditors:
                _add_messages(tallies[int(cid)], str(channel), int(b1 or 0), int(n))
        for cid, kind, n in conn.execute(text(sql.contacts), params):
            key = "contacts_deferred" if kind == "contact_deferred" else "contacts_blocked"
            if int(cid) == AGENCY_ROW:
                agency.counts[key] += int(n)
            elif int(cid) in creditors:
                tallies[int(cid)].counts[key] += int(n)
    return dict(tallies), agency


AGENCY_ROW = -1


@dataclass(frozen=True, slots=True)
class _MessageSql:
    messages: str
    contacts: str


def _message_sql(dialect: str, one_creditor: bool) -> _MessageSql:
    # Built from constants only; dates and the creditor are bound parameters.
    if dialect == "sqlite":
        mid = "json_extract(e.after, '$.message_id')"
        channel = "json_extract(e.after, '$.channel')"
        b1 = "CASE WHEN json_extract(e.after, '$.b1') = 1 THEN 1 ELSE 0 END"
    else:
        mid = "CAST(e.after ->> 'message_id' AS BIGINT)"
        channel = "(e.after ->> 'channel')"
        b1 = "CASE WHEN (e.after ->> 'b1') = 'true' THEN 1 ELSE 0 END"
    scope = " AND c.creditor_id = :cid" if one_creditor else ""
    period = "e.business_date >= :lo AND e.business_date <= :hi"
    messages = (
        f"WITH m AS MATERIALIZED (SELECT c.creditor_id AS cid, {mid} AS mid, "  # noqa: S608
        f"{channel} AS ch, {b1} AS b1 FROM events e JOIN cases c ON c.id = e.case_id "
        f"WHERE e.kind = 'message_sent' AND {period}{scope} "
        f"GROUP BY c.creditor_id, {mid}, {channel}, {b1}) "
        "SELECT cid, ch, b1, count(*) FROM m GROUP BY cid, ch, b1 "
        f"UNION ALL SELECT {AGENCY_ROW}, ch, b1, count(DISTINCT mid) FROM m GROUP BY ch, b1"
    )
    contacts = (
        f"WITH d AS MATERIALIZED (SELECT DISTINCT c.creditor_id AS cid, e.kind AS kind, "  # noqa: S608
        f"{mid} AS mid, e.business_date AS day FROM events e JOIN cases c ON c.id = e.case_id "
        f"WHERE e.kind IN ('contact_deferred', 'contact_blocked') AND {period}{scope}) "
        "SELECT cid, kind, count(*) FROM d GROUP BY cid, kind "
        f"UNION ALL SELECT {AGENCY_ROW}, kind, count(*) FROM "
        "(SELECT DISTINCT kind, mid, day FROM d) AS x GROUP BY kind"
    )
    return _MessageSql(messages, contacts)


def _add_messages(t: _Tally, channel: str, b1: int, n: int) -> None:
    t.counts["messages_sent"] += n
    if channel in CHANNELS:
        t.counts[f"messages_{channel}"] += n
    t.wholes["messages_b1_share"] += n
    t.parts["messages_b1_share"] += n * b1


def _debt_free_metric(kind: str | None) -> str:
    return "debt_free_business" if kind == "business" else "debt_free_private"


def _hold_set(value: str | None) -> frozenset[str]:
    return frozenset(h for h in (value or "").split(",") if h)
