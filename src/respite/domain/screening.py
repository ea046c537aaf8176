"""The legal screening: does suing pay off, and at what cost to the debtor?

Before a case is handed over for legal action (summons, judgment, attachment), Respite
weighs what the creditor can expect to recover against what it costs — the court fee and
the bailiff, advanced by the creditor and, once awarded, stacked on the debtor's debt —
and against the harm to the debtor. The answer is one of:

* ``proceed`` — suing is likely to pay off and no rule below stands in the way; a second
  person with the authority to approve must still approve it (the service layer);
* ``do_not_proceed`` — with the reason (a hold, debt counselling, a kept plan, or court
  costs that are not known so the pay-off check cannot be made);
* ``alternative`` — a better route: a *settlement offer*, a *long plan*, a *referral* to
  debt counselling, a *write-off*, or *personal contact* first.

The rules, in the order they are applied (the first that applies decides; every figure is
listed in the explanation whatever decides):

1. **Never while the debtor needs protection**: in debt counselling → do not proceed;
   flagged vulnerable → alternative *referral*; any active hold (dispute, deferral,
   breathing space, deceased, …) → do not proceed; a payment plan being kept → do not
   proceed.
2. **Capacity unknown** (no income & expenditure statement) → alternative *personal
   contact*: ask for one; suing blind is what social collection avoids.
3. **At the protected minimum** (income at or below the protected minimum, or no capacity
   left) → a small balance (≤ ``write_off_max``) is *written off*, else *referral*: a
   judgment cannot be enforced against the protected minimum and would only add costs.
4. **Debt-help criteria** (:func:`respite.domain.referral.referral_reasons`: all the
   person's debts not repayable within the amicable-settlement term, or at least
   ``referral_creditors`` creditors) → alternative *referral*.
5. **Housing, energy or water** creditor (risk of eviction or disconnection) → unless the
   creditor's policy allows it, a *long plan* when the debt fits in ``max_plan_months``,
   else a *settlement offer*.
6. **A debtor who pays** (a payment in the last 12 months) and whose share of capacity
   repays the case within ``max_plan_months`` → *long plan*: no court costs needed.
7. **Court costs not known** for the date → do not proceed (the pay-off check needs them).
8. **Pay-off check**: the expected net recovery (what is recovered within
   ``max_months_to_recovery`` months, minus the legal costs) must reach
   ``min_net_recovery`` and ``min_recovery_ratio`` × the outstanding amount, and the whole
   claim with its costs must be recovered within ``max_months_to_recovery`` months;
   otherwise a *write-off* (small balance), a *long plan* or a *settlement offer* of what
   the debtor can pay in ``settlement_months``.
9. **Commitment** ``personal_contact_before_summons`` without an earlier call → *personal
   contact* first.
10. Otherwise **proceed**.

How the figures are computed: the debtor's monthly capacity is shared among all their
open debts pro rata by outstanding amount (as a coordinated plan does), rounded down to
the cent; the legal costs are the court fee, the summons, the service of the judgment and
an attachment of earnings (BTAG; an unknown later act counts as zero and is said so);
recovered = min(outstanding + legal costs, share × ``max_months_to_recovery``); net
recovery = recovered − legal costs; months to recovery = ⌈(outstanding + legal costs) ÷
share⌉. A negative outcome avoids the upfront court costs (court fee + summons):
``court_costs_avoided``.

Pure: no I/O, no clock; the service layer gathers the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from respite.domain.compliance import Commitments
from respite.domain.court_costs import CourtCosts
from respite.domain.money import Currency, Money
from respite.domain.referral import referral_reasons
from respite.errors import ValidationError

__all__ = [
    "ESSENTIAL_SECTORS",
    "Alternative",
    "Line",
    "Outcome",
    "ProtectedStatus",
    "Screening",
    "ScreeningInputs",
    "Sector",
    "Thresholds",
    "blocking_reasons",
    "screen",
]


class Outcome(StrEnum):
    PROCEED = "proceed"
    DO_NOT_PROCEED = "do_not_proceed"
    ALTERNATIVE = "alternative"


class Alternative(StrEnum):
    SETTLEMENT_OFFER = "settlement_offer"
    LONG_PLAN = "long_plan"
    REFERRAL = "referral"
    WRITE_OFF = "write_off"
    PERSONAL_CONTACT = "personal_contact"


class ProtectedStatus(StrEnum):
    """Where the debtor's income stands against the protected minimum."""

    UNKNOWN = "unknown"
    AT_MINIMUM = "at_minimum"  # income at or below the protected minimum
    ABOVE_MINIMUM = "above_minimum"


