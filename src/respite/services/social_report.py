"""The social collection report for a period, per creditor and for the whole agency.

``social_report(engine, period_from, period_to, creditor)`` reads the case timeline
(``events``) with a handful of set-based queries, each restricted by the index on
``(kind, business_date, case_id)`` to the kinds it needs and summed per creditor in the
database; only the dossiers closed in the period, the plans around it and the people who
may have become debt-free come back row by row. What each figure means is written in
:mod:`respite.domain.social_report`, next to the arithmetic; this module only fetches.

The queries are independent jobs, run on two connections at once (the benchmark machine
has two cores; SQLite serves concurrent readers, PostgreSQL too), each job adding up its
own tallies, merged at the end.

Every query runs on SQLite and PostgreSQL. Two things are done differently on SQLite,
where ``GROUP BY`` always sorts its rows and sorting millions of rows with few distinct
keys is slow: sums per a few keys go through a small temporary table with one row per key
(``INSERT … ON CONFLICT DO UPDATE``, in effect a hash aggregate), and distinct messages are
collected in a temporary table keyed by message id (filled nearly in key order, so cheap)
and counted from there. On PostgreSQL, which has hash aggregates, these are plain
``GROUP BY`` and ``count(DISTINCT …)`` queries (messages per creditor and for the agency in
one pass, with grouping sets). Both give the same figures.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    UniqueConstraint,
    and_,
    case,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
# Connections the report reads on at once.
WORKERS = 2


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


@dataclass
class _Part:
    """What one job found.

    ``sums``: per creditor, figures that add up to the agency's. ``own``: per creditor,
    figures that do not (distinct messages, people who became debt-free). ``agency``: the
    agency's own value of those.
    """

    sums: dict[int, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    own: dict[int, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    agency: _Tally = field(default_factory=_Tally)


@dataclass(frozen=True)
class _Scope:
    """The period and the creditors one report covers."""

    lo: date
    hi: date
    creditors: dict[int, tuple[str, str]]  # id -> (name, currency)

    @property
    def only(self) -> int | None:
        return next(iter(self.creditors)) if len(self.creditors) == 1 else None

    def known(self, creditor_id: Any) -> int | None:
        cid = int(creditor_id)
        return cid if cid in self.creditors else None

    def currency(self, creditor_id: int) -> str:
        return self.creditors[creditor_id][1]

    def in_period(self, *kinds: str) -> ColumnElement[bool]:
        return and_(
            Event.kind.in_(kinds) if len(kinds) > 1 else Event.kind == kinds[0],
            Event.business_date >= self.lo,
            Event.business_date <= self.hi,
        )

    def scoped(self, query: Any) -> Any:
        """Join the event's case (for its creditor) and keep the chosen creditor only."""
        query = query.join(Case, Case.id == Event.case_id)
        if self.only is not None:
            query = query.where(Case.creditor_id == self.only)
        return query


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
    scope = _Scope(period_from, period_to, creditors)
    names = {cid: name for cid, (name, _) in creditors.items()}
    parts = _run(engine, scope, JOBS)
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    agency = _Tally()
    for part in parts:
        for cid, t in part.sums.items():
            tallies[cid].merge(t)
            agency.merge(t)
        agency.merge(part.agency)
    for part in parts:
        for cid, t in part.own.items():
            tallies[cid].merge(t)
    if creditor is not None:
        (cid,) = creditors
        scopes: list[tuple[str, _Tally]] = [(names[cid], tallies.get(cid, _Tally()))]
    else:
        scopes = [(AGENCY, agency)]
        scopes += sorted(((names[c], tallies.get(c, _Tally())) for c in creditors), key=_name)
    figures: list[Figure] = []
    months: list[MonthAmount] = []
    for scope_name, tally in scopes:
        figures += _figures(scope_name, tally)
        months += [
            MonthAmount(scope_name, month, cur, _amount(cents, cur))
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


Job = Callable[[Connection, _Scope, _Part], None]


def _run(engine: Engine, scope: _Scope, jobs: Sequence[Job]) -> list[_Part]:
    """Run the jobs on ``WORKERS`` connections at once, the longest first."""

    def one(job: Job) -> _Part:
        part = _Part()
        with _reading(engine) as conn:
            job(conn, scope, part)
        return part

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(one, jobs))


