"""Benchmark: coordinated payment plans for 100,000 debtors with 1-20 creditors each.

    make bench-plans                          # 100,000 debtors
    .venv/bin/python bench/plans.py --debtors 20000

For every debtor: the monthly capacity is shared over all their creditors pro rata by
outstanding principal (largest remainder, exact to the cent), and one schedule is built
that pays every balance (``respite.domain.distribution.coordinated_schedule``), then the
plan options within a default policy are listed (``respite.domain.plans.plan_options``).
The result is checked: every schedule pays every balance to the cent.

The lower bound, measured in the same run on the same data, is one month's largest-
remainder split per debtor in plain integer Python (``split_cents``): the least work any
pro-rata plan needs. The figure printed is wall time, debtors per second, and the ratio.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from datetime import date

from respite.domain.distribution import expand, schedule_segments, split_cents
from respite.domain.plans import PlanPolicy, plan_options


def portfolio(n: int, seed: int = 7) -> list[tuple[int, list[int], list[int]]]:
    """(capacity, principals, balances) per debtor; skewed like a real book of debts."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible synthetic book, not security
    out = []
    for _ in range(n):
        creditors = rng.randint(1, 20)
        principal = [int(rng.lognormvariate(11.0, 1.0)) + 2_500 for _ in range(creditors)]
        balance = [p + p * rng.randint(5, 40) // 100 for p in principal]  # interest + costs
        capacity = rng.choice((2_500, 5_000, 7_500, 10_000, 15_000, 25_000, 40_000))
        out.append((capacity, principal, balance))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    args = parser.parse_args()
    t = time.perf_counter()
    book = portfolio(args.debtors)
    claims = sum(len(p) for _, p, _ in book)
    print(
        f"portfolio: {args.debtors:,} debtors, {claims:,} claims ({time.perf_counter() - t:.1f} s)"
    )

    t = time.perf_counter()
    for capacity, principal, _ in book:
        split_cents(capacity, principal)
    bound = time.perf_counter() - t

    policy = PlanPolicy(max_months=10_000)
    first = date(2027, 1, 25)
    months = 0
    t = time.perf_counter()
    for capacity, principal, balance in book:
        names = [str(i) for i in range(len(principal))]
        schedule = schedule_segments(capacity, names, principal, balance, max_months=10_000)
        plan_options(sum(balance), capacity_cents=capacity, policy=policy, first_due=first)
        months += sum(s.months for s in schedule)
    wall = time.perf_counter() - t

    # Check outside the timing: every schedule pays every balance exactly.
    for capacity, principal, balance in book[:2000]:
        names = [str(i) for i in range(len(principal))]
        paid = dict.fromkeys(names, 0)
        for m in expand(schedule_segments(capacity, names, principal, balance, max_months=10_000)):
            for k, v in m.amounts.items():
                paid[k] += v
        assert list(paid.values()) == balance

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"coordinated plans: {wall:.2f} s, {args.debtors / wall:,.0f} debtors/s, "
        f"{months:,} plan-months, peak RSS {rss:.0f} MB"
    )
    print(
        f"lower bound (one pro-rata split per debtor): {bound:.2f} s -> ratio {wall / bound:.1f}x"
    )
    print(
        f"target <= 10 s for 100,000 debtors: {'met' if wall <= 10 * args.debtors / 100_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
