"""What the portal shows a debtor: every open debt, and one debt explained part by part.

Pure reads. Every figure comes from the ledger (charges, allocations, write-offs, with
reversals undone, as :func:`respite.services.referrals.ledger_flows` reads them), so the
page always adds up: charged − paid − waived = still open, per part of every invoice.
The explanations take the law from the rule packs (:mod:`respite.rules.loader`): the
interest rates in force over the days of default, the collection-cost scale in force on
the day the costs were charged, and the order in which a payment is used.

The views are plain data; the templates put them into plain words in the visitor's
language. A case that is not the person's is ``None``, exactly like an unknown one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, bindparam, select

from respite.adapters.db.models import (
    Case,
    Claim,
    CostWaiver,
    Creditor,
    Debtor,
    Event,
    Hold,
    LedgerEntry,
    Plan,
    PlanCase,
)
from respite.domain.costs import Scale
from respite.domain.lifecycle import HoldKind, Stage
from respite.domain.money import Currency, Money
from respite.errors import RespiteError
from respite.rules.loader import load_pack
from respite.rules.packs import CostMethod, RulePack
from respite.services.calculators import costs_per_claim, rate_lookup
from respite.services.people import debtor_ids_of_person, open_case_ids_of_person
from respite.services.referrals import ledger_flows
from respite.services.store import MICROS

PARTS = ("principal", "interest", "costs")

__all__ = [
    "CaseDetail",
    "CaseSummary",
    "ClaimView",
    "CostsView",
    "InterestView",
    "NotCharged",
    "Overview",
    "Parts",
    "PaymentView",
    "RateFrom",
    "ScaleStep",
    "Status",
    "case_detail",
    "overview",
]


@dataclass(frozen=True)
class Parts:
    """Cents per part of a debt."""

    principal: int = 0
    interest: int = 0
    costs: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.costs

    def __add__(self, other: Parts) -> Parts:
        return Parts(
            self.principal + other.principal,
            self.interest + other.interest,
            self.costs + other.costs,
        )

    def __sub__(self, other: Parts) -> Parts:
        return Parts(
            self.principal - other.principal,
            self.interest - other.interest,
            self.costs - other.costs,
        )

    @classmethod
    def of(cls, flows: dict[tuple[str, str], int], kind: str) -> Parts:
        return cls(
            flows.get((kind, "principal"), 0),
            flows.get((kind, "interest"), 0),
            flows.get((kind, "costs"), 0),
        )


@dataclass(frozen=True)
class Status:
    """Where a case stands, as the debtor needs to know it.

    ``code``: ``payment_due``, ``in_plan``, ``plan_in_review``, ``dispute``, ``deferred``
    (``until``), ``debt_help``, ``review``, ``legal_review``, ``paid`` or ``closed``.
    """

    code: str
    until: date | None = None


@dataclass(frozen=True)
class CaseSummary:
    reference: str
    creditor: str
    currency: str
    open: Parts
    credit_cents: int
    status: Status


@dataclass(frozen=True)
class Overview:
    cases: tuple[CaseSummary, ...]
    totals: tuple[tuple[str, int], ...]  # (currency, cents still open), one per currency


@dataclass(frozen=True)
class RateFrom:
    """A yearly percentage, in force from ``start``."""

    start: date
    percent: Decimal

    @property
    def digits(self) -> int:
        exponent = self.percent.normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class InterestView:
    kind: str  # consumer | commercial
    rule: str  # the law, as the rule pack names it
    since: date  # the first day of default
    to: date  # worked out up to (not including) this day
    rates: tuple[RateFrom, ...]
    charged_cents: int  # added to the debt so far (the ledger)
    pending_cents: int  # built up since, added at the end of the month
    pending_since: date
    yearly_compounding: bool  # NL: added to the base on each anniversary (6:119 lid 2 BW)
    stopped: bool  # frozen (plan) or on hold: no interest now


@dataclass(frozen=True)
class ClaimView:
    invoice: str
    description: str
    issue_date: date
    due_date: date
    charged: Parts
    paid: Parts
    waived: Parts
    interest: InterestView | None

    @property
    def open(self) -> Parts:
        return self.charged - self.paid - self.waived


@dataclass(frozen=True)
class PaymentView:
    on: date
    amount_cents: int
    used_for: Parts
    credit_cents: int  # not (yet) used: more than was owed
    returned: bool  # the bank returned it; nothing of it counts


@dataclass(frozen=True)
class ScaleStep:
    """One line of a cost scale, in the currency's units (figures set by law).

    Marginal scales (NL): ``percent`` of the part between ``above`` and ``up_to``.
    Stepped scales (BE): ``fixed`` plus ``percent`` of the part above ``above``.
    Fixed sums per invoice (PL bands): ``fixed`` for invoices in ``(above, up_to]``.
    """

    above: Decimal
    up_to: Decimal | None
    fixed: Decimal
    percent: Decimal

    @property
    def digits(self) -> int:
        return RateFrom(date.min, self.percent).digits


@dataclass(frozen=True)
class CostsView:
    charged_cents: int
    charged_on: date | None
    rule: str  # the legal basis, as written on the ledger (or the rule pack's title)
    source: str  # the rule's source (decree, article)
    method: str  # marginal | stepped | fixed | bands | none
    steps: tuple[ScaleStep, ...]
    minimum: Decimal | None
    maximum: Decimal | None
    vat_percent: Decimal | None  # the creditor cannot deduct VAT: the law lets it add it
    basis_cents: int | None  # the invoices' open amount the costs were computed on
    statutory_cents: int | None  # what the scale gives for that amount
    waived: tuple[tuple[str, int], ...]  # (aggregation | policy_cap | replan, cents)
    chargeable_from: date | None  # costs not charged yet: the first day they may be
    expected_cents: int | None  # …and the most they would be


@dataclass(frozen=True)
class NotCharged:
    start: date
    end: date
    cents: int


@dataclass(frozen=True)
class CaseDetail:
    reference: str
    creditor: str
    currency: str
    status: Status
    opened_on: date
    claims: tuple[ClaimView, ...]
    payments: tuple[PaymentView, ...]
    credit_cents: int
    costs: CostsView
    order: tuple[str, ...]  # how a payment is used, e.g. ("costs", "interest", "principal")
    not_charged: tuple[NotCharged, ...]

    @property
    def charged(self) -> Parts:
        return sum((c.charged for c in self.claims), Parts())

    @property
    def paid(self) -> Parts:
        return sum((c.paid for c in self.claims), Parts())

    @property
    def waived(self) -> Parts:
        return sum((c.waived for c in self.claims), Parts())

    @property
    def open(self) -> Parts:
        return self.charged - self.paid - self.waived

    @property
    def received_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments if not p.returned)


# --- the overview -------------------------------------------------------------------------


def overview(conn: Connection, person_id: int, *, on: date) -> Overview:
    """Every open case of the person, with every creditor, and what is open in total."""
    case_ids = open_case_ids_of_person(conn, person_id)
    if not case_ids:
        return Overview((), ())
    rows = conn.execute(
        select(Case.id, Case.reference, Case.stage, Case.closed, Creditor.name)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.id.in_(case_ids))
        .order_by(Creditor.name, Case.id)
    ).all()
    claims = conn.execute(
        select(Claim.id, Claim.case_id, Claim.currency, Claim.credit_cents).where(
            Claim.case_id.in_(case_ids)
        )
    ).all()
    flows = ledger_flows(conn, [int(c.id) for c in claims])
    open_by_case: dict[int, Parts] = defaultdict(Parts)
    credit: dict[int, int] = defaultdict(int)
    currency: dict[int, str] = {}
    for c in claims:
        case_id = int(c.case_id)
        open_by_case[case_id] += _open(flows.get(int(c.id), {}))
        credit[case_id] += int(c.credit_cents)
        currency[case_id] = str(c.currency)
    statuses = _statuses(conn, rows, open_by_case, on)
    summaries = tuple(
        CaseSummary(
            reference=str(r.reference),
            creditor=str(r.name),
            currency=currency.get(int(r.id), "EUR"),
            open=open_by_case[int(r.id)],
            credit_cents=credit[int(r.id)],
            status=statuses[int(r.id)],
        )
        for r in rows
    )
    totals: dict[str, int] = defaultdict(int)
    for s in summaries:
        totals[s.currency] += s.open.total
    return Overview(summaries, tuple(sorted(totals.items())))


# The case page's reads, built once: building SQLAlchemy expressions on every page view
# cost more than running them (bench/portal.py). The compiled SQL is cached either way.
_HOLDS = (
    select(Hold.case_id, Hold.kind, Hold.until)
    .where(Hold.case_id.in_(bindparam("ids", expanding=True)), Hold.start <= bindparam("on"))
    .where(Hold.until.is_(None) | (Hold.until >= bindparam("on")))
)
_LIVE_PLANS = (
    select(PlanCase.case_id, Plan.status)
    .join(Plan, Plan.id == PlanCase.plan_id)
    .where(
        PlanCase.case_id.in_(bindparam("ids", expanding=True)),
        Plan.status.in_(("active", "pending_review")),
    )
)
_CASE = (
    select(
        Case.id,
        Case.reference,
        Case.stage,
        Case.closed,
        Case.opened_on,
        Case.interest_frozen,
        Case.costs_chargeable_from,
        Case.debtor_id,
        Creditor.name,
        Creditor.jurisdiction,
        Creditor.vat_uplift_declared,
        Debtor.kind.label("debtor_kind"),
    )
    .join(Creditor, Creditor.id == Case.creditor_id)
    .join(Debtor, Debtor.id == Case.debtor_id)
    .where(Case.reference == bindparam("reference"))
)
_CLAIMS = select(Claim).where(Claim.case_id == bindparam("case")).order_by(Claim.id)
_ENTRIES = (
    select(
        LedgerEntry.id,
        LedgerEntry.claim_id,
        LedgerEntry.seq,
        LedgerEntry.kind,
        LedgerEntry.bucket,
        LedgerEntry.amount_cents,
        LedgerEntry.on_date,
        LedgerEntry.payment_seq,
        LedgerEntry.reverses,
        LedgerEntry.memo,
    )
    .where(LedgerEntry.claim_id.in_(bindparam("ids", expanding=True)))
    .order_by(LedgerEntry.claim_id, LedgerEntry.seq)
)
_NOT_CHARGED = (
    select(Event.after)
    .where(Event.case_id == bindparam("case"), Event.kind == "interest_not_charged")
    .order_by(Event.id)
)
_WAIVERS = (
    select(CostWaiver.reason, CostWaiver.amount_cents, CostWaiver.on_date)
    .where(CostWaiver.case_id == bindparam("case"))
    .order_by(CostWaiver.on_date, CostWaiver.id)
)

_HOLD_STATUS = {
    HoldKind.DISPUTE.value: "dispute",
    HoldKind.BREATHING_SPACE.value: "debt_help",
    HoldKind.DEBT_COUNSELLING.value: "debt_help",
    HoldKind.VULNERABILITY_REVIEW.value: "review",
    HoldKind.DECEASED.value: "review",
    HoldKind.DEFERRAL.value: "deferred",
}
# When a case has several reasons to wait, the one the debtor most needs to know.
_PRIORITY = ("dispute", "debt_help", "review", "deferred")


def _statuses(
    conn: Connection, rows: Sequence[Any], open_by_case: dict[int, Parts], on: date
) -> dict[int, Status]:
    ids = [int(r.id) for r in rows]
    holds: dict[int, list[tuple[str, date | None]]] = defaultdict(list)
    for h in conn.execute(_HOLDS, {"ids": ids, "on": on}):
        holds[int(h.case_id)].append((_HOLD_STATUS.get(str(h.kind), "review"), h.until))
    plans: dict[int, set[str]] = defaultdict(set)
    for p in conn.execute(_LIVE_PLANS, {"ids": ids}):
        plans[int(p.case_id)].add(str(p.status))
    out: dict[int, Status] = {}
    for r in rows:
        case_id = int(r.id)
        waiting = sorted(holds[case_id], key=lambda h: _PRIORITY.index(h[0]))
        if r.closed or r.stage == Stage.CLOSED.value:
            out[case_id] = Status("closed")
        elif open_by_case[case_id].total <= 0:
            out[case_id] = Status("paid")
        elif waiting:
            code, until = waiting[0]
            out[case_id] = Status(code, until if code == "deferred" else None)
        elif "active" in plans[case_id] or r.stage == Stage.ARRANGEMENT.value:
            out[case_id] = Status("in_plan")
        elif "pending_review" in plans[case_id]:
            out[case_id] = Status("plan_in_review")
        elif r.stage in (Stage.LEGAL_SCREENING.value, Stage.LEGAL_HANDOVER.value):
            out[case_id] = Status("legal_review")
        else:
            out[case_id] = Status("payment_due")
    return out


# --- one case explained -------------------------------------------------------------------


def case_detail(conn: Connection, person_id: int, reference: str, *, on: date) -> CaseDetail | None:
    """The case ``reference`` explained, if it is the person's; else None (as if unknown)."""
    row = conn.execute(_CASE, {"reference": reference.strip().upper()}).first()
    if row is None or int(row.debtor_id) not in debtor_ids_of_person(conn, person_id):
        return None
    case_id = int(row.id)
    claims = conn.execute(_CLAIMS, {"case": case_id}).all()
    claim_ids = [int(c.id) for c in claims]
    flows = ledger_flows(conn, claim_ids)
    entries = _entries(conn, claim_ids)
    pack = load_pack(str(row.jurisdiction))
    status = _statuses(
        conn,
        [row],
        {case_id: sum((_open(flows.get(i, {})) for i in claim_ids), Parts())},
        on,
    )[case_id]
    stopped = bool(row.interest_frozen) or status.code in _PRIORITY
    views = tuple(
        ClaimView(
            invoice=str(c.external_ref),
            description=str(c.description or ""),
            issue_date=c.issue_date,
            due_date=c.due_date,
            charged=Parts.of(flows.get(int(c.id), {}), "charge"),
            paid=Parts.of(flows.get(int(c.id), {}), "allocation"),
            waived=Parts.of(flows.get(int(c.id), {}), "write_off"),
            interest=_interest(pack, c, entries.get(int(c.id), []), stopped),
        )
        for c in claims
    )
    currency = str(claims[0].currency) if claims else pack.currency.code
    return CaseDetail(
        reference=str(row.reference),
        creditor=str(row.name),
        currency=currency,
        status=status,
        opened_on=row.opened_on,
        claims=views,
        payments=_payments(entries),
        credit_cents=sum(int(c.credit_cents) for c in claims),
        costs=_costs(conn, pack, row, claims, entries, currency, on),
        order=_order(pack, on),
        not_charged=_not_charged(conn, case_id),
    )