class Sector(StrEnum):
    """The creditor's sector (``policy["sector"]``)."""

    HOUSING = "housing"
    ENERGY = "energy"
    WATER = "water"
    TELECOM = "telecom"
    LENDER = "lender"
    PUBLIC = "public"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> Sector:
        if value is None:
            return cls.OTHER
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValidationError(
                f"unknown sector {value!r} (known: {known})", field="policy.sector"
            ) from None


ESSENTIAL_SECTORS = frozenset({Sector.HOUSING, Sector.ENERGY, Sector.WATER})
"""Legal action by these creditors risks the debtor's home or energy/water supply."""

POLICY = "creditor policy"
DEFAULT = "Respite default"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The creditor's screening policy (``policy["screening"]``); defaults documented here.

    ========================  ==========  ================================================
    key                       default     meaning
    ========================  ==========  ================================================
    min_net_recovery          "100.00"    least net recovery (after legal costs) to sue
    min_recovery_ratio        "0.50"      least net recovery as a share of the debt
    max_months_to_recovery    36          the whole claim + costs must be recovered within
    max_plan_months           36          longest plan offered instead (a creditor's
                                          ``max_plan_months:<n>`` commitment overrides)
    write_off_max             "100.00"    balances up to this are written off, not sued
    referral_creditors        3           this many creditors is a reason to refer
    settlement_months         12          a settlement offers what the debtor can pay in
    allow_essential_services  false       may a housing/energy/water creditor sue
    ========================  ==========  ================================================
    """

    min_net_recovery: Decimal = Decimal("100.00")
    min_recovery_ratio: Decimal = Decimal("0.50")
    max_months_to_recovery: int = 36
    max_plan_months: int = 36
    write_off_max: Decimal = Decimal("100.00")
    referral_creditors: int = 3
    settlement_months: int = 12
    allow_essential_services: bool = False
    from_policy: frozenset[str] = frozenset()  # the keys the creditor set

    def __post_init__(self) -> None:
        for name in ("max_months_to_recovery", "max_plan_months", "settlement_months"):
            if getattr(self, name) <= 0:
                raise ValidationError("must be at least 1", field=f"policy.screening.{name}")
        if self.referral_creditors < 2:
            raise ValidationError(
                "several creditors means at least 2", field="policy.screening.referral_creditors"
            )
        if not Decimal(0) <= self.min_recovery_ratio <= Decimal(1):
            raise ValidationError(
                "must be between 0 and 1", field="policy.screening.min_recovery_ratio"
            )
        for name in ("min_net_recovery", "write_off_max"):
            if getattr(self, name) < 0:
                raise ValidationError("must not be negative", field=f"policy.screening.{name}")

    @classmethod
    def parse(cls, screening: object, commitments: Commitments | None = None) -> Thresholds:
        """Thresholds from ``policy["screening"]`` (a mapping), with the defaults."""
        if screening is None:
            screening = {}
        if not isinstance(screening, Mapping):
            raise ValidationError("must be an object", field="policy.screening")
        known = {f for f in cls.__dataclass_fields__ if f != "from_policy"}
        unknown = sorted(set(screening) - known)
        if unknown:
            raise ValidationError(
                f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                field="policy.screening",
            )
        values: dict[str, object] = {}
        for key, raw in screening.items():
            where = f"policy.screening.{key}"
            default = cls.__dataclass_fields__[key].default
            if isinstance(default, bool):
                if not isinstance(raw, bool):
                    raise ValidationError("must be true or false", field=where)
                values[key] = raw
            elif isinstance(default, int):
                if isinstance(raw, bool) or not isinstance(raw, int):
                    raise ValidationError("must be a whole number", field=where)
                values[key] = raw
            else:
                if isinstance(raw, bool) or not isinstance(raw, str | int):
                    raise ValidationError('must be a quoted decimal such as "100.00"', field=where)
                try:
                    values[key] = Decimal(str(raw))
                except ArithmeticError:
                    raise ValidationError(f"not a number: {raw!r}", field=where) from None
        chosen = set(screening)
        if commitments is not None and commitments.max_plan_months is not None:
            values["max_plan_months"] = commitments.max_plan_months
            chosen.add("max_plan_months")
        return cls(**values, from_policy=frozenset(chosen))  # type: ignore[arg-type]

    def source(self, key: str) -> str:
        return f"{POLICY} (screening.{key})" if key in self.from_policy else DEFAULT


@dataclass(frozen=True, slots=True)
class ScreeningInputs:
    """Every figure the screening weighs, each with where it came from."""

    currency: Currency
    principal: Money
    interest: Money
    costs: Money
    court_costs: CourtCosts | None  # None: not known for the date
    court_costs_unknown: str  # why not ("" when known)
    capacity: Money | None  # the person's monthly repayment capacity; None: unknown
    capacity_source: str
    protected: ProtectedStatus
    protected_source: str
    other_debts_count: int  # the person's other open cases, with every creditor
    other_debts_total: Money
    creditors: int  # distinct creditors of the person's open cases, this one included
    vulnerable: bool
    holds: tuple[str, ...]  # kinds of the holds active on the date
    in_counselling: bool
    kept_plan: bool
    payments_last_12_months: int
    paid_last_12_months: Money
    sector: Sector
    personal_contact: bool  # an earlier call or other personal contact with the debtor
    commitments: Commitments = field(default_factory=Commitments)
    referral_term_months: int = 18  # NL minnelijke schuldregeling since 1 July 2023
    referral_term_source: str = "https://www.nvvk.nl/verkorting-aflosperiode"

    @property
    def outstanding(self) -> Money:
        return self.principal + self.interest + self.costs


@dataclass(frozen=True, slots=True)
class Line:
    """One figure of the explanation: what, how much, and where it comes from."""

    figure: str
    value: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"figure": self.figure, "value": self.value, "source": self.source}


@dataclass(frozen=True, slots=True)
class Screening:
    """The outcome with its figures and a plain explanation."""

    outcome: Outcome
    alternative: Alternative | None
    reasons: tuple[str, ...]
    lines: tuple[Line, ...]
    currency: Currency
    expected_recovery: Money
    expected_net_recovery: Money
    months_to_recovery: int | None
    upfront_costs: Money | None
    legal_costs: Money | None
    court_costs_avoided: Money
    settlement_offer: Money | None = None

    @property
    def summary(self) -> str:
        what = self.outcome.value.replace("_", " ")
        if self.alternative is not None:
            what += f": {self.alternative.value.replace('_', ' ')}"
        return f"{what} — {self.reasons[0]}" if self.reasons else what

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (amounts as strings)."""

        def s(m: Money | None) -> str | None:
            return None if m is None else str(m)

        return {
            "outcome": self.outcome.value,
            "alternative": None if self.alternative is None else self.alternative.value,
            "summary": self.summary,
            "reasons": list(self.reasons),
            "currency": self.currency.code,
            "expected_recovery": str(self.expected_recovery),
            "expected_net_recovery": str(self.expected_net_recovery),
            "months_to_recovery": self.months_to_recovery,
            "upfront_costs": s(self.upfront_costs),
            "legal_costs": s(self.legal_costs),
            "court_costs_avoided": str(self.court_costs_avoided),
            "settlement_offer": s(self.settlement_offer),
            "explanation": [line.as_dict() for line in self.lines],
        }

    def event_after(self) -> dict[str, object]:
        """The ``after`` of the ``screening`` event: money as integer cents."""

        def c(m: Money | None) -> int | None:
            return None if m is None else m.minor_units

        return {
            "outcome": self.outcome.value,
            "alternative": None if self.alternative is None else self.alternative.value,
            "expected_recovery_cents": self.expected_recovery.minor_units,
            "expected_net_recovery_cents": self.expected_net_recovery.minor_units,
            "months_to_recovery": self.months_to_recovery,
            "upfront_costs_cents": c(self.upfront_costs),
            "legal_costs_cents": c(self.legal_costs),
            "court_costs_avoided_cents": self.court_costs_avoided.minor_units,
            "settlement_offer_cents": c(self.settlement_offer),
            "currency": self.currency.code,
            "reasons": list(self.reasons),
            "explanation": [line.as_dict() for line in self.lines],
        }


