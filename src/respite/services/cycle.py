"""The nightly collection cycle: ``respite cycle --date YYYY-MM-DD``.

For every open case, for one business date D:

1. **Interest** accrues on each claim over ``[interest_accrued_to, D)`` at the statutory
   rates of its jurisdiction, unless the case is frozen or on hold (then the days simply
   pass). Accrual is kept exactly, in integer micro-cents; it is posted to the ledger in
   whole cents when a month ends, on each anniversary of default (where NL capitalises it,
   art. 6:119 lid 2 BW) and before a payment is allocated. Nightly accrual therefore adds up
   to the calculator's figure for the same period (within the final cent's rounding).
   On a frozen or held night the same rates and base give what *would* have accrued; it is
   kept per claim (``frozen_interest_micros``) and recorded as one ``interest_not_charged``
   event per case, in whole cents, when a month ends, when the freeze or hold ends and when
   the case closes (:func:`_record_not_charged`).
2. **Collection costs** are charged once per claim, only from ``costs_chargeable_from``
   (set when the formal notice went out, by the jurisdiction's term rule; at once where the
   law needs no notice, e.g. NL business debtors), by the jurisdiction's aggregation rule
   over the claims still uncharged, on their *open* principal — so a partial payment inside
   the term lowers the costs (HR 2016:2704).
3. **Payment plans** are followed up once per date (shard 0, :func:`follow_up_plans`): an
   instalment unpaid after the grace period is marked missed with a friendly reminder, a
   re-plan is offered some days later, and a plan breaks only after the policy's number of
   misses (the cases return to amicable collection and their interest runs again).
4. **The strategy** (``src/respite/strategies``) fires the steps that are due: one outbox
   action each, and at most one move to the next stage, checked against the lifecycle.
5. A case whose every claim is paid is **closed** (paid).

Safety: cases are processed in batches of ``batch_size``; each batch is one transaction
that also sets ``last_cycle_date = D`` on its cases. So a second run for D finds nothing to
do (idempotent), and a run killed at any point leaves whole batches done or not done — a
new run finishes exactly the rest (crash-safe). A run for a date before a case's last
cycle is refused. Work is split into shards ``id % shards == shard`` so that several
workers (``--executor celery``) can share one date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update

from respite.adapters.db.models import (
    Case,
    Claim,
    CostWaiver,
    Creditor,
    CycleRun,
    Debtor,
    Event,
    Hold,
    LedgerEntry,
)
from respite.domain.interest import DayCount, add_years
from respite.domain.lifecycle import TRANSITIONS, CloseReason, Stage
from respite.domain.money import Currency, Money, allocate_pro_rata
from respite.domain.notice import Channel
from respite.domain.strategy import Step, Strategy, due_steps
from respite.errors import ConflictError, InputError, NotAllowed, RuleCoverageError
from respite.rules.loader import load_pack
from respite.rules.packs import CostMethod, RulePack
from respite.services.calculators import cost_date, costs_per_claim
from respite.services.compliance import blocked_cases
from respite.services.plans import follow_up_plans
from respite.services.screening import screen_pending
from respite.services.store import (
    MICROS,
    chunks,
    event_row,
    ledger_row,
    outbox_row,
    post_accrued_interest,
    queue_outbox,
)
from respite.strategies import load_strategy

__all__ = ["CycleReport", "pending_cases", "run_cycle"]

ACTOR = "cycle"
DEFAULT_GRACE_DAYS = 5


@dataclass
class CycleReport:
    business_date: date
    shard: int
    shards: int
    cases: int = 0
    batches: int = 0
    interest_posted_cents: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Interest a freeze or hold kept off the ledger, recorded tonight (see _record_not_charged).
    interest_not_charged_cents: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    costs_charged_cents: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    transitions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    actions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    missed_instalments: int = 0
    plans: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    closed: int = 0
    reviews: int = 0
    # A rule table that does not cover the night: interest waits (exactly, it catches up
    # once the row is added) and every other part of the cycle goes on. Claims per message.
    warnings: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def merge(self, other: CycleReport) -> None:
        self.cases += other.cases
        self.batches += other.batches
        for mine, theirs in (
            (self.interest_posted_cents, other.interest_posted_cents),
            (self.interest_not_charged_cents, other.interest_not_charged_cents),
            (self.costs_charged_cents, other.costs_charged_cents),
            (self.transitions, other.transitions),
            (self.actions, other.actions),
        ):
            for k, v in theirs.items():
                mine[k] += v
        for k, v in other.warnings.items():
            self.warnings[k] += v
        self.missed_instalments += other.missed_instalments
        for k, v in other.plans.items():
            self.plans[k] = self.plans.get(k, 0) + v
        self.closed += other.closed
        self.reviews += other.reviews

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date.isoformat(),
            "shard": self.shard,
            "shards": self.shards,
            "cases": self.cases,
            "batches": self.batches,
            "interest_posted": {
                k: _cents(v) for k, v in sorted(self.interest_posted_cents.items())
            },
            "interest_not_charged": {
                k: _cents(v) for k, v in sorted(self.interest_not_charged_cents.items())
            },
            "costs_charged": {k: _cents(v) for k, v in sorted(self.costs_charged_cents.items())},
            "transitions": dict(sorted(self.transitions.items())),
            "actions": dict(sorted(self.actions.items())),
            "missed_instalments": self.missed_instalments,
            "plans": dict(sorted(self.plans.items())),
            "closed": self.closed,
            "reviews": self.reviews,
            "warnings": dict(sorted(self.warnings.items())),
        }


def _cents(v: int) -> str:
    return str(Money.from_minor_units(v, Currency.EUR))


def _pending(on: date, shard: int, shards: int) -> Any:
    return and_(
        Case.closed.is_(False),
        or_(Case.last_cycle_date.is_(None), Case.last_cycle_date < on),
        (Case.id % shards) == shard,
    )


def pending_cases(engine: Engine, on: date, *, shard: int = 0, shards: int = 1) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Case).where(_pending(on, shard, shards))
            ).scalar()
            or 0
        )


def run_cycle(
    engine: Engine,
    on: date,
    *,
    shard: int = 0,
    shards: int = 1,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    after_batch: Callable[[int], None] | None = None,
) -> CycleReport:
    """Run one shard of the cycle for business date ``on``; see the module docstring."""
    if not 0 <= shard < shards:
        raise InputError(f"shard must be between 0 and {shards - 1}", field="--shard")
    with engine.connect() as conn:
        later = conn.execute(select(func.max(Case.last_cycle_date))).scalar()
    if later is not None and later > on:
        raise ConflictError(
            f"the cycle already ran for {later.isoformat()}; it cannot run for the earlier "
            f"date {on.isoformat()}"
        )
    _mark_run(engine, on, shard, shards, "running", now())
    report = CycleReport(on, shard, shards)
    if shard == 0:
        # Plans span cases (and creditors), so they are followed up once per date, not
        # per batch of cases: shard 0 does it, before the cases' own steps.
        with engine.begin() as conn:
            plans = follow_up_plans(conn, on, now())
        report.missed_instalments += plans["reminders"] + plans["broken"]
        report.plans.update(plans)
    after_id = 0
    ctx = _Context(on, shard, shards)
    while True:
        with engine.begin() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(Case.id)
                    .where(_pending(on, shard, shards), Case.id > after_id)
                    .order_by(Case.id)
                    .limit(batch_size)
                )
            ]
            if not ids:
                break
            _process_batch(conn, ids, ctx, report, now())
            # Counted in the batch's own transaction, so a killed worker's work still counts.
            conn.execute(
                update(CycleRun)
                .where(CycleRun.business_date == on, CycleRun.shard == shard)
                .values(cases=CycleRun.cases + len(ids))
            )
            after_id = ids[-1]
        report.cases += len(ids)
        report.batches += 1
        if progress:
            progress(len(ids))
        if after_batch:
            after_batch(report.batches)
    # Cases that entered legal_screening (tonight or earlier) are screened; a person decides.
    for outcome, count in screen_pending(engine, on, at=now(), shard=shard, shards=shards).items():
        report.actions[f"screening:{outcome}"] += count
    _mark_run(engine, on, shard, shards, "done", now())
    return report


def _mark_run(engine: Engine, on: date, shard: int, shards: int, status: str, at: datetime) -> None:
    with engine.begin() as conn:
        found = conn.execute(
            select(CycleRun.status).where(CycleRun.business_date == on, CycleRun.shard == shard)
        ).first()
        if found is None:
            conn.execute(
                insert(CycleRun).values(
                    business_date=on,
                    shard=shard,
                    shards=shards,
                    status=status,
                    started_at=at,
                    cases=0,
                )
            )
        else:
            values: dict[str, Any] = {"status": status}
            if status == "done":
                values.update(finished_at=at)
            else:
                values.update(started_at=at)
            conn.execute(
                update(CycleRun)
                .where(CycleRun.business_date == on, CycleRun.shard == shard)
                .values(**values)
            )


# --- the per-batch work -------------------------------------------------------------


class _Context:
    """Caches that hold for one business date: rule packs, rates, strategies, notice dates."""

    def __init__(self, on: date, shard: int, shards: int) -> None:
        self.on = on
        self.shard = shard
        self.shards = shards
        self.rates: dict[tuple[str, str, date, date], int] = {}
        self.creditors: dict[int, dict[str, Any]] = {}
        self.notice: dict[tuple[str, date, str], date] = {}
        self.strategies: dict[tuple[str, int], tuple[Strategy, dict[Stage, tuple[int, ...]]]] = {}

    def strategy(self, name: str, version: int) -> tuple[Strategy, dict[Stage, tuple[int, ...]]]:
        """The case's own strategy version, with its step days by stage (computed once)."""
        key = (name, version)
        if key not in self.strategies:
            loaded = load_strategy(name, version)
            self.strategies[key] = (loaded, _step_days(loaded))
        return self.strategies[key]

    def rate_num(self, pack: RulePack, kind: str, start: date, end: date) -> int:
        """Σ rate-in-basis-points × days over [start, end): the integer heart of accrual."""
        key = (pack.code, kind, start, end)
        found = self.rates.get(key)
        if found is None:
            rule = pack.interest_kind(kind)
            if rule.day_count is not DayCount.ACT_365:
                raise NotAllowed(f"the cycle accrues act/365 interest only ({pack.code} {kind})")
            total = 0
            for seg in rule.rates.segments(start, end):
                bp = seg.row.value * 100
                if bp != bp.to_integral_value():
                    raise NotAllowed(
                        f"{pack.code} rate {seg.row.value}% has more than two decimals"
                    )
                total += int(bp) * seg.days
            self.rates[key] = found = total
        return found

    def costs_from(self, pack: RulePack, sent: date, channel: str) -> date:
        key = (pack.code, sent, channel)
        if key not in self.notice:
            result = cost_date(pack.code, sent, Channel.of(channel))
            self.notice[key] = date.fromisoformat(result["costs_chargeable_from"])
        return self.notice[key]