def _part(bucket: str, cents: int) -> Parts:
    return Parts(**{bucket: cents}) if bucket in PARTS else Parts()


def _open(flows: dict[tuple[str, str], int]) -> Parts:
    return Parts.of(flows, "charge") - Parts.of(flows, "allocation") - Parts.of(flows, "write_off")


def _entries(conn: Connection, claim_ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    if not claim_ids:
        return out
    for e in conn.execute(_ENTRIES, {"ids": claim_ids}):
        out[int(e.claim_id)].append(e)
    return out


def _reversed(entries: list[Any]) -> set[int]:
    return {int(e.reverses) for e in entries if e.kind == "reversal" and e.reverses}


def _order(pack: RulePack, on: date) -> tuple[str, ...]:
    try:
        return tuple(b.value for b in pack.allocation.value_at(on))
    except RespiteError:
        return ("costs", "interest", "principal")


def _interest(pack: RulePack, claim: Any, entries: list[Any], stopped: bool) -> InterestView | None:
    kind = "commercial" if claim.interest_kind == "commercial" else "consumer"
    try:
        rule = pack.interest_kind(kind)
    except RespiteError:
        return None
    since, to = claim.default_start, claim.interest_accrued_to
    try:
        pieces = rate_lookup(rule.rates)(since, to) if to > since else []
        rates = tuple(RateFrom(p.start, p.percent) for p in pieces) or (
            RateFrom(since, rule.rates.value_at(since)),
        )
    except RespiteError:
        rates = ()
    gone = _reversed(entries)
    postings = [
        e
        for e in entries
        if e.kind == "charge" and e.bucket == "interest" and int(e.seq) not in gone
    ]
    return InterestView(
        kind=kind,
        rule=rule.title,
        since=since,
        to=to,
        rates=rates,
        charged_cents=sum(int(e.amount_cents) for e in postings),
        pending_cents=int(claim.interest_carry_micros) // MICROS,
        pending_since=max((e.on_date for e in postings), default=since),
        yearly_compounding=rule.compounding.value == "anniversary",
        stopped=stopped,
    )


def _payments(entries: dict[int, list[Any]]) -> tuple[PaymentView, ...]:
    """The payments on the case's claims, one line per payment, in the order they came
    (a payment spread over several invoices has one ledger entry on each, with the same
    date and memo)."""
    grouped: dict[tuple[date, str], dict[str, Any]] = {}
    for rows in entries.values():
        gone = _reversed(rows)
        used: dict[int, Parts] = defaultdict(Parts)
        for e in rows:
            if e.kind == "allocation" and e.payment_seq and int(e.seq) not in gone:
                used[int(e.payment_seq)] += _part(str(e.bucket), int(e.amount_cents))
        for e in rows:
            if e.kind != "payment":
                continue
            item = grouped.setdefault(
                (e.on_date, str(e.memo)),
                {"first": int(e.id), "amount": 0, "used": Parts(), "returned": False},
            )
            item["first"] = min(item["first"], int(e.id))
            item["returned"] = item["returned"] or int(e.seq) in gone
            item["amount"] += int(e.amount_cents)
            item["used"] += used[int(e.seq)]
    return tuple(
        PaymentView(
            on=on,
            amount_cents=item["amount"],
            used_for=Parts() if item["returned"] else item["used"],
            credit_cents=0 if item["returned"] else item["amount"] - item["used"].total,
            returned=item["returned"],
        )
        for (on, _), item in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[1]["first"]))
    )