# SQLite reads a large timeline much faster through a memory map than through read calls,
# and keeps the report's temporary tables in memory; the settings hold for this report's
# connections only and are put back afterwards.
SQLITE_READING = {"mmap_size": 8 << 30, "cache_size": -256 * 1024, "temp_store": 2}


# PostgreSQL: the report's aggregates over millions of events sort and hash far more than
# the default 4 MB of working memory holds (they spilled to disk), and JIT compilation
# costs more than it saves on them. Set for the report's own transactions only (SET LOCAL).
POSTGRESQL_READING = {"work_mem": "256MB", "jit": "off"}


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            for name, value in POSTGRESQL_READING.items():
                conn.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
        if conn.dialect.name != "sqlite":
            yield conn
            return
        saved = {k: conn.exec_driver_sql(f"PRAGMA {k}").scalar() for k in SQLITE_READING}
        for k, v in SQLITE_READING.items():
            conn.exec_driver_sql(f"PRAGMA {k}={int(v)}")
        try:
            yield conn
        finally:
            conn.rollback()
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


def _raw_day(column: Any) -> ColumnElement[Any]:
    """A date column as the driver returns it: many rows come back, and SQLAlchemy parses
    each SQLite date with a regular expression; :func:`_day` is much cheaper."""
    return type_coerce(column, String)


def _day(value: Any) -> date:
    """A date from SQLite's ISO text or PostgreSQL's date."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _self_service(actor: Any) -> ColumnElement[int]:
    return case((or_(actor.like("portal%"), actor.like("debtor%")), 1), else_=0)


# -- sums per key ---------------------------------------------------------------------

_temp_names = itertools.count(1)
_ONE = literal_column("1", Integer)


def _sum_by(conn: Connection, query: Select[*tuple[Any, ...]], keys: int) -> list[Any]:
    """The rows of ``query`` summed per its first ``keys`` columns.

    The same as ``SELECT key…, sum(value)… FROM (query) GROUP BY key…``, which is what
    PostgreSQL runs. SQLite would sort every row for that ``GROUP BY``; instead each row is
    added into a temporary table with one row per key (a row whose key has a NULL gets a
    row of its own there, and the final ``GROUP BY`` over that small table joins them).
    """
    names = [f"k{i}" if i < keys else f"v{i}" for i in range(len(query.selected_columns))]
    sub = query.with_only_columns(
        *(c.label(n) for c, n in zip(query.selected_columns, names, strict=True)),
        maintain_column_froms=True,
    ).subquery()
    cols = list(sub.c)
    if conn.dialect.name != "sqlite":
        grouped = cols[:keys]
        return list(
            conn.execute(select(*grouped, *(func.sum(c) for c in cols[keys:])).group_by(*grouped))
        )
    table = Table(
        f"report_sum_{next(_temp_names)}",
        MetaData(),
        *(Column(n, c.type) for n, c in zip(names, cols, strict=True)),
        UniqueConstraint(*names[:keys]),
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    with _dropped(conn, table.name):
        add = sqlite_insert(table).from_select(names, select(*cols).where(true()))
        add = add.on_conflict_do_update(
            index_elements=[table.c[n] for n in names[:keys]],
            set_={
                n: func.coalesce(table.c[n] + add.excluded[n], table.c[n], add.excluded[n])
                for n in names[keys:]
            },
        )
        conn.execute(add)
        grouped = [table.c[n] for n in names[:keys]]
        values = [func.sum(table.c[n]) for n in names[keys:]]
        return list(conn.execute(select(*grouped, *values).group_by(*grouped)))


# -- the jobs ---------------------------------------------------------------------------


def _counted_events(conn: Connection, s: _Scope, out: _Part) -> None:
    # Only a plan's start asks who did it: the other kinds never read the event row.
    selfish = case((Event.kind == "plan_started", _self_service(Event.actor)), else_=0)
    query = s.scoped(
        select(Case.creditor_id, Event.kind, selfish, _ONE).where(s.in_period(*COUNTED_KINDS))
    )
    for cid, kind, by_debtor, n in _sum_by(conn, query, 3):
        if s.known(cid) is None:
            continue
        t = out.sums[int(cid)]
        t.counts[COUNTED_KINDS[kind]] += int(n)
        if kind == "plan_started":
            t.wholes["self_service_share"] += int(n)
            t.parts["self_service_share"] += int(n) * int(by_debtor)


def _closes(conn: Connection, s: _Scope, out: _Part) -> None:
    """Closes (row by row: outcomes, time to resolution, debt-free) and handovers."""
    stage = Event.after["stage"].as_string()
    person = func.coalesce(Debtor.person_id, Debtor.id)
    query = s.scoped(
        select(
            Event.case_id,
            Case.creditor_id,
            _raw_day(Event.business_date),
            stage,
            Event.after["close_reason"].as_string(),
            _raw_day(Case.opened_on),
            person,
            Debtor.kind,
        ).where(s.in_period("transition"), stage.in_(("closed", "legal_handover")))
    ).join(Debtor, Debtor.id == Case.debtor_id)
    vulnerable = _vulnerable_cases(conn, s)
    seen: set[int] = set()
    closes: list[tuple[int, int, date, str | None, date, int, str]] = []
    # .all(): one fetch of every row; iterating the result fetches row by row (slow).
    for case_id, cid, day, to_stage, reason, opened, who, kind in conn.execute(query).all():
        if s.known(cid) is None:
            continue
        on, opened_on = _day(day), _day(opened)
        t = out.sums[int(cid)]
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
            "resolution_days_vulnerable" if int(case_id) in vulnerable else "resolution_days_other"
        )
        t.days[which][(on - opened_on).days] += 1
        closes.append((int(case_id), int(cid), on, reason, opened_on, int(who), kind))
    _debt_free(conn, s, closes, out)


def _vulnerable_cases(conn: Connection, s: _Scope) -> set[int]:
    """Cases that had a vulnerability-review hold on or before the period's end."""
    holds = Event.after["holds"].as_string()
    query = (
        select(Event.case_id)
        .distinct()
        .where(
            Event.kind == "hold_placed",
            Event.business_date <= s.hi,
            holds.like("%vulnerability_review%"),
        )
    )
    if s.only is not None:
        query = s.scoped(query)
    return {int(r) for r in conn.execute(query).scalars().all()}