CLAIM_COLUMNS = (
    Claim.id,
    Claim.case_id,
    Claim.currency,
    Claim.interest_kind,
    Claim.default_start,
    Claim.due_date,
    Claim.interest_accrued_to,
    Claim.interest_carry_micros,
    Claim.interest_year_cents,
    Claim.capitalised_cents,
    Claim.costs_charged,
    Claim.open_principal_cents,
    Claim.open_interest_cents,
    Claim.open_costs_cents,
    Claim.credit_cents,
    Claim.last_seq,
    Claim.principal_cents,
    Claim.frozen_interest_micros,
    Claim.frozen_interest_from,
)
CLAIM_STATE = (
    "interest_accrued_to",
    "interest_carry_micros",
    "interest_year_cents",
    "capitalised_cents",
    "costs_charged",
    "open_interest_cents",
    "open_costs_cents",
    "last_seq",
    "frozen_interest_micros",
    "frozen_interest_from",
)


def _process_batch(
    conn: Connection, ids: Sequence[int], ctx: _Context, report: CycleReport, at: datetime
) -> None:
    on = ctx.on
    lo, hi = ids[0], ids[-1]
    in_batch = and_(Case.id >= lo, Case.id <= hi)
    pending_args = (lo, hi, False, on, ctx.shards, ctx.shard)
    cases = {int(r["id"]): r for r in _raw_rows(conn, CASES_SQL, pending_args, CASE_DATES)}
    held = {
        int(r[0])
        for r in conn.execute(
            select(Hold.case_id).where(
                Hold.case_id >= lo,
                Hold.case_id <= hi,
                Hold.start <= on,
                or_(Hold.until.is_(None), Hold.until >= on),
            )
        )
    }
    blocked = blocked_cases(conn, cases, on, at)  # Wki: no action without a registration
    claims_by_case: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _raw_rows(conn, CLAIMS_SQL, (lo, hi), CLAIM_DATES):
        if row["case_id"] in cases:
            claims_by_case[int(row["case_id"])].append(row)
    _load_creditors(conn, ctx, {c["creditor_id"] for c in cases.values()})
    accounts = _cost_accounts(conn, cases, claims_by_case, held, ctx)

    ledger: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    case_updates: dict[int, dict[str, Any]] = {}
    waivers: list[dict[str, Any]] = []

    for case_id, case in cases.items():
        creditor = ctx.creditors[case["creditor_id"]]
        pack: RulePack = creditor["pack"]
        claims = claims_by_case.get(case_id, [])
        on_hold = case_id in held
        frozen = on_hold or bool(case["interest_frozen"])
        for claim in claims:
            _accrue(claim, pack, ctx, frozen, ledger, report)
        if on_hold or case_id in blocked:
            # Holds stop the clock: a held night does not count toward the strategy's
            # waits, so the effective start of the stage moves on with the calendar.
            last = case["last_cycle_date"]
            held_days = (on - last).days if last is not None else 1
            case_updates.setdefault(case_id, {})["stage_since"] = case["stage_since"] + timedelta(
                days=held_days
            )
        else:
            _charge_costs(
                case,
                claims,
                creditor,
                ctx,
                ledger,
                events,
                outbox,
                case_updates,
                report,
                at,
                accounts,
                waivers,
            )
            _run_strategy(case, claims, creditor, ctx, events, outbox, case_updates, report, at)
        forgiven = (
            bool(creditor["write_off_cents"])
            and bool(claims)
            and _write_off_small_balance(
                case, claims, creditor["write_off_cents"], on, ledger, events, at
            )
        )
        if claims and all(_settled(c) for c in claims) and case["stage"] != Stage.CLOSED:
            _close_paid(case, on, events, outbox, case_updates, report, at, forgiven=forgiven)
        if claims:
            closing = bool(case_updates.get(case_id, {}).get("closed"))
            _record_not_charged(case_id, claims, on, frozen, closing, events, report, at)

    _flush(conn, claims_by_case, ledger, events, outbox, case_updates)
    if waivers:
        conn.execute(insert(CostWaiver), waivers)
    # Last: the natural key that makes this batch done for D (the same cases as selected:
    # every pending case of this shard with an id in [lo, hi]).
    conn.execute(
        update(Case).where(in_batch, _pending(on, ctx.shard, ctx.shards)).values(last_cycle_date=on)
    )


