"""What a debtor arranges in the portal: a budget, a plan, a deferral, and how it went.

Glue between the portal's pages and the services agents and the CLI use
(:mod:`respite.services.affordability`, :mod:`respite.services.plans`): the same policy
checks and the same events, with the debtor as the actor (``debtor:portal``) and the
business date passed in. What this module adds:

* **ownership**: every function takes the logged-in *person* and acts only on that
  person's open cases; another person's reference is treated exactly like an unknown one
  (:class:`NotFound`, which the portal answers with 404);
* **the income & expenditure wizard**: a :class:`BudgetDraft` filled step by step, each
  step validated in the debtor's own number format (``1.850,00`` or ``1,850.00``);
  storing it goes through ``record_statement`` and puts a ``budget_statement`` event on
  the timeline of each of the person's open cases (``record_statement`` writes none);
* **the plan offer for all the person's open cases** (one coordinated plan, shared pro
  rata by principal): choosing an offered option or proposing an own amount both call
  :func:`respite.services.plans.propose`, which activates a proposal within policy at once
  and sends anything else to an agent;
* **deferral** through :func:`respite.services.plans.defer`, with the choices the page
  offers and a guard against asking twice;
* **the satisfaction question**: a ``feedback`` row (score and comment) and, on each case
  concerned, a ``satisfaction`` event with the score only — the comment may be personal
  and stays out of the timeline. ``satisfaction`` is the kind the social report averages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from respite.adapters.db.models import (
    BudgetStatement,
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Feedback,
    Hold,
    OutboxMessage,
    Plan,
    PlanCase,
)
from respite.domain.affordability import CATEGORIES, Household, Section, Statement, section_of
from respite.domain.lifecycle import HoldKind
from respite.domain.money import Currency, Money, parse_amount
from respite.domain.plans import PlanPolicy
from respite.errors import ConflictError, InputError, NotAllowed, ValidationError
from respite.rules.affordability import load_protected_income
from respite.rules.loader import JURISDICTIONS
from respite.services import affordability, plans
from respite.services.people import debtor_ids_of_person, open_case_ids_of_person
from respite.services.store import event_row

__all__ = [
    "ACTOR",
    "DEFERRAL_WEEKS",
    "FEEDBACK_ACTIONS",
    "HOUSING",
    "N_",
    "REVIEW_REPLY_DAYS",
    "STEPS",
    "STEP_CATEGORIES",
    "BudgetCheck",
    "BudgetDraft",
    "BudgetView",
    "DeferralPage",
    "FieldError",
    "NotFound",
    "Offer",
    "PlanPage",
    "budget_check",
    "budget_currency",
    "budget_view",
    "check_deferral_form",
    "choose_option",
    "deferral_page",
    "draft_from_latest",
    "offer_currency",
    "own_case",
    "parse_amount_step",
    "parse_feedback",
    "parse_household",
    "parse_money",
    "plan_page",
    "propose_own",
    "record_feedback",
    "request_deferral",
    "save_budget",
]

ACTOR = "debtor:portal"
# The agency's promise on the page: an agent answers a proposal or a long deferral within
# this many days (a service level, not a legal term).
REVIEW_REPLY_DAYS = 5
HOUSING = ("rent", "own", "other")
# The wizard: one short page per step. The fixed costs are split over two pages so that
# no page asks more than seven amounts; every category of the statement is asked once.
_HOME = ("housing", "local_taxes", "energy", "water", "phone_internet")
STEP_CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "income": CATEGORIES[Section.INCOME],
    "home": _HOME,
    "fixed": tuple(c for c in CATEGORIES[Section.FIXED] if c not in _HOME),
    "living": CATEGORIES[Section.FLEXIBLE],
}
STEPS = ("household", *STEP_CATEGORIES)
MAX_CHILDREN = 20
# A monthly amount above this is a typing error (an extra zero), not a budget line.
MAX_MONTHLY_CENTS = 100_000_000
DEFERRAL_WEEKS = (1, 2, 4, 8, 12)
MAX_REASON = 500
MAX_COMMENT = 1000
# Actions the satisfaction question follows (the care and pay pages ask it too).
FEEDBACK_ACTIONS = ("budget", "plan", "defer", "pay", "dispute", "help", "circumstances")


def N_(text: str) -> str:
    """Mark a message shown to the debtor; the portal translates it when it renders."""
    return text


class NotFound(LookupError):
    """The reference is not one of the person's open cases (or there is no such case)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """A message for one form field: an English msgid and its values, for the translator."""

    name: str  # the form field
    message: str
    values: Mapping[str, str] = field(default_factory=dict)