def _handled(conn: Connection, s: _Scope, out: _Part) -> None:
    opened = select(Case.creditor_id, _ONE).where(Case.opened_on <= s.hi)
    if s.only is not None:
        opened = opened.where(Case.creditor_id == s.only)
    for cid, n in _sum_by(conn, opened, 1):
        if s.known(cid) is not None:
            out.sums[int(cid)].counts["dossiers_handled"] += int(n)
    stage = Event.after["stage"].as_string()
    closed_before = s.scoped(
        select(Case.creditor_id, func.count(distinct(Event.case_id)))
        .where(Event.kind == "transition", Event.business_date < s.lo, stage == "closed")
        .group_by(Case.creditor_id)
    )
    for cid, n in conn.execute(closed_before):
        if s.known(cid) is not None:
            out.sums[int(cid)].counts["dossiers_handled"] -= int(n)


def _payments(conn: Connection, s: _Scope, out: _Part) -> None:
    amount = Event.after["amount_cents"].as_integer()
    query = s.scoped(
        select(Case.creditor_id, Event.business_date, Event.kind, amount).where(
            s.in_period("payment_received", "payment_reversed")
        )
    )
    for cid, on, kind, cents in _sum_by(conn, query, 3):
        if s.known(cid) is None:
            continue
        signed = int(cents or 0) * (1 if kind == "payment_received" else -1)
        cur = s.currency(int(cid))
        t = out.sums[int(cid)]
        t.cents[("amount_collected", cur)] += signed
        t.months[(on.isoformat()[:7], cur)] += signed


def _holds(conn: Connection, s: _Scope, out: _Part) -> None:
    """Placed and lifted holds: which kind changed is the difference of the lists."""
    before = Event.before["holds"].as_string()
    after = Event.after["holds"].as_string()
    selfish = _self_service(Event.actor)
    query = s.scoped(
        select(Case.creditor_id, Event.kind, before, after, selfish, func.count())
        .where(s.in_period("hold_placed", "hold_lifted"))
        .group_by(Case.creditor_id, Event.kind, before, after, selfish)
    )
    for cid, kind, was, now, by_debtor, n in conn.execute(query):
        if s.known(cid) is None:
            continue
        t = out.sums[int(cid)]
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