def _not_charged(conn: Connection, case_id: int) -> tuple[NotCharged, ...]:
    out: list[NotCharged] = []
    for e in conn.execute(_NOT_CHARGED, {"case": case_id}):
        after = dict(e.after or {})
        try:
            out.append(
                NotCharged(
                    date.fromisoformat(str(after["from"])),
                    date.fromisoformat(str(after["to"])),
                    int(str(after["amount_cents"])),
                )
            )
        except (KeyError, ValueError):
            continue
    return tuple(out)


# --- collection costs ---------------------------------------------------------------------


def _costs(
    conn: Connection,
    pack: RulePack,
    case: Any,
    claims: Sequence[Any],
    entries: dict[int, list[Any]],
    currency: str,
    on: date,
) -> CostsView:
    debtor_kind = str(case.debtor_kind)
    rule = pack.costs_for(debtor_kind)
    charges: list[tuple[Any, Any]] = []  # (claim, its costs charge entry)
    for c in claims:
        rows = entries.get(int(c.id), [])
        gone = _reversed(rows)
        charges += [
            (c, e)
            for e in rows
            if e.kind == "charge" and e.bucket == "costs" and int(e.seq) not in gone
        ]
    charged_on = min((e.on_date for _, e in charges), default=None)
    when = charged_on or case.costs_chargeable_from or on
    steps, minimum, maximum, source, method = _rule_in_words(pack, rule.method, debtor_kind, when)
    vat: Decimal | None = None
    if case.vat_uplift_declared and pack.vat is not None:
        try:
            vat = pack.vat.value_at(when)
        except RespiteError:
            vat = None
    waivers = conn.execute(_WAIVERS, {"case": int(case.id)}).all()
    charged = sum(int(e.amount_cents) for _, e in charges)
    # Waived the night the costs were charged: the part of the statutory amount not charged.
    waived_then = sum(int(w.amount_cents) for w in waivers if w.on_date == charged_on)
    basis, statutory = _basis(
        pack, debtor_kind, case, charges, entries, currency, charged + waived_then
    )
    chargeable_from, expected = None, None
    uncharged = [c for c in claims if not c.costs_charged and int(c.open_principal_cents) > 0]
    if uncharged and case.costs_chargeable_from is not None and rule.method is not CostMethod.NONE:
        chargeable_from = max(case.costs_chargeable_from, on)
        expected = _statutory(
            pack,
            debtor_kind,
            [int(c.open_principal_cents) for c in uncharged],
            [c.due_date for c in uncharged],
            currency,
            chargeable_from,
            bool(case.vat_uplift_declared),
        )
    memo = str(charges[0][1].memo) if charges else ""
    return CostsView(
        charged_cents=charged,
        charged_on=charged_on,
        rule=memo or rule.title,
        source=source,
        method=method,
        steps=steps,
        minimum=minimum,
        maximum=maximum,
        vat_percent=vat,
        basis_cents=basis,
        statutory_cents=statutory,
        waived=tuple((str(w.reason), int(w.amount_cents)) for w in waivers),
        chargeable_from=chargeable_from,
        expected_cents=expected,
    )