# -- ownership --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnCase:
    case_id: int
    reference: str
    creditor: str
    creditor_policy: Mapping[str, Any]


def own_case(conn: Connection, person_id: int, reference: str) -> OwnCase:
    """The person's open case ``reference``; :class:`NotFound` for anyone else's."""
    ids = open_case_ids_of_person(conn, person_id)
    row = conn.execute(
        select(Case.id, Case.reference, Creditor.name, Creditor.policy)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.reference == reference.strip().upper(), Case.id.in_(ids))
    ).first()
    if row is None:
        raise NotFound(reference)
    return OwnCase(int(row.id), str(row.reference), str(row.name), row.policy or {})


def _anchor_reference(conn: Connection, person_id: int) -> str | None:
    """One open case of the person: the plans service finds all the others from it."""
    ids = open_case_ids_of_person(conn, person_id)
    if not ids:
        return None
    return str(conn.execute(select(Case.reference).where(Case.id == ids[0])).scalar_one())


# -- the income & expenditure wizard ------------------------------------------------------


@dataclass
class BudgetDraft:
    """What the debtor has filled in so far (kept in a sealed cookie between the steps)."""

    adults: int | None = None
    children: int | None = None
    housing: str | None = None
    amounts: dict[str, int] = field(default_factory=dict)  # category -> cents
    done: list[str] = field(default_factory=list)  # steps saved at least once

    @property
    def household(self) -> Household | None:
        if self.adults is None or self.children is None:
            return None
        with_children = self.children > 0
        if self.adults == 1:
            return Household.SINGLE_PARENT if with_children else Household.SINGLE
        return Household.COUPLE_WITH_CHILDREN if with_children else Household.COUPLE

    def first_missing_step(self) -> str | None:
        return next((s for s in STEPS if s not in self.done), None)

    def mark_done(self, step: str) -> None:
        if step not in self.done:
            self.done.append(step)

    def statement(self, currency: Currency) -> Statement:
        household = self.household
        if household is None:
            raise ValidationError("the household is not filled in yet", field="household")
        return Statement.from_lines(
            household,
            currency,
            {c: Money.from_minor_units(v, currency) for c, v in self.amounts.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "adults": self.adults,
            "children": self.children,
            "housing": self.housing,
            "amounts": dict(self.amounts),
            "done": list(self.done),
        }

    @classmethod
    def from_json(cls, data: object) -> BudgetDraft:
        """A draft from stored JSON; anything malformed is dropped, never trusted."""
        if not isinstance(data, Mapping):
            return cls()

        def whole(value: object, low: int, high: int) -> int | None:
            ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
            return value if ok else None  # type: ignore[return-value]

        raw_amounts = data.get("amounts")
        amounts = {
            str(k): v
            for k, v in (raw_amounts.items() if isinstance(raw_amounts, Mapping) else ())
            if k in _SECTION_OF_KNOWN and whole(v, 0, MAX_MONTHLY_CENTS) is not None
        }
        raw_done = data.get("done")
        done = [s for s in STEPS if isinstance(raw_done, list) and s in raw_done]
        housing = data.get("housing")
        return cls(
            adults=whole(data.get("adults"), 1, 2),
            children=whole(data.get("children"), 0, MAX_CHILDREN),
            housing=housing if housing in HOUSING else None,
            amounts=amounts,
            done=done,
        )


_SECTION_OF_KNOWN = frozenset(c for names in STEP_CATEGORIES.values() for c in names)


def parse_household(form: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """The household step: adults (1 or 2), children (0-20), housing (rent, own, other)."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    adults = form.get("adults", "").strip()
    if adults in ("1", "2"):
        values["adults"] = int(adults)
    else:
        errors.append(FieldError("adults", N_("Choose whether you live alone or with a partner.")))
    children = form.get("children", "").strip()
    if children.isdigit() and int(children) <= MAX_CHILDREN:
        values["children"] = int(children)
    else:
        errors.append(
            FieldError(
                "children",
                N_("Fill in a number from 0 to %(max)s."),
                {"max": str(MAX_CHILDREN)},
            )
        )
    housing = form.get("housing", "").strip()
    if housing in HOUSING:
        values["housing"] = housing
    else:
        errors.append(FieldError("housing", N_("Choose how you live.")))
    return values, errors


def parse_money(
    name: str, text: str, currency: Currency, decimal_separator: str
) -> tuple[int | None, list[FieldError]]:
    """One amount typed by the debtor, in cents; ``None`` for an empty field."""
    text = text.strip()
    if not text:
        return None, []
    try:
        value = parse_amount(text, currency, decimal_separator=decimal_separator)
    except InputError:
        example = "250,50" if decimal_separator == "," else "250.50"
        message = N_("Fill in an amount in numbers, for example %(example)s.")
        return None, [FieldError(name, message, {"example": example})]
    cents = Money(value, currency).minor_units
    if cents < 0:
        return None, [FieldError(name, N_("Fill in an amount of 0 or more."))]
    if cents > MAX_MONTHLY_CENTS:
        message = N_("This amount is too high. Fill in the amount per month.")
        return None, [FieldError(name, message)]
    return cents, []


def parse_amount_step(
    step: str, form: Mapping[str, str], currency: Currency, decimal_separator: str
) -> tuple[dict[str, int], list[FieldError]]:
    """Amounts per month of one step; an empty field means nothing in that category."""
    amounts: dict[str, int] = {}
    errors: list[FieldError] = []
    for category in STEP_CATEGORIES[step]:
        cents, problems = parse_money(category, form.get(category, ""), currency, decimal_separator)
        errors += problems
        if cents is not None:
            amounts[category] = cents
    return amounts, errors


def _jurisdiction(conn: Connection, person_id: int) -> str:
    country = conn.execute(select(Debtor.country).where(Debtor.id == person_id)).scalar()
    code = str(country or "").strip().upper()
    if code not in JURISDICTIONS:
        raise NotAllowed(f"no budget rules for the country {code!r}")
    return code


def budget_currency(engine: Engine, person_id: int) -> Currency:
    """The currency of the person's statement: that of their country's rules."""
    with engine.connect() as conn:
        return load_protected_income(_jurisdiction(conn, person_id)).currency


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """The wizard's last page: the totals, the remarks to confirm, the capacity."""

    currency: str
    income_cents: int
    fixed_cents: int
    living_cents: int
    protected_cents: int
    capacity_cents: int
    flags: tuple[Mapping[str, str], ...]  # code, category, severity, message (English)


def budget_check(engine: Engine, person_id: int, draft: BudgetDraft, *, on: date) -> BudgetCheck:
    """The statement the draft makes, checked with the person's country's rules."""
    with engine.connect() as conn:
        code = _jurisdiction(conn, person_id)
    currency = load_protected_income(code).currency
    statement = draft.statement(currency)
    summary = affordability.check_statement(
        statement, jurisdiction=code, on=on, children=draft.children or 0
    )
    return BudgetCheck(
        currency.code,
        statement.total_income.minor_units,
        statement.total(Section.FIXED).minor_units,
        statement.total(Section.FLEXIBLE).minor_units,
        Money.of(summary["protected"]["protected"], currency).minor_units,
        Money.of(summary["capacity"]["capacity"], currency).minor_units,
        tuple(summary["flags"]),
    )


def save_budget(
    engine: Engine, person_id: int, draft: BudgetDraft, *, on: date, at: datetime, confirmed: bool
) -> int:
    """Store the statement and put it on the timeline of each of the person's open cases.

    Stored against the person's own debtor record (the person key is a debtor id), which
    is where :func:`respite.services.plans.offer` and ``latest_capacity`` look.
    """
    with engine.begin() as conn:
        code = _jurisdiction(conn, person_id)
        currency = load_protected_income(code).currency
        statement = draft.statement(currency)
        summary = affordability.record_statement(
            conn,
            person_id,
            statement,
            household=statement.household,
            on=on,
            source="portal",
            confirmed=confirmed,
            jurisdiction=code,
            children=draft.children or 0,
        )
        rows = [
            event_row(
                case_id,
                on,
                at,
                ACTOR,
                "budget_statement",
                "income and expenditure given in the portal",
                {
                    "statement": summary["id"],
                    "capacity": summary["capacity"]["capacity"],
                    "currency": currency.code,
                    "needs_confirmation": summary["needs_confirmation"],
                    # Not columns of budget_statements; kept here to fill the form next time.
                    "children": draft.children or 0,
                    "housing": draft.housing,
                },
            )
            for case_id in open_case_ids_of_person(conn, person_id)
        ]
        if rows:
            conn.execute(insert(Event), rows)
    return int(summary["id"])


@dataclass(frozen=True, slots=True)
class BudgetView:
    """The person's latest statement, as the budget overview shows it."""

    statement_id: int
    submitted_on: date
    household: Household
    currency: str
    lines: Mapping[str, int]
    income_cents: int
    fixed_cents: int
    living_cents: int
    savings_cents: int
    protected_cents: int
    capacity_cents: int

    @property
    def left_cents(self) -> int:
        """Income minus every cost (negative when the costs are higher)."""
        return self.income_cents - self.fixed_cents - self.living_cents - self.savings_cents

    @property
    def limit_cents(self) -> int:
        """The most a month that leaves the protected minimum untouched."""
        return max(0, self.income_cents - self.protected_cents)

    @property
    def protected_decides(self) -> bool:
        """True when the protected minimum, not the costs, sets the capacity."""
        return self.left_cents > self.limit_cents


def _latest_statement(conn: Connection, person_id: int) -> Any:
    return conn.execute(
        select(BudgetStatement)
        .where(BudgetStatement.debtor_id.in_(debtor_ids_of_person(conn, person_id)))
        .order_by(BudgetStatement.submitted_on.desc(), BudgetStatement.id.desc())
        .limit(1)
    ).first()


def budget_view(engine: Engine, person_id: int) -> BudgetView | None:
    """The latest statement of any of the person's debtor records; ``None`` if none."""
    with engine.connect() as conn:
        row = _latest_statement(conn, person_id)
    if row is None:
        return None
    lines = {str(k): int(str(v)) for k, v in (row.lines or {}).items()}
    by_section = {s: 0 for s in Section}
    for category, cents in lines.items():
        if category != "savings":
            by_section[section_of(category)] += cents
    return BudgetView(
        int(row.id),
        row.submitted_on,
        Household(row.household),
        row.currency,
        lines,
        int(row.income_cents),
        by_section[Section.FIXED],
        by_section[Section.FLEXIBLE],
        lines.get("savings", 0),
        int(row.protected_cents),
        int(row.capacity_cents),
    )


def draft_from_latest(engine: Engine, person_id: int) -> BudgetDraft:
    """A draft filled in from the person's latest statement (empty when there is none)."""
    with engine.connect() as conn:
        row = _latest_statement(conn, person_id)
        if row is None:
            return BudgetDraft()
        extra: Mapping[str, Any] = {}
        for after in conn.execute(
            select(Event.after)
            .where(
                Event.case_id.in_(open_case_ids_of_person(conn, person_id)),
                Event.kind == "budget_statement",
            )
            .order_by(Event.id.desc())
            .limit(20)
        ).scalars():
            if isinstance(after, Mapping) and after.get("statement") == row.id:
                extra = after
                break
    household = Household(row.household)
    with_children = household in (Household.SINGLE_PARENT, Household.COUPLE_WITH_CHILDREN)
    children = extra.get("children")
    return BudgetDraft.from_json(
        {
            "adults": 1 if household in (Household.SINGLE, Household.SINGLE_PARENT) else 2,
            "children": children if isinstance(children, int) else int(with_children),
            "housing": extra.get("housing"),
            "amounts": {k: v for k, v in (row.lines or {}).items() if k != "savings"},
        }
    )


# -- the plan ---------------------------------------------------------------------------


def _cents(amount: str, currency: str) -> int:
    return Money.of(amount, currency).minor_units


@dataclass(frozen=True, slots=True)
class OfferOption:
    label: str  # "12 months", "your capacity", "in full": also the key the form sends
    months: int
    instalment_cents: int
    last_instalment_cents: int
    total_cents: int
    first_due: date
    interest_frozen: bool


@dataclass(frozen=True, slots=True)
class OfferCase:
    reference: str
    creditor: str
    balance_cents: int


@dataclass(frozen=True, slots=True)
class Offer:
    currency: str
    cases: tuple[OfferCase, ...]
    total_cents: int
    capacity_cents: int | None
    max_months: int
    min_instalment_cents: int
    interest_frozen: bool
    options: tuple[OfferOption, ...]


@dataclass(frozen=True, slots=True)
class LivePlan:
    plan_id: int
    status: str  # active | pending_review
    months: int
    instalment_cents: int
    total_cents: int
    first_due: date
    currency: str
    interest_frozen: bool
    cases: tuple[tuple[str, str, int], ...]  # reference, creditor, share of each instalment
    schedule: tuple[tuple[date, int, int], ...]  # due date, amount, paid


@dataclass(frozen=True, slots=True)
class PlanPage:
    live: tuple[LivePlan, ...]
    offer: Offer | None  # None while a plan runs or when nothing is owed
    has_statement: bool


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan_id: int
    status: str  # active | pending_review


def _live_plans(engine: Engine, person_id: int) -> tuple[LivePlan, ...]:
    with engine.connect() as conn:
        ids = open_case_ids_of_person(conn, person_id)
        found = conn.execute(
            select(Plan.id, Plan.currency)
            .join(PlanCase, PlanCase.plan_id == Plan.id)
            .where(PlanCase.case_id.in_(ids), Plan.status.in_(plans.LIVE_STATUSES))
            .distinct()
            .order_by(Plan.id)
        ).all()
    out = []
    for plan_id, cur in found:
        s = plans.plan_summary(engine, int(plan_id))
        out.append(
            LivePlan(
                int(plan_id),
                s["status"],
                s["months"],
                _cents(s["instalment"], cur),
                _cents(s["total"], cur),
                date.fromisoformat(s["first_due"]),
                cur,
                bool(s["interest_frozen"]),
                tuple((c["reference"], c["creditor"], _cents(c["share"], cur)) for c in s["cases"]),
                tuple(
                    (
                        date.fromisoformat(i["due_date"]),
                        _cents(i["amount"], cur),
                        _cents(i["paid"], cur),
                    )
                    for i in s["schedule"]
                ),
            )
        )
    return tuple(out)


def _offer(engine: Engine, reference: str, *, on: date, payday: int | None) -> Offer | None:
    try:
        raw = plans.offer(engine, reference, on=on, all_cases=True, payday=payday)
    except NotAllowed:  # nothing owed, or cases in different currencies
        return None
    currency = Currency.of(
        # every case of an offer is in one currency (offer refuses a mix)
        _case_currency(engine, raw["cases"][0]["reference"])
    ).code
    return Offer(
        currency,
        tuple(
            OfferCase(c["reference"], c["creditor"], _cents(c["balance"], currency))
            for c in raw["cases"]
        ),
        _cents(raw["total"], currency),
        None if raw["capacity"] is None else _cents(raw["capacity"], currency),
        int(raw["policy"]["max_months"]),
        _cents(raw["policy"]["min_instalment"], currency),
        bool(raw["policy"]["interest_frozen"]),
        tuple(
            OfferOption(
                o["label"],
                int(o["months"]),
                _cents(o["instalment"], currency),
                _cents(o["last_instalment"], currency),
                _cents(o["total"], currency),
                date.fromisoformat(o["first_due"]),
                bool(o["interest_frozen"]),
            )
            for o in raw["options"]
            # A settlement needs an agent to write the discount off; propose() books none.
            if _cents(o["discount"], currency) == 0
        ),
    )


def _case_currency(engine: Engine, reference: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(Claim.currency)
                .join(Case, Case.id == Claim.case_id)
                .where(Case.reference == reference)
                .limit(1)
            ).scalar_one()
        )


def offer_currency(engine: Engine, person_id: int) -> Currency:
    """The currency the person's debts are in (their country's when nothing is open)."""
    with engine.connect() as conn:
        anchor = _anchor_reference(conn, person_id)
    if anchor is None:
        return budget_currency(engine, person_id)
    return Currency.of(_case_currency(engine, anchor))


def plan_page(engine: Engine, person_id: int, *, on: date, payday: int | None) -> PlanPage:
    """The person's running or proposed plans; without one, the offer for all open cases."""
    live = _live_plans(engine, person_id)
    with engine.connect() as conn:
        # With a plan running there is nothing to offer: no anchor, no offer to compute.
        anchor = None if live else _anchor_reference(conn, person_id)
        has_statement = _latest_statement(conn, person_id) is not None
    offer = None if anchor is None else _offer(engine, anchor, on=on, payday=payday)
    return PlanPage(live, offer, has_statement)


def _propose(
    engine: Engine,
    person_id: int,
    *,
    on: date,
    at: datetime,
    instalment_cents: int,
    payday: int | None,
) -> PlanOutcome:
    with engine.connect() as conn:
        anchor = _anchor_reference(conn, person_id)
    if anchor is None:
        raise NotAllowed("there is no open case to arrange")
    result = plans.propose(
        engine,
        anchor,
        on=on,
        instalment_cents=instalment_cents,
        at=at,
        proposed_by=ACTOR,
        all_cases=True,
        payday=payday,
    )
    return PlanOutcome(int(result["plan"]), str(result["status"]))


def choose_option(
    engine: Engine,
    person_id: int,
    *,
    on: date,
    at: datetime,
    label: str,
    instalment_cents: int,
    payday: int | None,
) -> PlanOutcome:
    """Take one of the offered plans. The offer is made again now: an option that is gone
    or whose amount changed since the page was shown (interest, a payment) is a conflict,
    so the debtor never agrees to an amount they did not see."""
    if _live_plans(engine, person_id):
        raise ConflictError("a plan already covers these cases")
    with engine.connect() as conn:
        anchor = _anchor_reference(conn, person_id)
    offer = None if anchor is None else _offer(engine, anchor, on=on, payday=payday)
    option = next((o for o in offer.options if o.label == label), None) if offer else None
    if option is None or option.instalment_cents != instalment_cents:
        raise ConflictError("the offer has changed; choose again")
    return _propose(
        engine, person_id, on=on, at=at, instalment_cents=option.instalment_cents, payday=payday
    )


def propose_own(
    engine: Engine,
    person_id: int,
    *,
    on: date,
    at: datetime,
    instalment_cents: int,
    payday: int | None,
) -> PlanOutcome:
    """The debtor's own monthly amount: active at once within policy, else for review."""
    if instalment_cents <= 0:
        raise ValidationError("the amount must be more than 0", field="instalment")
    if _live_plans(engine, person_id):
        raise ConflictError("a plan already covers these cases")
    return _propose(
        engine, person_id, on=on, at=at, instalment_cents=instalment_cents, payday=payday
    )


# -- deferral ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeferralChoice:
    weeks: int
    days: int
    until: date  # the last day without collection
    within_policy: bool


@dataclass(frozen=True, slots=True)
class DeferralPage:
    reference: str
    creditor: str
    max_days: int
    choices: tuple[DeferralChoice, ...]
    active_until: date | None  # a deferral already running until (inclusive)
    review_pending: bool  # a longer deferral waits for an agent
    in_plan: bool


@dataclass(frozen=True, slots=True)
class DeferralOutcome:
    status: str  # granted | review
    until: date | None
    instalments_moved: int


def _deferral_state(conn: Connection, case_id: int, on: date) -> tuple[date | None, bool, bool]:
    until = conn.execute(
        select(Hold.until)
        .where(
            Hold.case_id == case_id,
            Hold.kind == HoldKind.DEFERRAL.value,
            Hold.start <= on,
            (Hold.until.is_(None)) | (Hold.until >= on),
        )
        .order_by(Hold.id.desc())
        .limit(1)
    ).first()
    review = conn.execute(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.case_id == case_id,
            OutboxMessage.template == "deferral_review",
            OutboxMessage.status == "queued",
        )
        .limit(1)
    ).first()
    in_plan = conn.execute(
        select(Plan.id)
        .join(PlanCase, PlanCase.plan_id == Plan.id)
        .where(PlanCase.case_id == case_id, Plan.status == "active")
        .limit(1)
    ).first()
    active = None
    if until is not None:
        # A deferral without an end date (placed by an agent) shows as running today.
        active = until[0] if until[0] is not None else on
    return active, review is not None, in_plan is not None