def _interest_frozen(conn: Connection, s: _Scope, out: _Part) -> None:
    frozen = or_(
        Event.after["interest_frozen"].as_boolean() == true(),
        Event.reason.like("%interest frozen%"),
    )
    query = s.scoped(
        select(Case.creditor_id, func.count(distinct(Event.case_id)))
        .where(
            s.in_period("hold_placed", "plan_started"),
            or_(Event.kind == "hold_placed", frozen),
        )
        .group_by(Case.creditor_id)
    )
    for cid, n in conn.execute(query):
        if s.known(cid) is not None:
            out.sums[int(cid)].counts["interest_frozen_dossiers"] += int(n)


def _amount_events(conn: Connection, s: _Scope, out: _Part) -> None:
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
    query = s.scoped(
        select(Case.creditor_id, Event.kind, result, _ONE, cents).where(s.in_period(*kinds))
    )
    for cid, kind, result, n, total in _sum_by(conn, query, 3):
        if s.known(cid) is None:
            continue
        t = out.sums[int(cid)]
        cur = s.currency(int(cid))
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


def _waivers(conn: Connection, s: _Scope, out: _Part) -> None:
    query = (
        select(Case.creditor_id, CostWaiver.reason, func.sum(CostWaiver.amount_cents))
        .join(Case, Case.id == CostWaiver.case_id)
        .where(CostWaiver.on_date >= s.lo, CostWaiver.on_date <= s.hi)
        .group_by(Case.creditor_id, CostWaiver.reason)
    )
    if s.only is not None:
        query = query.where(Case.creditor_id == s.only)
    for cid, reason, total in conn.execute(query):
        if s.known(cid) is None:
            continue
        cur = s.currency(int(cid))
        t = out.sums[int(cid)]
        t.cents[("costs_not_charged", cur)] += int(total or 0)
        metric = WAIVER_METRIC.get(str(reason), "costs_not_charged_waived")
        t.cents[(metric, cur)] += int(total or 0)


def _plans_kept(conn: Connection, s: _Scope, out: _Part) -> None:
    """Plans started up to 12 months before the period (their marks may fall in it)."""
    plan = Event.after["plan"].as_integer()
    earliest = add_months(s.lo, -12)
    starts: dict[int, list[tuple[tuple[int, int], date]]] = defaultdict(list)
    query = s.scoped(
        select(Case.creditor_id, Event.case_id, plan, _raw_day(Event.business_date)).where(
            Event.kind == "plan_started",
            Event.business_date >= earliest,
            Event.business_date <= s.hi,
        )
    )
    for cid, case_id, plan_id, on in conn.execute(query).all():
        if s.known(cid) is not None:
            starts[int(cid)].append(((int(case_id), int(plan_id or 0)), _day(on)))
    breaks: dict[tuple[int, int], date] = {}
    query = s.scoped(
        select(Event.case_id, plan, _raw_day(Event.business_date)).where(
            Event.kind == "plan_broken",
            Event.business_date >= earliest,
            Event.business_date <= s.hi,
        )
    )
    for case_id, plan_id, day in conn.execute(query).all():
        key, on = (int(case_id), int(plan_id or 0)), _day(day)
        breaks[key] = min(on, breaks.get(key, on))
    for cid, rows in starts.items():
        t = out.sums[cid]
        for months in (3, 6, 12):
            kept, reached = kept_counts(rows, breaks, months, s.lo, s.hi)
            t.parts[f"arrangements_kept_{months}m"] += kept
            t.wholes[f"arrangements_kept_{months}m"] += reached
        for key, on in rows:
            if s.lo <= on <= s.hi:
                t.wholes["arrangements_kept_to_date"] += 1
                t.parts["arrangements_kept_to_date"] += key not in breaks


def _small(conn: Connection, s: _Scope, out: _Part) -> None:
    """The jobs that read little, one after the other on one connection."""
    for job in (_handled, _holds, _interest_frozen, _waivers, _plans_kept):
        job(conn, s, out)