CASES_SQL = (
    "SELECT c.id, c.creditor_id, c.stage, c.stage_since, c.last_cycle_date, c.interest_frozen,"
    " c.costs_chargeable_from, c.strategy_version, d.kind AS debtor_kind,"
    " COALESCE(d.person_id, d.id) AS person"
    " FROM cases c JOIN debtors d ON d.id = c.debtor_id"
    " WHERE c.id BETWEEN ? AND ? AND c.closed = ?"
    " AND (c.last_cycle_date IS NULL OR c.last_cycle_date < ?) AND c.id % ? = ?"
)
CASE_DATES = ("stage_since", "last_cycle_date", "costs_chargeable_from")
CLAIMS_SQL = (
    f"SELECT {', '.join(c.key for c in CLAIM_COLUMNS)} FROM claims WHERE case_id BETWEEN ? AND ?"  # noqa: S608
)
CLAIM_DATES = ("default_start", "due_date", "interest_accrued_to", "frozen_interest_from")


def _raw_rows(
    conn: Connection, sql: str, params: tuple[Any, ...], date_columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The two big reads of a batch, straight from the driver.

    SQLAlchemy parses each SQLite date with a regular expression; a night reads millions
    of them, so here SQLite's ISO strings go through ``date.fromisoformat`` instead.
    PostgreSQL returns dates already. Booleans come back as 0/1 from SQLite, which the
    cycle only tests for truth.
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        params = tuple(p.isoformat() if isinstance(p, date) else p for p in params)
    else:
        sql = sql.replace("%", "%%").replace("?", "%s")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        keys = [d[0] for d in cursor.description]
        rows = [dict(zip(keys, r, strict=True)) for r in cursor.fetchall()]
    finally:
        cursor.close()
    if sqlite:
        parse = date.fromisoformat
        for row in rows:
            for col in date_columns:
                value = row[col]
                if value is not None:
                    row[col] = parse(value)
    return rows


def _executemany(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk statements straight through the DB-API: SQLAlchemy's per-row parameter
    processing costs more than the database itself here. ``sql`` uses ``?`` markers."""
    if not rows:
        return
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("%", "%%").replace("?", "%s")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _load_creditors(conn: Connection, ctx: _Context, wanted: set[int]) -> None:
    missing = wanted - ctx.creditors.keys()
    if not missing:
        return
    for r in conn.execute(
        select(
            Creditor.id,
            Creditor.jurisdiction,
            Creditor.vat_uplift_declared,
            Creditor.strategy,
            Creditor.policy,
        ).where(Creditor.id.in_(missing))
    ):
        policy = r.policy or {}
        ctx.creditors[int(r.id)] = {
            "pack": load_pack(r.jurisdiction),
            "vat": bool(r.vat_uplift_declared),
            "strategy_name": r.strategy,
            "grace_days": int(policy.get("grace_days", DEFAULT_GRACE_DAYS)),
            "write_off_cents": int(policy.get("small_balance_write_off_cents", 0)),
            # No cost stacking: one person's cases at one creditor share one aggregated
            # charge (default on), and an optional cap on all costs per person.
            "aggregate_costs": bool(policy.get("aggregate_costs_across_cases", True)),
            "max_costs_cents": (
                None
                if policy.get("max_costs_per_debtor_cents") is None
                else int(str(policy["max_costs_per_debtor_cents"]))
            ),
        }


def _accrue(
    claim: dict[str, Any],
    pack: RulePack,
    ctx: _Context,
    frozen: bool,
    ledger: list[dict[str, Any]],
    report: CycleReport,
) -> None:
    on = ctx.on
    start: date = claim["interest_accrued_to"]
    claim["night_from"] = start  # where tonight's days begin (not stored)
    if start >= on:
        return
    if frozen or claim["open_principal_cents"] == 0:
        if frozen and claim["open_principal_cents"] > 0:
            _not_charged(claim, pack, ctx, start, report)
        claim["interest_accrued_to"] = on  # frozen days pass without interest
        return
    kind = "commercial" if claim["interest_kind"] == "commercial" else "consumer"
    compounding = pack.interest_kind(kind).compounding.value == "anniversary"
    cursor = start
    while cursor < on:
        stop = on
        anniversary = None
        if compounding:
            anniversary = _next_anniversary(claim["default_start"], cursor)
            if anniversary <= on:
                stop = anniversary
            else:
                anniversary = None
        base = claim["open_principal_cents"] + min(
            claim["capitalised_cents"], claim["open_interest_cents"]
        )
        try:
            num = ctx.rate_num(pack, kind, cursor, stop)
        except RuleCoverageError as exc:
            report.warnings[f"interest not accrued: {exc}"] += 1
            claim["interest_accrued_to"] = cursor  # resumes from here once the rate is known
            return
        claim["interest_carry_micros"] += base * num * 100 // 365
        if anniversary is not None:
            _post_interest(
                claim, anniversary, ledger, report, "interest up to the anniversary of default"
            )
            # 6:119 lid 2 BW: the year's interest is added to the base for the next year.
            claim["capitalised_cents"] += claim["interest_year_cents"]
            claim["interest_year_cents"] = 0
        cursor = stop
    claim["interest_accrued_to"] = on
    if (start.year, start.month) != (on.year, on.month):
        _post_interest(claim, on, ledger, report, "interest for the month")


def _not_charged(
    claim: dict[str, Any], pack: RulePack, ctx: _Context, start: date, report: CycleReport
) -> None:
    """What ``[start, on)`` would have accrued had the dossier not been frozen or on hold.

    The rates, the base (open principal plus the capitalised interest still open) and the
    rounding of :func:`_accrue`, in micro-cents, without capitalising on an anniversary
    that falls in the freeze (nothing is capitalised while interest stands still).
    """
    kind = "commercial" if claim["interest_kind"] == "commercial" else "consumer"
    base = claim["open_principal_cents"] + min(
        claim["capitalised_cents"], claim["open_interest_cents"]
    )
    try:
        num = ctx.rate_num(pack, kind, start, ctx.on)
    except RuleCoverageError as exc:
        report.warnings[f"interest not charged not computed: {exc}"] += 1
        return
    claim["frozen_interest_micros"] += base * num * 100 // 365
    if claim["frozen_interest_from"] is None:
        claim["frozen_interest_from"] = start


def _record_not_charged(
    case_id: int,
    claims: list[dict[str, Any]],
    on: date,
    frozen: bool,
    closing: bool,
    events: list[dict[str, Any]],
    report: CycleReport,
    at: datetime,
) -> None:
    """Record the interest not charged on the case's frozen or held days so far.

    Once a month (the first night of the next month, as interest is posted), when the
    freeze or hold has ended and when the case closes: one ``interest_not_charged`` event
    per currency, dated tonight, with the whole cents over the days ``from``–``to``; the
    sub-cent rest of each claim stays carried into its next freeze.
    """
    started = [c["frozen_interest_from"] for c in claims if c["frozen_interest_from"] is not None]
    if not started:
        return
    since = min(started)
    if frozen and not closing and (since.year, since.month) == (on.year, on.month):
        return
    by_currency: dict[str, int] = defaultdict(int)
    # The last day counted: yesterday if tonight was frozen, else the day before tonight's
    # (charged) days began.
    last = since
    for claim in claims:
        if claim["frozen_interest_from"] is None:
            continue
        cents, claim["frozen_interest_micros"] = divmod(claim["frozen_interest_micros"], MICROS)
        claim["frozen_interest_from"] = None
        by_currency[claim["currency"]] += cents
        end = on if frozen else claim.get("night_from", on)
        last = max(last, end - timedelta(days=1))
    for currency, cents in sorted(by_currency.items()):
        if cents <= 0:
            continue
        report.interest_not_charged_cents[currency] += cents
        events.append(
            _event(
                case_id,
                on,
                at,
                "interest_not_charged",
                f"statutory interest not charged on frozen or held days "
                f"{since.isoformat()} to {last.isoformat()}",
                {},
                {
                    "amount_cents": cents,
                    "currency": currency,
                    "from": since.isoformat(),
                    "to": last.isoformat(),
                },
            )
        )


def _next_anniversary(default_start: date, after: date) -> date:
    years = after.year - default_start.year
    candidate = add_years(default_start, max(years, 1))
    while candidate <= after:
        years += 1
        candidate = add_years(default_start, years)
    return candidate


def _post_interest(
    claim: dict[str, Any], on: date, ledger: list[dict[str, Any]], report: CycleReport, memo: str
) -> None:
    row = post_accrued_interest(claim, on, memo)
    if row is not None:
        ledger.append(row)
        report.interest_posted_cents[claim["currency"]] += row["amount_cents"]


def _charge_costs(
    case: dict[str, Any],
    claims: list[dict[str, Any]],
    creditor: dict[str, Any],
    ctx: _Context,
    ledger: list[dict[str, Any]],
    events: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    case_updates: dict[int, dict[str, Any]],
    report: CycleReport,
    at: datetime,
    accounts: dict[tuple[int, int], _CostAccount] | None = None,
    waivers: list[dict[str, Any]] | None = None,
) -> None:
    on = ctx.on
    pack: RulePack = creditor["pack"]
    uncharged = [c for c in claims if not c["costs_charged"]]
    if not uncharged:
        return
    rule = pack.costs_for(case["debtor_kind"])
    chargeable = case["costs_chargeable_from"]
    if chargeable is None and not rule.notice_required:
        chargeable = on  # e.g. NL business debtors: due without a reminder (6:96 lid 4 BW)
        case_updates.setdefault(case["id"], {})["costs_chargeable_from"] = on
    if chargeable is None or chargeable > on:
        return
    if rule.method is CostMethod.NONE:
        for c in uncharged:
            c["costs_charged"] = True
        return
    currency = Currency.of(uncharged[0]["currency"])
    principals = [Money.from_minor_units(c["open_principal_cents"], currency) for c in uncharged]
    try:
        parts = costs_per_claim(
            pack,
            case["debtor_kind"],
            principals,
            on=on,
            vat_uplift_declared=creditor["vat"],
            due_dates=[c["due_date"] for c in uncharged],
        )
    except InputError as exc:
        # A rule the tables do not cover (e.g. a missing NBP rate): never a guess. A person
        # looks at it; the cycle tries again the next night.
        _review(case, f"collection costs not charged: {exc}", outbox, report, on)
        return
    account = (accounts or {}).get((case["person"], case["creditor_id"]))
    if account is not None:
        try:
            parts = _without_stacking(
                parts, principals, uncharged, account, case, creditor, pack, ctx, waivers, at
            )
        except InputError as exc:
            _review(case, f"collection costs not charged: {exc}", outbox, report, on)
            return
    total = 0
    for claim, part in zip(uncharged, parts, strict=True):
        claim["costs_charged"] = True
        if part.is_positive:
            claim["last_seq"] += 1
            claim["open_costs_cents"] += part.minor_units
            ledger.append(
                ledger_row(claim, "charge", "costs", part.minor_units, on, rule.title[:200])
            )
            total += part.minor_units
    if total:
        report.costs_charged_cents[currency.code] += total
        events.append(
            _event(
                case["id"],
                on,
                at,
                "costs_charged",
                rule.title,
                {},
                {"costs": str(Money.from_minor_units(total, currency))},
            )
        )


@dataclass
class _CostAccount:
    """What one person has already been charged by one creditor, over all their cases."""

    principals: list[int] = field(default_factory=list)  # cents of the charged claims
    due_dates: list[date] = field(default_factory=list)
    charged_cents: int = 0


def _cost_accounts(
    conn: Connection,
    cases: dict[int, dict[str, Any]],
    claims_by_case: dict[int, list[dict[str, Any]]],
    held: set[int],
    ctx: _Context,
) -> dict[tuple[int, int], _CostAccount]:
    """Cost accounts for the (person, creditor) pairs that may be charged costs tonight.

    Only cases with uncharged claims whose costs are due tonight need one, so this reads a
    handful of rows on most nights. Another shard charging the same person's other case on
    the same night is not seen (documented limit; sequential runs are exact).
    """
    wanted: set[int] = set()
    for case_id, case in cases.items():
        if case_id in held or not any(
            not c["costs_charged"] for c in claims_by_case.get(case_id, [])
        ):
            continue
        creditor = ctx.creditors[case["creditor_id"]]
        if not (creditor["aggregate_costs"] or creditor["max_costs_cents"] is not None):
            continue
        chargeable = case["costs_chargeable_from"]
        rule = creditor["pack"].costs_for(case["debtor_kind"])
        if (chargeable is not None and chargeable <= ctx.on) or (
            chargeable is None and not rule.notice_required
        ):
            wanted.add(int(case["person"]))
    if not wanted:
        return {}
    # Step by step on indexed keys (debtors by id and person_id, cases by debtor, claims by
    # case): one joined query with an OR made PostgreSQL scan every claim, every batch.
    persons = sorted(wanted)
    person_of: dict[int, int] = {}
    for chunk in chunks(persons, 2000):
        for debtor_id, person_id in conn.execute(
            select(Debtor.id, Debtor.person_id).where(Debtor.id.in_(chunk))
        ):
            person_of[int(debtor_id)] = int(person_id or debtor_id)
        for debtor_id, person_id in conn.execute(
            select(Debtor.id, Debtor.person_id).where(Debtor.person_id.in_(chunk))
        ):
            person_of[int(debtor_id)] = int(person_id or debtor_id)
    case_owner: dict[int, tuple[int, int]] = {}
    for chunk in chunks(sorted(person_of), 2000):
        for case_id, creditor_id, debtor_id in conn.execute(
            select(Case.id, Case.creditor_id, Case.debtor_id).where(Case.debtor_id.in_(chunk))
        ):
            case_owner[int(case_id)] = (person_of[int(debtor_id)], int(creditor_id))
    rows: list[Any] = []
    for chunk in chunks(sorted(case_owner), 2000):
        rows += conn.execute(
            select(Claim.id, Claim.case_id, Claim.principal_cents, Claim.due_date).where(
                Claim.case_id.in_(chunk), Claim.costs_charged.is_(True)
            )
        ).all()
    accounts: dict[tuple[int, int], _CostAccount] = {
        (p, c["creditor_id"]): _CostAccount()
        for c in cases.values()
        for p in (int(c["person"]),)
        if p in wanted
    }
    by_claim: dict[int, _CostAccount] = {}
    for r in rows:
        account = accounts.setdefault(case_owner[int(r.case_id)], _CostAccount())
        account.principals.append(int(r.principal_cents))
        account.due_dates.append(r.due_date)
        by_claim[int(r.id)] = account
    if by_claim:
        for claim_id, cents in conn.execute(
            select(LedgerEntry.claim_id, func.sum(LedgerEntry.amount_cents))
            .where(
                LedgerEntry.claim_id.in_(list(by_claim)),
                LedgerEntry.kind == "charge",
                LedgerEntry.bucket == "costs",
            )
            .group_by(LedgerEntry.claim_id)
        ):
            by_claim[int(claim_id)].charged_cents += int(cents or 0)
    return accounts


def _without_stacking(
    parts: list[Money],
    principals: list[Money],
    uncharged: list[dict[str, Any]],
    account: _CostAccount,
    case: dict[str, Any],
    creditor: dict[str, Any],
    pack: RulePack,
    ctx: _Context,
    waivers: list[dict[str, Any]] | None,
    at: datetime,
) -> list[Money]:
    """Tonight's cost parts, reduced so one person's cases at one creditor are not stacked.

    *Aggregation*: the jurisdiction's rule is applied to all the person's claims at this
    creditor together (NL: one staffel over the summed principal, RULES.md §1a), and only
    what that total leaves after earlier charges is charged now. *Cap*: the creditor's
    ``max_costs_per_debtor_cents`` bounds all costs charged to the person. What is not
    charged is recorded as a cost waiver, for the social report.
    """
    currency = principals[0].currency
    separate = sum(p.minor_units for p in parts)
    allowed = separate
    reductions: list[tuple[str, int, str]] = []
    if creditor["aggregate_costs"] and account.principals:
        combined = costs_per_claim(
            pack,
            case["debtor_kind"],
            [Money.from_minor_units(c, currency) for c in account.principals] + principals,
            on=ctx.on,
            vat_uplift_declared=creditor["vat"],
            due_dates=account.due_dates + [c["due_date"] for c in uncharged],
        )
        aggregated = max(0, sum(m.minor_units for m in combined) - account.charged_cents)
        if aggregated < allowed:
            reductions.append(
                (
                    "aggregation",
                    allowed - aggregated,
                    "one cost calculation over all the debtor's claims at this creditor",
                )
            )
            allowed = aggregated
    cap = creditor["max_costs_cents"]
    if cap is not None and account.charged_cents + allowed > cap:
        capped = max(0, cap - account.charged_cents)
        reductions.append(
            ("policy_cap", allowed - capped, f"creditor cap of {_cents(cap)} per debtor")
        )
        allowed = capped
    # The account learns tonight's charge too, so the person's next case at this creditor
    # (later in this batch) is aggregated with this one.
    account.principals += [p.minor_units for p in principals]
    account.due_dates += [c["due_date"] for c in uncharged]
    account.charged_cents += allowed
    if allowed == separate:
        return parts
    if waivers is not None:
        waivers += [
            {
                "case_id": case["id"],
                "on_date": ctx.on,
                "amount_cents": cents,
                "reason": reason,
                "detail": detail,
            }
            for reason, cents, detail in reductions
        ]
    if allowed == 0:
        return [Money.zero(currency) for _ in parts]
    return allocate_pro_rata(Money.from_minor_units(allowed, currency), [p.amount for p in parts])


def _review(
    case: dict[str, Any], reason: str, outbox: list[dict[str, Any]], report: CycleReport, on: date
) -> None:
    report.reviews += 1
    outbox.append(
        outbox_row(
            case["id"],
            on,
            "review",
            "agent",
            "rule_coverage",
            f"{case['id']}:review:{reason[:80]}",
            {"reason": reason},
        )
    )


def _outstanding_cents(claims: list[dict[str, Any]]) -> int:
    return sum(
        c["open_principal_cents"] + c["open_interest_cents"] + c["open_costs_cents"] for c in claims
    )


def _settled(claim: dict[str, Any]) -> bool:
    return bool(
        claim["open_principal_cents"] == 0
        and claim["open_interest_cents"] == 0
        and claim["open_costs_cents"] == 0
    )


def _run_strategy(
    case: dict[str, Any],
    claims: list[dict[str, Any]],
    creditor: dict[str, Any],
    ctx: _Context,
    events: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    case_updates: dict[int, dict[str, Any]],
    report: CycleReport,
    at: datetime,
) -> None:
    on = ctx.on
    strategy, step_days = ctx.strategy(creditor["strategy_name"], case["strategy_version"])
    stage = Stage(case["stage"])
    if not _any_step_due(
        step_days.get(stage, ()), case["stage_since"], case["last_cycle_date"], ctx.on
    ):
        return  # the common night: nothing to decide, so no balance to add up
    if stage is Stage.CLOSED or not claims or all(_settled(c) for c in claims):
        return
    outstanding = Decimal(_outstanding_cents(claims)).scaleb(-2)
    steps: list[Step] = due_steps(
        strategy.steps,
        stage=stage,
        stage_since=case["stage_since"],
        previous_run=case["last_cycle_date"],
        on=on,
        outstanding=outstanding,
    )
    for step in steps:
        report.actions[f"{step.action}:{step.channel}"] += 1
        key = f"{case['id']}:{strategy.name}:{strategy.version}:{step.id}:{case['stage_since'].isoformat()}"
        payload = {
            "strategy": strategy.name,
            "version": strategy.version,
            "step": step.id,
            "outstanding": f"{outstanding:.2f}",
            "tone": step.tone,
        }
        outbox.append(
            outbox_row(
                case["id"],
                on,
                step.action,
                step.channel,
                step.template,
                key,
                payload,
                brand=step.brand,
            )
        )
        if step.advance_to is None:
            continue
        if step.advance_to not in TRANSITIONS[stage]:  # the strategy was validated; belt and braces
            raise NotAllowed(f"strategy step {step.id} cannot move {stage} to {step.advance_to}")
        changes = case_updates.setdefault(case["id"], {})
        changes.update(stage=step.advance_to.value, stage_since=on)
        if step.advance_to is Stage.FORMAL_NOTICE:
            pack: RulePack = creditor["pack"]
            changes["notice_sent_on"] = on
            if pack.notice is not None and pack.costs_for(case["debtor_kind"]).notice_required:
                changes["costs_chargeable_from"] = ctx.costs_from(pack, on, step.channel)
        events.append(
            _event(
                case["id"],
                on,
                at,
                "transition",
                f"strategy {strategy.name} v{strategy.version}, step {step.id}",
                {"stage": stage.value},
                {"stage": step.advance_to.value},
            )
        )
        report.transitions[f"{stage.value}->{step.advance_to.value}"] += 1


def _step_days(strategy: Strategy) -> dict[Stage, tuple[int, ...]]:
    days: dict[Stage, set[int]] = defaultdict(set)
    for step in strategy.steps:
        days[step.stage].add(step.after_days)
    return {stage: tuple(sorted(d)) for stage, d in days.items()}


def _any_step_due(step_days: tuple[int, ...], since: date, previous: date | None, on: date) -> bool:
    days_now = (on - since).days
    days_before = -1 if previous is None else (previous - since).days
    return any(days_before < d <= days_now for d in step_days)


def _write_off_small_balance(
    case: dict[str, Any],
    claims: list[dict[str, Any]],
    limit_cents: int,
    on: date,
    ledger: list[dict[str, Any]],
    events: list[dict[str, Any]],
    at: datetime,
) -> bool:
    """Creditor policy: a debtor who has paid and owes no more than the limit is not chased
    for the rest; it is written off (ledger entries and an event) and the case settles."""
    rest = _outstanding_cents(claims)
    paid_something = any(c["open_principal_cents"] < c["principal_cents"] for c in claims)
    if rest == 0 or rest > limit_cents or not paid_something:
        return False
    for c in claims:
        c["interest_carry_micros"] = 0
        for bucket, column in (
            ("principal", "open_principal_cents"),
            ("interest", "open_interest_cents"),
            ("costs", "open_costs_cents"),
        ):
            if c[column]:
                c["last_seq"] += 1
                ledger.append(
                    ledger_row(
                        c,
                        "write_off",
                        bucket,
                        c[column],
                        on,
                        "small balance written off (creditor policy)",
                    )
                )
                c[column] = 0
    currency = Currency.of(claims[0]["currency"])
    events.append(
        _event(
            case["id"],
            on,
            at,
            "written_off",
            "small balance written off by creditor policy",
            {},
            {"amount": str(Money.from_minor_units(rest, currency))},
        )
    )
    return True


def _close_paid(
    case: dict[str, Any],
    on: date,
    events: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    case_updates: dict[int, dict[str, Any]],
    report: CycleReport,
    at: datetime,
    *,
    forgiven: bool = False,
) -> None:
    """Close a case with nothing left to pay: paid, or settled when a rest was forgiven."""
    changes = case_updates.setdefault(case["id"], {})
    stage = changes.get("stage", case["stage"])
    reason = CloseReason.SETTLED if forgiven else CloseReason.PAID
    changes.update(stage=Stage.CLOSED.value, stage_since=on, closed=True, close_reason=reason.value)
    why = "paid; the small rest was written off" if forgiven else "every claim is paid"
    events.append(
        _event(
            case["id"],
            on,
            at,
            "transition",
            why,
            {"stage": stage},
            {"stage": "closed", "close_reason": reason.value},
        )
    )
    outbox.append(
        outbox_row(case["id"], on, "message", "email", "paid_thank_you", f"{case['id']}:paid", {})
    )
    report.closed += 1


def _event(
    case_id: int,
    on: date,
    at: datetime,
    kind: str,
    reason: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    return event_row(case_id, on, at, ACTOR, kind, reason, after, before)


# Built from constant column names only (no input reaches these strings).
CLAIM_UPDATE = f"UPDATE claims SET {', '.join(f'{k} = ?' for k in CLAIM_STATE)} WHERE id = ?"  # noqa: S608
LEDGER_FIELDS = (
    "claim_id",
    "seq",
    "kind",
    "bucket",
    "amount_cents",
    "on_date",
    "payment_seq",
    "reverses",
    "memo",
)
LEDGER_INSERT = f"INSERT INTO ledger_entries ({', '.join(LEDGER_FIELDS)}) VALUES ({', '.join('?' for _ in LEDGER_FIELDS)})"  # noqa: S608


CLAIM_STATE_TYPES = (
    "date",
    "bigint",
    "bigint",
    "bigint",
    "boolean",
    "bigint",
    "bigint",
    "integer",
    "bigint",
    "date",
)


def _copy_claims_and_ledger(
    conn: Connection, changed: Sequence[tuple[Any, ...]], ledger_rows: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL: COPY is an order of magnitude faster than row-by-row statements.

    Changed claim state goes into a temporary table (emptied at commit) and is applied in
    one set-based UPDATE; ledger rows are copied straight into the ledger.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if changed:
            columns = ", ".join(
                f"{k} {t}" for k, t in zip(CLAIM_STATE, CLAIM_STATE_TYPES, strict=True)
            )
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS cycle_claim_state ({columns}, id bigint) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(
                f"COPY cycle_claim_state ({', '.join(CLAIM_STATE)}, id) FROM STDIN"
            ) as copy:
                for row in changed:
                    copy.write_row(row)
            assignments = ", ".join(f"{k} = t.{k}" for k in CLAIM_STATE)
            cursor.execute(
                f"UPDATE claims SET {assignments} FROM cycle_claim_state t WHERE claims.id = t.id"  # noqa: S608
            )
        if ledger_rows:
            with cursor.copy(
                f"COPY ledger_entries ({', '.join(LEDGER_FIELDS)}) FROM STDIN"
            ) as copy:
                for row in ledger_rows:
                    copy.write_row(row)
    finally:
        cursor.close()


def _flush(
    conn: Connection,
    claims_by_case: dict[int, list[dict[str, Any]]],
    ledger: list[dict[str, Any]],
    events: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    case_updates: dict[int, dict[str, Any]],
) -> None:
    # Every claim of a pending case changes each night (at least its accrual date), so all
    # are written back; no need to track which.
    changed = [
        (*(c[k] for k in CLAIM_STATE), c["id"])
        for claims in claims_by_case.values()
        for c in claims
    ]
    ledger_rows = [tuple(e[k] for k in LEDGER_FIELDS) for e in ledger]
    if conn.dialect.name == "postgresql":
        _copy_claims_and_ledger(conn, changed, ledger_rows)
    else:
        _executemany(conn, CLAIM_UPDATE, changed)
        _executemany(conn, LEDGER_INSERT, ledger_rows)
    if events:
        conn.execute(insert(Event), events)
    queue_outbox(conn, outbox)
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for case_id, changes in case_updates.items():
        by_shape[tuple(sorted(changes))].append({"b_id": case_id, **changes})
    for keys, rows in by_shape.items():
        conn.execute(
            update(Case)
            .where(Case.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in keys}),
            rows,
        )
