"""The calculators: jurisdiction rule packs applied through the pure domain.

Each function takes parsed, typed input (Money, dates) and returns a JSON-ready dict with
amounts as strings of exactly two decimals, plus the sources of the rules used, so that a
figure can always be traced to the law it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from respite.adapters.calendars import is_holiday, is_working_day
from respite.domain.allocation import Bucket, allocate
from respite.domain.costs import FixedSum, Scale, fixed_sum_for, scale_amount, vat_uplift
from respite.domain.distribution import Debt, distribute_capacity
from respite.domain.interest import InterestResult, RatePiece, accrue_interest
from respite.domain.money import Currency, Money, allocate_pro_rata, money_sum
from respite.domain.notice import Channel, NoticeTerm, term_from_receipt, term_from_working_day
from respite.domain.references import create_rf
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.loader import load_pack
from respite.rules.packs import Aggregation, CostMethod, NoticeMethod, RulePack
from respite.rules.tables import RuleTable

__all__ = [
    "allocate_payment",
    "collection_costs",
    "cost_date",
    "interest",
    "reference",
]

DEBTOR_KINDS = ("consumer", "business")


def _pct(value: Decimal) -> str:
    """A percentage without trailing zeros: 8.00 -> '8', 12.25 -> '12.25'."""
    text = format(value.normalize(), "f")
    return text


def _check_currency(pack: RulePack, currency: Currency, allowed: Sequence[Currency]) -> None:
    if currency not in allowed:
        raise ValidationError(
            f"{pack.code} collection costs are computed in "
            f"{' or '.join(c.code for c in allowed)}, not {currency.code}",
            field="--currency",
        )


# collection costs ---------------------------------------------------------------


def collection_costs(
    jurisdiction: str,
    principals: Sequence[Money],
    *,
    debtor: str | None,
    on: date,
    vat_uplift_declared: bool = False,
    paid_in_term: Money | None = None,
    eur_rate: Decimal | None = None,
) -> dict[str, Any]:
    """Statutory collection costs for claims covered by one reminder.

    ``on`` is the date that decides which rule applies: for NL and BE the date of the
    reminder, for PL the due date of the invoices (it also picks the NBP EUR rate).
    """
    pack = load_pack(jurisdiction)
    if debtor is None:
        debtor = pack.default_debtor
    if debtor not in DEBTOR_KINDS:
        raise ValidationError(f"must be consumer or business, got {debtor!r}", field="--debtor")
    if not principals:
        raise ValidationError("give at least one principal", field="--principal")
    currency = principals[0].currency
    for p in principals:
        if not p.is_positive:
            raise ValidationError(
                f"a principal must be more than zero, got {p}", field="--principal"
            )
    rule = pack.costs_for(debtor)
    result: dict[str, Any] = {
        "jurisdiction": pack.code,
        "debtor": debtor,
        "on": on.isoformat(),
        "rule": rule.title,
    }
    if rule.method is CostMethod.SCALE:
        _check_currency(pack, currency, [pack.currency])
        scale = _required(rule.scale, rule.title)
        result.update(_scale_costs(scale, rule.aggregation, principals, on, paid_in_term))
    elif rule.method is CostMethod.FIXED:
        _check_currency(pack, currency, [pack.currency])
        row = _required(rule.fixed, rule.title).at(on)
        per_claim = [Money(row.value, currency) for _ in principals]
        total = money_sum(per_claim, currency)
        result.update(
            costs=str(total),
            currency=currency.code,
            per_claim=[
                {"principal": str(p), "costs": str(c)}
                for p, c in zip(principals, per_claim, strict=True)
            ],
            source=row.source,
        )
    elif rule.method is CostMethod.EUR_BANDS:
        _check_currency(pack, currency, [Currency.PLN, Currency.EUR])
        bands = _required(rule.bands, rule.title)
        result.update(_eur_band_costs(pack, bands, principals, on, eur_rate))
    else:
        result.update(costs=str(Money.zero(currency)), currency=currency.code, source=rule.title)
    if paid_in_term is not None and rule.method is not CostMethod.SCALE:
        raise ValidationError(
            f"{pack.code} {debtor} costs are not recomputed after a partial payment",
            field="--paid-in-term",
        )
    if vat_uplift_declared:
        if pack.vat is None:
            raise ValidationError(
                f"{pack.code} has no VAT uplift on collection costs", field="--vat-uplift"
            )
        vat_row = pack.vat.at(on)
        base = Money.of(result["costs"], currency)
        with_vat = vat_uplift(base, vat_row.value)
        result.update(
            costs_excluding_vat=str(base),
            vat=str(with_vat - base),
            vat_percent=_pct(vat_row.value),
            vat_source=vat_row.source,
            costs=str(with_vat),
            vat_note=(
                "VAT added only because the creditor declares that it cannot deduct the VAT "
                "it pays on collection services (Besluit BIK art. 2 lid 3)"
            ),
        )
    if rule.note:
        result["note"] = rule.note
    result["notice_required"] = rule.notice_required
    return result


T = TypeVar("T")


def _required(table: RuleTable[T] | None, what: str) -> RuleTable[T]:
    if table is None:
        raise RuleCoverageError(f"the rule pack has no table for {what}")
    return table


def _scale_costs(
    table: RuleTable[Scale],
    aggregation: Aggregation,
    principals: Sequence[Money],
    on: date,
    paid_in_term: Money | None,
) -> dict[str, Any]:
    row = table.at(on)
    currency = principals[0].currency
    if aggregation is Aggregation.SUM:
        basis = money_sum(principals, currency)
        out: dict[str, Any] = {"basis": str(basis)}
        if paid_in_term is not None:
            if paid_in_term.is_negative or paid_in_term > basis:
                raise ValidationError(
                    f"must be between 0 and the principal {basis}", field="--paid-in-term"
                )
            # HR 25-11-2016 (ECLI:NL:HR:2016:2704): a partial payment inside the 14-day
            # term means the costs are recomputed over the unpaid remainder.
            out["costs_announced"] = str(scale_amount(basis, row.value))
            out["paid_in_term"] = str(paid_in_term)
            basis = basis - paid_in_term
            out["basis"] = str(basis)
            costs = Money.zero(currency) if basis.is_zero else scale_amount(basis, row.value)
        else:
            costs = scale_amount(basis, row.value)
        out.update(costs=str(costs), currency=currency.code, aggregation="sum", source=row.source)
        return out
    per_claim = [scale_amount(p, row.value) for p in principals]
    return {
        "costs": str(money_sum(per_claim, currency)),
        "currency": currency.code,
        "aggregation": "per_claim",
        "per_claim": [
            {"principal": str(p), "costs": str(c)}
            for p, c in zip(principals, per_claim, strict=True)
        ],
        "source": row.source,
    }


def _eur_band_costs(
    pack: RulePack,
    table: RuleTable[tuple[FixedSum, ...]],
    principals: Sequence[Money],
    due: date,
    eur_rate: Decimal | None,
) -> dict[str, Any]:
    """PL art. 10: EUR 40 / 70 / 100 per invoice by its PLN amount, converted to PLN."""
    row = table.at(due)
    currency = principals[0].currency
    rate, rate_date, rate_source = _nbp_rate(pack, due, eur_rate)
    per_claim = []
    total = Money.zero(currency)
    for p in principals:
        in_pln = p.amount if currency is Currency.PLN else p.amount * rate
        band = fixed_sum_for(in_pln, row.value)
        eur = Money(band.amount, Currency.EUR)
        due_amount = (
            Money.rounded(band.amount * rate, Currency.PLN) if currency is Currency.PLN else eur
        )
        total = total + due_amount
        per_claim.append(
            {"principal": str(p), "compensation_eur": str(eur), "costs": str(due_amount)}
        )
    out: dict[str, Any] = {
        "costs": str(total),
        "currency": currency.code,
        "aggregation": "per_claim",
        "per_claim": per_claim,
        "eur_pln_rate": format(rate, "f"),
        "rate_source": rate_source,
        "source": row.source,
    }
    if rate_date is not None:
        out["rate_date"] = rate_date.isoformat()
    return out


def _nbp_rate(pack: RulePack, due: date, given: Decimal | None) -> tuple[Decimal, date | None, str]:
    if given is not None:
        if given <= 0:
            raise ValidationError("must be more than zero", field="--eur-rate")
        return given, None, "rate given by the user"
    day = date(due.year, due.month, 1) - timedelta(days=1)
    while not is_working_day(pack.calendar, day):
        day -= timedelta(days=1)
    table = pack.eur_rates
    if table is None or not any(r.valid_from == day for r in table.rows):
        where = pack.extra.get("eur_rates_file", "the EUR rate table")
        raise RuleCoverageError(
            f"no NBP average EUR rate for {day.isoformat()} (the last working day of the month "
            f"before the due date) in {where}; add it there or pass --eur-rate"
        )
    row = table.at(day)
    return row.value, day, row.source


def costs_per_claim(
    pack: RulePack,
    debtor: str,
    principals: Sequence[Money],
    *,
    on: date,
    vat_uplift_declared: bool = False,
    due_dates: Sequence[date] | None = None,
) -> list[Money]:
    """Collection costs split per claim, by the pack's aggregation rule (for the ledger).

    Summed scales (NL, BE consumers) are computed once over the sum and split pro rata to
    the principals, so the parts add up to the statutory amount exactly. PL converts each
    invoice's EUR sum at the NBP rate for that invoice's due date (``due_dates``).
    """
    rule = pack.costs_for(debtor)
    currency = principals[0].currency
    zero = Money.zero(currency)
    if rule.method is CostMethod.NONE or not any(p.is_positive for p in principals):
        return [zero for _ in principals]
    if rule.method is CostMethod.SCALE:
        scale = _required(rule.scale, rule.title).value_at(on)
        if rule.aggregation is Aggregation.SUM:
            total = scale_amount(money_sum(principals, currency), scale)
            if vat_uplift_declared and pack.vat is not None:
                total = vat_uplift(total, pack.vat.value_at(on))
            return allocate_pro_rata(total, [p.amount for p in principals])
        parts = [scale_amount(p, scale) if p.is_positive else zero for p in principals]
    elif rule.method is CostMethod.FIXED:
        fixed = _required(rule.fixed, rule.title).value_at(on)
        parts = [Money(fixed, currency) if p.is_positive else zero for p in principals]
    else:
        bands = _required(rule.bands, rule.title)
        parts = []
        for i, p in enumerate(principals):
            due = due_dates[i] if due_dates else on
            rate, _, _ = _nbp_rate(pack, due, None)
            in_pln = p.amount if currency is Currency.PLN else p.amount * rate
            band = fixed_sum_for(in_pln, bands.value_at(due))
            eur = band.amount
            parts.append(
                Money.rounded(eur * rate, Currency.PLN)
                if currency is Currency.PLN
                else Money(eur, currency)
            )
    if vat_uplift_declared and pack.vat is not None:
        parts = [vat_uplift(p, pack.vat.value_at(on)) for p in parts]
    return parts


# interest -----------------------------------------------------------------------


def rate_lookup(table: RuleTable[Decimal]) -> Any:
    def lookup(start: date, end: date) -> list[RatePiece]:
        pieces: list[RatePiece] = []
        for seg in table.segments(start, end):
            if pieces and pieces[-1].percent == seg.row.value:
                # Same rate on both sides of a table row: one period, not two.
                prev = pieces[-1]
                pieces[-1] = RatePiece(prev.start, seg.end, prev.percent, prev.source)
            else:
                pieces.append(RatePiece(seg.start, seg.end, seg.row.value, seg.row.source))
        return pieces

    return lookup


def interest(
    jurisdiction: str,
    kind: str,
    principal: Money,
    start: date,
    end: date,
    *,
    contract_percent: Decimal | None = None,
) -> dict[str, Any]:
    """Statutory interest on ``principal`` from ``start`` to ``end`` (days = end − start)."""
    pack = load_pack(jurisdiction)
    if not principal.is_positive:
        raise ValidationError(f"must be more than zero, got {principal}", field="--principal")
    if end < start:
        raise ValidationError(
            f"{end.isoformat()} is before --from {start.isoformat()}", field="--to"
        )
    rule = pack.interest_kind(kind)
    if principal.currency is not pack.currency:
        raise ValidationError(
            f"{pack.code} interest is computed in {pack.currency.code}", field="--currency"
        )
    lookup = rate_lookup(rule.rates)
    notes: list[str] = []
    if contract_percent is not None:
        lookup = _contract_rate(pack, kind, contract_percent, lookup, notes)
    result: InterestResult = accrue_interest(
        principal,
        start,
        end,
        lookup,
        compounding=rule.compounding,
        day_count=rule.day_count,
    )
    cur = principal.currency
    out: dict[str, Any] = {
        "jurisdiction": pack.code,
        "kind": kind,
        "rule": rule.title,
        "principal": str(principal),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": (end - start).days,
        "interest": str(result.interest),
        "total": str(result.total),
        "currency": cur.code,
        "day_count": rule.day_count.value,
        "compounding": rule.compounding.value,
        "periods": [
            {
                "from": p.start.isoformat(),
                "to": p.end.isoformat(),
                "days": p.days,
                "rate": _pct(p.percent),
                "base": str(Money.rounded(p.base, cur)),
                "interest": str(p.interest(cur)),
                "source": p.source,
            }
            for p in result.periods
        ],
        "capitalised": [{"on": d.isoformat(), "amount": str(m)} for d, m in result.capitalised],
    }
    if notes:
        out["notes"] = notes
    return out


def _contract_rate(
    pack: RulePack, kind: str, percent: Decimal, statutory: Any, notes: list[str]
) -> Any:
    """A contractual rate instead of the statutory one, capped where the law caps it.

    BE consumers: contractual late interest may not exceed the rate of the law of
    2 August 2002 on late payment in commercial transactions (Book XIX WER).
    """
    if percent < 0:
        raise ValidationError("must not be negative", field="--contract-rate")
    cap_kind = pack.consumer_interest_cap if kind == "consumer" else None
    cap = rate_lookup(pack.interest_kind(cap_kind).rates) if cap_kind else None

    def lookup(start: date, end: date) -> list[RatePiece]:
        if cap is None:
            return [RatePiece(start, end, percent, "contractual rate")]
        pieces = []
        for piece in cap(start, end):
            if percent > piece.percent:
                notes.append(
                    f"contractual {_pct(percent)}% capped at {_pct(piece.percent)}% "
                    f"from {piece.start.isoformat()}"
                )
                pieces.append(
                    RatePiece(piece.start, piece.end, piece.percent, f"cap: {piece.source}")
                )
            else:
                pieces.append(RatePiece(piece.start, piece.end, percent, "contractual rate"))
        return pieces

    del statutory
    return lookup


# allocation ---------------------------------------------------------------------


def allocate_payment(
    jurisdiction: str,
    payment: Money,
    *,
    costs: Money,
    interest_due: Money,
    principal: Money,
    on: date,
) -> dict[str, Any]:
    pack = load_pack(jurisdiction)
    order_row = pack.allocation.at(on)
    for name, amount in (
        ("--payment", payment),
        ("--costs", costs),
        ("--interest", interest_due),
        ("--principal", principal),
    ):
        if amount.is_negative:
            raise ValidationError(f"must not be negative, got {amount}", field=name)
    alloc = allocate(
        payment,
        {Bucket.COSTS: costs, Bucket.INTEREST: interest_due, Bucket.PRINCIPAL: principal},
        order_row.value,
    )
    return {
        "jurisdiction": pack.code,
        "payment": str(payment),
        "costs": str(alloc.to(Bucket.COSTS)),
        "interest": str(alloc.to(Bucket.INTEREST)),
        "principal": str(alloc.to(Bucket.PRINCIPAL)),
        "unallocated": str(alloc.unallocated),
        "currency": payment.currency.code,
        "order": [b.value for b in order_row.value],
        "remaining": {
            "costs": str(costs - alloc.to(Bucket.COSTS)),
            "interest": str(interest_due - alloc.to(Bucket.INTEREST)),
            "principal": str(principal - alloc.to(Bucket.PRINCIPAL)),
        },
        "source": order_row.source,
    }


# formal notice ------------------------------------------------------------------


def cost_date(
    jurisdiction: str, sent: date, channel: Channel, *, receipt_days: int | None = None
) -> dict[str, Any]:
    """When costs become chargeable after a reminder sent on ``sent``.

    ``receipt_days`` overrides the pack's assumption of when a letter (NL: the N-th
    delivery day after posting) or an e-mail (N days after sending) is received: the
    creditor must be able to prove receipt, so an agency may have its own evidence.
    """
    pack = load_pack(jurisdiction)
    if pack.notice is None:
        raise ValidationError(f"{pack.code} has no formal-notice term rule", field="--jurisdiction")
    row = pack.notice.at(sent)
    rule = row.value
    if receipt_days is not None:
        if rule.method is not NoticeMethod.FROM_RECEIPT:
            raise ValidationError(
                f"{pack.code} counts the term from sending, not from receipt",
                field="--receipt-days",
            )
        minimum = 1 if channel is Channel.POST else 0
        if receipt_days < minimum:
            raise ValidationError(f"must be at least {minimum}", field="--receipt-days")
        if channel is Channel.POST:
            rule = replace(rule, post_days=receipt_days)
        else:
            rule = replace(rule, email_days=receipt_days)
    cal = pack.calendar
    term: NoticeTerm
    if rule.method is NoticeMethod.FROM_RECEIPT:
        term = term_from_receipt(
            sent,
            channel,
            term_days=rule.term_days,
            post_delivery_days=rule.post_days,
            email_delivery_days=rule.email_days,
            is_delivery_day=lambda d: (
                d.weekday() not in rule.non_delivery_weekdays and not is_holiday(cal, d)
            ),
            extend_end_past=(lambda d: not is_working_day(cal, d))
            if rule.extend_term_end
            else None,
        )
    else:
        term = term_from_working_day(
            sent,
            channel,
            term_days=rule.term_days,
            post_start_working_day=rule.post_days,
            email_start_days=rule.email_days,
            is_working_day=lambda d: is_working_day(cal, d),
        )
    out: dict[str, Any] = {
        "jurisdiction": pack.code,
        "sent": sent.isoformat(),
        "channel": channel.value,
        "costs_chargeable_from": term.costs_chargeable_from.isoformat(),
        "term_starts": term.term_starts.isoformat(),
        "term_ends": term.term_ends.isoformat(),
        "term_days": rule.term_days,
        "source": row.source,
    }
    if term.received is not None:
        out["assumed_received"] = term.received.isoformat()
    if term.extended:
        out["note"] = (
            "the term end fell on a weekend or public holiday and runs on to the next working day"
        )
    return out


def reference(text: str) -> dict[str, Any]:
    ref = create_rf(text)
    return {"reference": ref, "print": " ".join(ref[i : i + 4] for i in range(0, len(ref), 4))}


def distribute(
    capacity: Money, claims: Sequence[tuple[str, Money]], *, preferent: Sequence[str] = ()
) -> dict[str, Any]:
    """Share a monthly capacity over creditors pro rata by outstanding principal.

    Preferent claims (``preferent``) are served first, pro rata among themselves; the
    shares add up exactly to the capacity (largest remainder), or to the whole debt if the
    capacity is larger, in which case the rest is reported as ``unused``.
    """
    names = [n for n, _ in claims]
    unknown = sorted(set(preferent) - set(names))
    if unknown:
        raise ValidationError(
            f"--preferent names a claim that is not given: {', '.join(unknown)}",
            field="--preferent",
        )
    debts = [Debt(n, m, m, 0 if n in preferent or not preferent else 1) for n, m in claims]
    shares = distribute_capacity(capacity, debts)
    used = money_sum((shares[n] for n in names), capacity.currency)
    return {
        "capacity": str(capacity.amount),
        "shares": {n: str(shares[n].amount) for n in names},
        "unused": str((capacity - used).amount),
    }