# -- debt-free ----------------------------------------------------------------------


def _spans(
    conn: Connection, s: _Scope, closes: list[tuple[int, int, date, str | None, date, int, str]]
) -> list[tuple[int, CaseSpan, str]]:
    """Every dossier of the people who closed one as paid or settled in the period.

    ``closes`` are the period's closes (case id, creditor id, day, reason, opened on,
    person, debtor kind). Returns (creditor id, span, debtor kind). A person with one
    dossier needs nothing more than the close itself; only people with several are looked
    up further.
    """
    candidates = {who for (_, _, _, reason, _, who, _) in closes if reason in ("paid", "settled")}
    out = [
        (cid, CaseSpan(who, opened_on, on, reason), kind)
        for (_, cid, on, reason, opened_on, who, kind) in closes
        if who in candidates
    ]
    if not candidates:
        return out
    known = {case_id for (case_id, *_) in closes}
    person = func.coalesce(Debtor.person_id, Debtor.id)
    several = (
        select(person.label("person"))
        .select_from(Case)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.opened_on <= s.hi)
        .group_by(person)
        .having(func.count() > 1)
    )
    # The cases of people with several (one query), and when those closed: in the period
    # (known already) or before it (one range read of earlier closes).
    query = (
        select(Case.id, Case.creditor_id, person, _raw_day(Case.opened_on), Debtor.kind)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.opened_on <= s.hi, person.in_(several.scalar_subquery()))
    )
    others = [
        (int(i), int(c), int(p), _day(o), str(k))
        for i, c, p, o, k in conn.execute(query).all()
        if int(p) in candidates and int(i) not in known
    ]
    closed: dict[int, tuple[date, str | None]] = {
        case_id: (on, reason) for (case_id, _, on, reason, *_) in closes
    }
    if others:
        stage = Event.after["stage"].as_string()
        closing = select(
            Event.case_id, Event.business_date, Event.after["close_reason"].as_string()
        ).where(Event.kind == "transition", Event.business_date < s.lo, stage == "closed")
        wanted = {o[0] for o in others}
        for case_id, on, reason in conn.execute(closing).all():
            if int(case_id) in wanted:
                closed.setdefault(int(case_id), (on, reason))
    for case_id, cid, who, opened_on, kind in others:
        on, reason = closed.get(case_id, (None, None))
        out.append((cid, CaseSpan(who, opened_on, on, reason), kind))
    return out


def _debt_free(
    conn: Connection,
    s: _Scope,
    closes: list[tuple[int, int, date, str | None, date, int, str]],
    out: _Part,
) -> None:
    """People who became debt-free: towards each creditor, and towards all (the agency)."""
    spans = _spans(conn, s, closes)
    kind_of = {sp.person: k for (_, sp, k) in spans if sp.close_reason in ("paid", "settled")}
    by_creditor: dict[int, list[CaseSpan]] = defaultdict(list)
    for cid, span, _ in spans:
        by_creditor[cid].append(span)
    for cid, rows in by_creditor.items():
        if s.known(cid) is None:
            continue
        t = out.own[cid]
        for who, _ in debt_free_days(rows, s.lo, s.hi):
            t.counts[_debt_free_metric(kind_of.get(who))] += 1
    for who, _ in debt_free_days((sp for (_, sp, _) in spans), s.lo, s.hi):
        out.agency.counts[_debt_free_metric(kind_of.get(who))] += 1


# -- messages and guardrail decisions -------------------------------------------------

AGENCY_ROW = -1


def _messages(conn: Connection, s: _Scope, out: _Part) -> None:
    """Messages per creditor and for the agency (where a message that carries several
    creditors' cases counts once): distinct (creditor, message, channel, B1) and distinct
    (message, channel, B1)."""
    params = {"lo": s.lo, "hi": s.hi, "cid": s.only}
    if conn.dialect.name == "sqlite":
        rows = _sqlite_distinct(conn, _SQLITE_MESSAGES, s.only is not None, params)
    else:
        rows = [
            (AGENCY_ROW, ch, b1, n) if agency else (cid, ch, b1, n + missing)
            for agency, cid, ch, b1, n, missing in conn.execute(
                text(_pg_messages(s.only is not None)), params
            )
        ]
    for cid, channel, b1, n in rows:
        if int(cid) == AGENCY_ROW:
            _add_messages(out.agency, channel, int(b1 or 0), int(n))
        elif int(cid) in s.creditors:
            _add_messages(out.own[int(cid)], channel, int(b1 or 0), int(n))