def _rule_in_words(
    pack: RulePack, method: CostMethod, debtor_kind: str, on: date
) -> tuple[tuple[ScaleStep, ...], Decimal | None, Decimal | None, str, str]:
    """The cost rule in force on ``on`` as steps a template can say in words."""
    rule = pack.costs_for(debtor_kind)
    try:
        if method is CostMethod.SCALE and rule.scale is not None:
            row = rule.scale.at(on)
            steps, kind = _scale_steps(row.value)
            return steps, row.value.minimum, row.value.maximum, row.source, kind
        if method is CostMethod.FIXED and rule.fixed is not None:
            fixed = rule.fixed.at(on)
            return (
                (ScaleStep(Decimal(0), None, fixed.value, Decimal(0)),),
                None,
                None,
                fixed.source,
                "fixed",
            )
        if method is CostMethod.EUR_BANDS and rule.bands is not None:
            bands = rule.bands.at(on)
            steps = tuple(
                ScaleStep(b.above or Decimal(0), b.up_to, b.amount, Decimal(0)) for b in bands.value
            )
            return steps, None, None, bands.source, "bands"
    except RespiteError:
        pass
    return (), None, None, rule.title, "none"


def _scale_steps(scale: Scale) -> tuple[tuple[ScaleStep, ...], str]:
    tiers = scale.tiers
    marginal = tiers[0].fixed == 0 and all(
        t.fixed == p.fixed + p.rate_percent * (t.above - p.above) / 100 for p, t in pairwise(tiers)
    )
    steps = tuple(
        ScaleStep(
            t.above,
            tiers[i + 1].above if i + 1 < len(tiers) else None,
            t.fixed,
            t.rate_percent,
        )
        for i, t in enumerate(tiers)
    )
    return steps, "marginal" if marginal else "stepped"