def deferral_page(engine: Engine, person_id: int, reference: str, *, on: date) -> DeferralPage:
    with engine.connect() as conn:
        case = own_case(conn, person_id, reference)
        active, review, in_plan = _deferral_state(conn, case.case_id, on)
    policy = PlanPolicy.from_policy(case.creditor_policy)
    choices = tuple(
        DeferralChoice(w, 7 * w, on + timedelta(days=7 * w - 1), 7 * w <= policy.max_deferral_days)
        for w in DEFERRAL_WEEKS
    )
    return DeferralPage(
        case.reference, case.creditor, policy.max_deferral_days, choices, active, review, in_plan
    )


def check_deferral_form(weeks: int | None, reason: str) -> list[FieldError]:
    """The deferral form: one of the offered periods, and a reason that is not too long."""
    errors = []
    if weeks not in DEFERRAL_WEEKS:
        errors.append(FieldError("weeks", N_("Choose how long you need.")))
    if len(reason.strip()) > MAX_REASON:
        message = N_("Use at most %(max)s characters.")
        errors.append(FieldError("reason", message, {"max": str(MAX_REASON)}))
    return errors


def request_deferral(
    engine: Engine,
    person_id: int,
    reference: str,
    *,
    on: date,
    at: datetime,
    weeks: int,
    reason: str,
) -> DeferralOutcome:
    """A deferral of ``weeks`` for one of the person's cases, through ``plans.defer``."""
    problems = check_deferral_form(weeks, reason)
    if problems:
        raise ValidationError(problems[0].message, field=problems[0].name)
    reason = reason.strip()
    page = deferral_page(engine, person_id, reference, on=on)
    if page.active_until is not None or page.review_pending:
        raise ConflictError("a deferral is already running or being reviewed")
    result = plans.defer(
        engine,
        page.reference,
        on=on,
        days=7 * weeks,
        actor=ACTOR,
        reason=reason or f"deferral of {weeks} week(s) asked in the portal",
        at=at,
    )
    until = date.fromisoformat(result["until"]) if "until" in result else None
    return DeferralOutcome(result["status"], until, int(result.get("instalments_moved", 0)))