def _contacts(conn: Connection, s: _Scope, out: _Part) -> None:
    """Deferred and blocked contacts: distinct (creditor, kind, message, day) per creditor,
    distinct (kind, message, day) for the agency."""
    params = {"lo": s.lo, "hi": s.hi, "cid": s.only}
    if conn.dialect.name == "sqlite":
        rows = _sqlite_distinct(conn, _SQLITE_CONTACTS, s.only is not None, params)
    else:
        rows = list(conn.execute(text(_pg_contacts(s.only is not None)), params))
    for cid, kind, _, n in rows:
        key = "contacts_deferred" if kind == "contact_deferred" else "contacts_blocked"
        if int(cid) == AGENCY_ROW:
            out.agency.counts[key] += int(n)
        elif int(cid) in s.creditors:
            out.own[int(cid)].counts[key] += int(n)


_PERIOD = "e.business_date >= :lo AND e.business_date <= :hi"
_ONE_CREDITOR = " AND c.creditor_id = :cid"


@dataclass(frozen=True, slots=True)
class _Distinct:
    """How SQLite counts distinct (creditor, key…) per creditor and distinct (key…).

    ``fill`` selects (``a``, ``b``, ``c``, creditor) per event; ``a`` is the message id
    (nearly ascending in timeline order, so the table keyed by it fills cheaply). Rows come
    back as (creditor or AGENCY_ROW, ``b``, ``c``, count).
    """

    columns: str  # a, b, c
    fill: str  # SELECT a, b, c, cid FROM … (constants only; dates and creditor bound)
    agency_counts_missing: bool  # whether a row without ``a`` counts for the agency


# NULL cannot be part of a WITHOUT ROWID key: a missing field becomes the empty blob, which
# no JSON value equals, so it still counts as one value of its own (as GROUP BY does).
_MID = "coalesce(json_extract(e.after, '$.message_id'), x'')"
_SQLITE_MESSAGES = _Distinct(
    "mid, ch, b1",
    f"SELECT {_MID}, coalesce(json_extract(e.after, '$.channel'), x''), "  # noqa: S608
    "CASE WHEN json_extract(e.after, '$.b1') = 1 THEN 1 ELSE 0 END, c.creditor_id "
    f"FROM events e JOIN cases c ON c.id = e.case_id WHERE e.kind = 'message_sent' AND {_PERIOD}",
    agency_counts_missing=False,  # count(DISTINCT message_id) leaves NULL out
)
_SQLITE_CONTACTS = _Distinct(
    "mid, kind, day",
    f"SELECT {_MID}, e.kind, e.business_date, c.creditor_id "  # noqa: S608
    "FROM events e JOIN cases c ON c.id = e.case_id "
    f"WHERE e.kind IN ('contact_deferred', 'contact_blocked') AND {_PERIOD}",
    agency_counts_missing=True,  # SELECT DISTINCT keeps NULL as a value
)


def _sqlite_distinct(
    conn: Connection, q: _Distinct, one_creditor: bool, params: dict[str, Any]
) -> list[Any]:
    n = next(_temp_names)
    keys, counts = f"report_keys_{n}", f"report_counts_{n}"
    a, b, c = (x.strip() for x in q.columns.split(","))
    which = "true" if q.agency_counts_missing else f"{a} IS NOT x''"
    statements = [
        f"CREATE TEMP TABLE {keys} ({a}, {b}, {c}, cid, "
        f"PRIMARY KEY ({a}, {b}, {c}, cid)) WITHOUT ROWID",
        f"CREATE TEMP TABLE {counts} (cid, {b}, {c}, n, UNIQUE (cid, {b}, {c}))",
        f"INSERT OR IGNORE INTO {keys} {q.fill}{_ONE_CREDITOR if one_creditor else ''}",
        # Per creditor: every distinct row once.
        f"INSERT INTO {counts} SELECT cid, {b}, {c}, 1 FROM {keys} WHERE true "  # noqa: S608
        "ON CONFLICT DO UPDATE SET n = n + 1",
        # The agency: every distinct (a, b, c) once; the table's key order groups them.
        f"INSERT INTO {counts} SELECT {AGENCY_ROW}, {b}, {c}, 1 FROM {keys} "  # noqa: S608
        f"WHERE {which} "
        f"GROUP BY {a}, {b}, {c} ON CONFLICT DO UPDATE SET n = n + 1",
    ]
    with _dropped(conn, keys, counts):
        for sql in statements:
            conn.execute(text(sql), params if "INSERT OR IGNORE" in sql else {})
        result = text(f"SELECT cid, {b}, {c}, n FROM {counts}")  # noqa: S608
        return [(cid, _text(x), y, cnt) for cid, x, y, cnt in conn.execute(result)]