def _statutory(
    pack: RulePack,
    debtor_kind: str,
    principals: list[int],
    due_dates: list[date],
    currency: str,
    on: date,
    vat: bool,
) -> int | None:
    """What the cost rule gives for these open principals on ``on``; None if it cannot say."""
    try:
        cur = Currency.of(currency)
        parts = costs_per_claim(
            pack,
            debtor_kind,
            [Money.from_minor_units(p, cur) for p in principals],
            on=on,
            vat_uplift_declared=vat,
            due_dates=due_dates,
        )
    except (RespiteError, ArithmeticError):
        return None
    return sum(p.minor_units for p in parts)


def _basis(
    pack: RulePack,
    debtor_kind: str,
    case: Any,
    charges: list[tuple[Any, Any]],
    entries: dict[int, list[Any]],
    currency: str,
    statutory_charged: int,
) -> tuple[int | None, int | None]:
    """The open principal the costs were computed on, and what the rule gave for it.

    The cycle charges costs on the principal still open that night (a payment inside the
    term lowers them, HR 25-11-2016). That is rebuilt from the ledger entries before each
    costs charge, and shown only when the rule, applied to it, gives exactly what was
    charged plus what was waived that night (``statutory_charged``): a figure that does
    not add up is left out, not guessed.
    """
    if not charges or len({e.on_date for _, e in charges}) != 1:
        return None, None
    principals: list[int] = []
    for claim, charge in charges:
        before = [e for e in entries.get(int(claim.id), []) if int(e.seq) < int(charge.seq)]
        gone = _reversed(before)
        cents = 0
        for e in before:
            if e.bucket != "principal" or int(e.seq) in gone:
                continue
            if e.kind == "charge":
                cents += int(e.amount_cents)
            elif e.kind in ("allocation", "write_off"):
                cents -= int(e.amount_cents)
        principals.append(cents)
    statutory = _statutory(
        pack,
        debtor_kind,
        principals,
        [c.due_date for c, _ in charges],
        currency,
        charges[0][1].on_date,
        bool(case.vat_uplift_declared),
    )
    if statutory is None or statutory != statutory_charged:
        return None, None
    return sum(principals), statutory