# -- the satisfaction question ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedbackAnswer:
    action: str
    reference: str | None  # the case the action was about, if it was about one
    score: int
    comment: str | None


def parse_feedback(form: Mapping[str, str]) -> tuple[FeedbackAnswer | None, list[FieldError]]:
    """``action`` is ``plan`` or ``defer:R000000042`` (an action about one case)."""
    errors: list[FieldError] = []
    action, _, reference = form.get("action", "").strip().partition(":")
    if action not in FEEDBACK_ACTIONS:
        errors.append(FieldError("action", N_("This question is not about a known action.")))
    score = form.get("score", "").strip()
    if score not in ("1", "2", "3", "4", "5"):
        errors.append(FieldError("score", N_("Choose a score from 1 to 5.")))
    comment = form.get("comment", "").strip()
    if len(comment) > MAX_COMMENT:
        errors.append(
            FieldError("comment", "Use at most %(max)s characters.", {"max": str(MAX_COMMENT)})
        )
    if errors:
        return None, errors
    return FeedbackAnswer(action, reference.strip() or None, int(score), comment or None), []


def record_feedback(
    engine: Engine, person_id: int, answer: FeedbackAnswer, *, on: date, at: datetime
) -> int:
    """Store the answer; a ``satisfaction`` event (score only) on each case concerned.

    An action about one case concerns that case; any other concerns every open case of
    the person (a plan, a budget or a referral covers them all).
    """
    with engine.begin() as conn:
        if answer.reference is not None:
            case_ids: Sequence[int] = [own_case(conn, person_id, answer.reference).case_id]
        else:
            case_ids = open_case_ids_of_person(conn, person_id)
        feedback_id = conn.execute(
            insert(Feedback)
            .values(
                person_id=person_id,
                case_id=case_ids[0] if len(case_ids) == 1 else None,
                action=answer.action,
                score=answer.score,
                comment=answer.comment,
                business_date=on,
                recorded_at=at,
            )
            .returning(Feedback.id)
        ).scalar_one()
        if case_ids:
            conn.execute(
                insert(Event),
                [
                    event_row(
                        case_id,
                        on,
                        at,
                        ACTOR,
                        "satisfaction",
                        f"satisfaction question after '{answer.action}' answered",
                        {"action": answer.action, "score": answer.score, "feedback": feedback_id},
                    )
                    for case_id in case_ids
                ],
            )
    return int(feedback_id)