@contextmanager
def _dropped(conn: Connection, *tables: str) -> Iterator[None]:
    """Drop the report's temporary tables afterwards (outside the transaction that wrote
    them, which is rolled back: the report never writes anything else)."""
    try:
        yield
    finally:
        conn.rollback()
        for table in tables:
            conn.execute(text(f"DROP TABLE IF EXISTS temp.{table}"))
        conn.commit()


def _text(value: Any) -> Any:
    """The stand-in for a missing field (the empty blob) read back as None."""
    return None if isinstance(value, bytes) else value


def _pg_messages(one_creditor: bool) -> str:
    """Per creditor and for the agency in one pass (grouping sets): distinct message ids,
    plus one for a group that has events without an id (as the distinct rows of SQLite's
    way count them); the agency row (``GROUPING(creditor_id) = 1``) leaves those out."""
    mid = "CAST(e.after ->> 'message_id' AS BIGINT)"
    scope = _ONE_CREDITOR if one_creditor else ""
    return (
        "SELECT GROUPING(c.creditor_id), c.creditor_id, (e.after ->> 'channel'), "  # noqa: S608
        "CASE WHEN (e.after ->> 'b1') = 'true' THEN 1 ELSE 0 END, "
        f"count(DISTINCT {mid}), "
        "max(CASE WHEN (e.after ->> 'message_id') IS NULL THEN 1 ELSE 0 END) "
        "FROM events e JOIN cases c ON c.id = e.case_id "
        f"WHERE e.kind = 'message_sent' AND {_PERIOD}{scope} "
        "GROUP BY GROUPING SETS ((c.creditor_id, 3, 4), (3, 4))"
    )


def _pg_contacts(one_creditor: bool) -> str:
    mid = "CAST(e.after ->> 'message_id' AS BIGINT)"
    scope = _ONE_CREDITOR if one_creditor else ""
    return (
        "WITH d AS MATERIALIZED (SELECT DISTINCT c.creditor_id AS cid, e.kind AS kind, "  # noqa: S608
        f"{mid} AS mid, e.business_date AS day FROM events e JOIN cases c ON c.id = e.case_id "
        f"WHERE e.kind IN ('contact_deferred', 'contact_blocked') AND {_PERIOD}{scope}) "
        "SELECT cid, kind, NULL, count(*) FROM d GROUP BY cid, kind "
        f"UNION ALL SELECT {AGENCY_ROW}, kind, NULL, count(*) FROM "
        "(SELECT DISTINCT kind, mid, day FROM d) AS x GROUP BY kind"
    )


def _add_messages(t: _Tally, channel: Any, b1: int, n: int) -> None:
    t.counts["messages_sent"] += n
    if channel in CHANNELS:
        t.counts[f"messages_{channel}"] += n
    t.wholes["messages_b1_share"] += n
    t.parts["messages_b1_share"] += n * b1


def _debt_free_metric(kind: str | None) -> str:
    return "debt_free_business" if kind == "business" else "debt_free_private"


def _hold_set(value: str | None) -> frozenset[str]:
    return frozenset(h for h in (value or "").split(",") if h)


# The jobs, the longest first (two connections take them in this order).
JOBS: tuple[Job, ...] = (
    _messages,
    _closes,
    _contacts,
    _small,
    _payments,
    _counted_events,
    _amount_events,
)