def blocking_reasons(inputs: ScreeningInputs) -> list[str]:
    """Why the case may never be handed over now (empty: nothing blocks).

    Checked again when a handover is approved, not only when it was screened.
    """
    out = []
    if inputs.in_counselling:
        out.append("the debtor is in debt counselling: the counsellor's settlement comes first")
    if inputs.vulnerable:
        out.append("the debtor is flagged vulnerable: refer to debt help, do not sue")
    if inputs.holds:
        out.append(f"the case is on hold ({', '.join(inputs.holds)}): no collection action")
    if inputs.kept_plan:
        out.append("the debtor is keeping a payment plan")
    return out


def screen(inputs: ScreeningInputs, thresholds: Thresholds) -> Screening:
    """Screen one case; see the module docstring for the rules and the figures."""
    return _Screener(inputs, thresholds).run()


class _Screener:
    def __init__(self, inputs: ScreeningInputs, thresholds: Thresholds) -> None:
        self.i = inputs
        self.t = thresholds
        self.cur = inputs.currency
        self.lines: list[Line] = []
        for m in (inputs.principal, inputs.interest, inputs.costs, inputs.other_debts_total):
            if m.currency is not self.cur:
                raise ValidationError(f"{m} is not in {self.cur.code}", field="currency")
        if inputs.capacity is not None and inputs.capacity.currency is not self.cur:
            raise ValidationError("the capacity is in another currency", field="capacity")

    def money(self, value: Decimal) -> Money:
        return Money.rounded(value, self.cur)

    def add(self, figure: str, value: object, source: str) -> None:
        text = value if isinstance(value, str) else str(value)
        self.lines.append(Line(figure, text, source))

    def run(self) -> Screening:
        i, t = self.i, self.t
        zero = Money.zero(self.cur)
        outstanding = i.outstanding
        self.add("outstanding principal", i.principal, "case ledger (open principal)")
        self.add("outstanding interest", i.interest, "case ledger (open interest)")
        self.add("outstanding collection costs", i.costs, "case ledger (open costs)")
        self.add("outstanding total", outstanding, "principal + interest + costs")
        upfront: Money | None = None
        legal: Money | None = None
        cc = i.court_costs
        if cc is not None:
            upfront = cc.total_upfront
            legal = upfront
            self.add("court fee", cc.court_fee.amount, cc.court_fee.source)
            self.add("bailiff: summons", cc.summons.amount, cc.summons.source)
            for name, line in (
                ("bailiff: service of judgment", cc.service_of_judgment),
                ("bailiff: attachment of earnings", cc.wage_garnishment),
            ):
                if line is None:
                    self.add(name, "not known (counted as 0.00)", "; ".join(cc.unknown))
                else:
                    self.add(name, line.amount, line.source)
                    legal = legal + line.amount
            self.add("upfront court costs", upfront, "court fee + summons")
            self.add("legal costs in all", legal, "court fee + bailiff acts known for the date")
        else:
            self.add("court costs", "not known", i.court_costs_unknown or "no table")
        cap = i.capacity
        self.add(
            "monthly repayment capacity",
            "unknown" if cap is None else cap,
            i.capacity_source,
        )
        self.add("protected minimum", i.protected.value.replace("_", " "), i.protected_source)
        self.add("other open debts", i.other_debts_count, "the person's open cases, all creditors")
        self.add("other open debts, total", i.other_debts_total, "open amounts of those cases")
        self.add("creditors", i.creditors, "distinct creditors of the person's open cases")
        self.add("vulnerable", _yes(i.vulnerable), "vulnerability-review hold on a case")
        self.add("holds", ", ".join(i.holds) or "none", "holds active on the date")
        self.add("in debt counselling", _yes(i.in_counselling), "open referral / counselling hold")
        self.add("keeping a payment plan", _yes(i.kept_plan), "active plan without misses")
        self.add(
            "payments in the last 12 months",
            f"{i.payments_last_12_months} ({i.paid_last_12_months})",
            "payments booked on the case",
        )
        self.add("creditor sector", i.sector.value, f"{POLICY} (sector)")
        self.add("personal contact before", _yes(i.personal_contact), "call tasks and events")
        self.add(
            "commitments", ", ".join(i.commitments.as_list()) or "none", f"{POLICY} (commitments)"
        )
        for key in (
            "min_net_recovery",
            "min_recovery_ratio",
            "max_months_to_recovery",
            "max_plan_months",
            "write_off_max",
            "referral_creditors",
            "settlement_months",
            "allow_essential_services",
        ):
            value = getattr(t, key)
            shown = _yes(value) if isinstance(value, bool) else str(value)
            self.add(f"threshold {key}", shown, t.source(key))

        # what suing would bring, when the capacity is known
        share = zero
        recovered = zero
        net = zero
        months: int | None = None
        plan_months = 0
        if cap is not None and cap.is_positive and outstanding.is_positive:
            everything = outstanding + i.other_debts_total
            share = Money(
                (cap.amount * outstanding.amount / everything.amount).quantize(
                    self.cur.quantum, rounding=ROUND_DOWN
                ),
                self.cur,
            )
            self.add(
                "capacity share for this case",
                share,
                f"capacity × {outstanding} ÷ all open debts {everything} (pro rata, rounded down)",
            )
        if share.is_positive:
            plan_months = _ceil_div(outstanding.amount, share.amount)
            self.add("months to repay by a plan", plan_months, "outstanding ÷ share, rounded up")
            if legal is not None:
                claim = outstanding + legal
                recovered = claim.min(share.times(Decimal(t.max_months_to_recovery)))
                net = recovered - legal
                months = _ceil_div(claim.amount, share.amount)
                self.add(
                    "expected recovery by suing",
                    recovered,
                    f"min(outstanding + legal costs, share × {t.max_months_to_recovery} months)",
                )
                self.add("expected net recovery", net, "expected recovery − legal costs")
                self.add(
                    "months to recovery by suing",
                    months,
                    "(outstanding + legal costs) ÷ share, rounded up",
                )
                self.add(
                    "debt after suing",
                    claim + i.other_debts_total,
                    "all open debts + legal costs awarded against the debtor",
                )

        def done(
            outcome: Outcome,
            alternative: Alternative | None,
            reason: str,
            offer: Money | None = None,
        ) -> Screening:
            avoided = zero if outcome is Outcome.PROCEED or upfront is None else upfront
            reasons = [reason]
            if outcome is not Outcome.PROCEED and upfront is not None:
                reasons.append(
                    f"Not suing avoids {self.cur.code} {upfront} of upfront court costs."
                )
            if offer is not None:
                self.add("settlement offer", offer, f"share × {t.settlement_months} months")
            return Screening(
                outcome,
                alternative,
                tuple(reasons),
                tuple(self.lines),
                self.cur,
                recovered,
                net,
                months,
                upfront,
                legal,
                avoided,
                offer,
            )

        # 1. protection first
        if i.in_counselling:
            return done(Outcome.DO_NOT_PROCEED, None, _cap(blocking_reasons(i)[0]) + ".")
        if i.vulnerable:
            return done(
                Outcome.ALTERNATIVE,
                Alternative.REFERRAL,
                "The debtor is flagged vulnerable: refer to debt help; a summons would only "
                "add costs and stress.",
            )
        if i.holds:
            return done(
                Outcome.DO_NOT_PROCEED,
                None,
                f"The case is on hold ({', '.join(i.holds)}): no collection action while it lasts.",
            )
        if i.kept_plan:
            return done(
                Outcome.DO_NOT_PROCEED,
                None,
                "The debtor is keeping a payment plan: a kept plan is never handed over.",
            )
        # 2. unknown capacity
        if cap is None:
            return done(
                Outcome.ALTERNATIVE,
                Alternative.PERSONAL_CONTACT,
                "The debtor's repayment capacity is unknown: make personal contact and ask "
                "for an income & expenditure statement before any legal step.",
            )
        # 3. the protected minimum
        if i.protected is ProtectedStatus.AT_MINIMUM or not share.is_positive:
            why = (
                "the debtor's income is at or below the protected minimum"
                if i.protected is ProtectedStatus.AT_MINIMUM
                else "the debtor has no repayment capacity left"
            )
            if outstanding.amount <= t.write_off_max:
                return done(
                    Outcome.ALTERNATIVE,
                    Alternative.WRITE_OFF,
                    f"{_cap(why)}; the balance of {outstanding} is at most the write-off "
                    f"limit of {t.write_off_max}: write it off.",
                )
            return done(
                Outcome.ALTERNATIVE,
                Alternative.REFERRAL,
                f"{_cap(why)}: a judgment cannot be enforced against the protected minimum "
                "and would only add costs; refer to debt help.",
            )
        # 4. debt-help criteria over all the person's debts
        reasons = referral_reasons(
            total_debt=outstanding + i.other_debts_total,
            capacity_per_month=cap,
            max_months=i.referral_term_months,
            creditors=i.creditors,
            vulnerable=False,
            min_creditors=t.referral_creditors,
        )
        if reasons:
            self.add(
                "debt-help term",
                f"{i.referral_term_months} months",
                i.referral_term_source,
            )
            return done(
                Outcome.ALTERNATIVE,
                Alternative.REFERRAL,
                " ".join(r.explanation for r in reasons) + " Refer to debt help instead of suing.",
            )
        fits_plan = plan_months <= t.max_plan_months
        offer = share.times(Decimal(t.settlement_months)).min(outstanding)
        # 5. essential services
        if i.sector in ESSENTIAL_SECTORS and not t.allow_essential_services:
            risk = "home" if i.sector is Sector.HOUSING else f"{i.sector.value} supply"
            if fits_plan:
                return done(
                    Outcome.ALTERNATIVE,
                    Alternative.LONG_PLAN,
                    f"Suing a {i.sector.value} debt puts the debtor's {risk} at risk; a plan of "
                    f"{plan_months} months repays it without court costs.",
                )
            return done(
                Outcome.ALTERNATIVE,
                Alternative.SETTLEMENT_OFFER,
                f"Suing a {i.sector.value} debt puts the debtor's {risk} at risk; offer to "
                f"settle for {offer}, what the debtor can pay in {t.settlement_months} months.",
                offer,
            )
        # 6. a debtor who pays
        if i.payments_last_12_months > 0 and fits_plan:
            return done(
                Outcome.ALTERNATIVE,
                Alternative.LONG_PLAN,
                f"The debtor paid {i.payments_last_12_months} time(s) in the last 12 months and "
                f"can repay this case in {plan_months} months by a plan, without court costs.",
            )
        # 7. the pay-off check needs the costs
        if legal is None or upfront is None or months is None:
            return done(
                Outcome.DO_NOT_PROCEED,
                None,
                "The court costs for this date are not known, so the pay-off check cannot "
                f"be made: {i.court_costs_unknown}",
            )
        # 8. does it pay off?
        min_net = self.money(t.min_net_recovery)
        min_ratio_amount = outstanding.times(t.min_recovery_ratio)
        failures = []
        if net < min_net:
            failures.append(f"net recovery {net} is below the minimum of {min_net}")
        if net < min_ratio_amount:
            failures.append(
                f"net recovery {net} is below {t.min_recovery_ratio} × outstanding "
                f"({min_ratio_amount})"
            )
        if months > t.max_months_to_recovery:
            failures.append(f"recovery takes {months} months, more than {t.max_months_to_recovery}")
        if failures:
            why = "Suing does not pay off: " + "; ".join(failures)
            if outstanding.amount <= t.write_off_max:
                return done(
                    Outcome.ALTERNATIVE,
                    Alternative.WRITE_OFF,
                    f"{why}. The balance of {outstanding} is at most the write-off limit.",
                )
            if fits_plan:
                return done(
                    Outcome.ALTERNATIVE,
                    Alternative.LONG_PLAN,
                    f"{why}. A plan of {plan_months} months repays it without court costs.",
                )
            return done(
                Outcome.ALTERNATIVE,
                Alternative.SETTLEMENT_OFFER,
                f"{why}. Offer to settle for {offer}, what the debtor can pay in "
                f"{t.settlement_months} months.",
                offer,
            )
        # 9. the creditor's commitment to personal contact
        if "personal_contact_before_summons" in i.commitments and not i.personal_contact:
            return done(
                Outcome.ALTERNATIVE,
                Alternative.PERSONAL_CONTACT,
                "The creditor committed to a personal contact attempt before any summons, "
                "and there has been none yet.",
            )
        return done(
            Outcome.PROCEED,
            None,
            f"Suing pays off: expected net recovery {net} within {months} months; legal "
            f"costs {legal} (upfront {upfront}). A second person with authority must approve.",
        )


def _ceil_div(a: Decimal, b: Decimal) -> int:
    q = a / b
    whole = int(q.to_integral_value(rounding=ROUND_DOWN))
    return whole if whole == q else whole + 1


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
