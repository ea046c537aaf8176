"""The system of record: SQLAlchemy 2 typed models.

Money is stored as integer minor units (cents) with the currency beside it: SQLite has no
decimal type, and a float never touches money. Statutory interest that has accrued but is
still below one cent is kept as an integer number of micro-cents (``interest_carry_micros``)
so that nightly accrual adds up exactly over months.

Database constraints back the domain's invariants: unique references, non-negative
balances, one ledger sequence per claim, one outbox message per natural key, and the
event timeline is append-only (triggers in the initial migration refuse UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AccessCode",
    "ApiKey",
    "Attachment",
    "AuditEntry",
    "BankEntry",
    "BankStatement",
    "Base",
    "BudgetStatement",
    "CallTask",
    "Case",
    "Claim",
    "ContactDecision",
    "ContactPreference",
    "CostWaiver",
    "Creditor",
    "CycleRun",
    "Debtor",
    "DirectDebit",
    "DirectDebitBatch",
    "Event",
    "Feedback",
    "Hold",
    "IdempotencyKey",
    "IdentityLink",
    "ImportBatch",
    "Instalment",
    "LedgerEntry",
    "LoginThrottle",
    "Mandate",
    "Message",
    "OutboxMessage",
    "Payment",
    "PaymentCheckout",
    "Payout",
    "Plan",
    "PlanCase",
    "PrintBatch",
    "Referral",
    "Refund",
    "SensitiveNote",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]


class Base(DeclarativeBase):
    # 64-bit integers on PostgreSQL; SQLite's INTEGER is 64-bit already and must stay
    # "INTEGER" for rowid aliasing of primary keys.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        int: BigInteger().with_variant(Integer, "sqlite")
    }


class Creditor(Base):
    """A tenant: the business whose claims the agency collects."""

    __tablename__ = "creditors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    jurisdiction: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    # The creditor cannot deduct VAT and declares it: NL BIK may carry the VAT uplift.
    vat_uplift_declared: Mapped[bool] = mapped_column(Boolean, default=False)
    strategy: Mapped[str] = mapped_column(String(100), default="standard")
    policy: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    branding: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Debtor(Base):
    """A person or business; one debtor can owe several creditors."""

    __tablename__ = "debtors"
    __table_args__ = (CheckConstraint("kind IN ('consumer', 'business')", name="debtor_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised identity (name, birth date or company number, postcode) used to recognise
    # the same person across creditors.
    identity_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    iban: Mapped[str | None] = mapped_column(String(34))
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(50))
    birth_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The person this debtor record belongs to, once identity resolution has linked it to
    # an earlier record (another creditor's spelling of the same person). NULL means the
    # record is its own person: ``COALESCE(person_id, id)`` is the person key.
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("debtors.id", name="fk_debtors_person"), index=True
    )


class Case(Base):
    """One creditor, one debtor, one or more claims, moving through the lifecycle."""

    __tablename__ = "cases"
    # No index on last_cycle_date: the cycle walks the primary key in id ranges, and an
    # index on a column rewritten every night would turn every update into index work.
    # Fill factor 70 leaves room in each page for PostgreSQL's HOT updates.
    __table_args__ = (
        Index("ix_cases_debtor", "debtor_id"),
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    stage: Mapped[str] = mapped_column(String(30))
    # When the case entered its stage, moved on by every night on hold (holds stop the
    # clock); the events keep the real dates.
    stage_since: Mapped[date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    close_reason: Mapped[str | None] = mapped_column(String(20))
    opened_on: Mapped[date] = mapped_column(Date)
    # The last business date the nightly cycle completed for this case: the natural key
    # that makes the cycle idempotent and resumable.
    last_cycle_date: Mapped[date | None] = mapped_column(Date)
    interest_frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_sent_on: Mapped[date | None] = mapped_column(Date)
    costs_chargeable_from: Mapped[date | None] = mapped_column(Date)
    strategy_version: Mapped[int] = mapped_column(Integer, default=1)

    claims: Mapped[list[Claim]] = relationship(back_populates="case", order_by="Claim.id")


class Claim(Base):
    """One invoice; its balances are a cache of its ledger, kept in the same transaction."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("creditor_id", "external_ref", name="uq_claim_external_ref"),
        CheckConstraint("principal_cents > 0", name="claim_principal_positive"),
        CheckConstraint(
            "open_principal_cents >= 0 AND open_interest_cents >= 0 AND open_costs_cents >= 0"
            " AND credit_cents >= 0",
            name="claim_balances_not_negative",
        ),
        CheckConstraint("due_date >= issue_date", name="claim_due_after_issue"),
        Index("ix_claims_case", "case_id"),
        {"postgresql_with": {"fillfactor": 70}},  # nightly updates stay HOT
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"))
    external_ref: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(300), default="")
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    principal_cents: Mapped[int] = mapped_column()
    interest_kind: Mapped[str] = mapped_column(String(12), default="consumer")
    # Interest runs from the first day of default; capitalised on its anniversaries (NL).
    default_start: Mapped[date] = mapped_column(Date)
    interest_accrued_to: Mapped[date] = mapped_column(Date)
    interest_carry_micros: Mapped[int] = mapped_column(default=0)
    interest_year_cents: Mapped[int] = mapped_column(default=0)
    capitalised_cents: Mapped[int] = mapped_column(default=0)
    costs_charged: Mapped[bool] = mapped_column(Boolean, default=False)
    open_principal_cents: Mapped[int] = mapped_column()
    open_interest_cents: Mapped[int] = mapped_column(default=0)
    open_costs_cents: Mapped[int] = mapped_column(default=0)
    credit_cents: Mapped[int] = mapped_column(default=0)
    last_seq: Mapped[int] = mapped_column(default=0)
    # What the statutory rates would have added on nights the dossier's interest was
    # frozen or on hold, in micro-cents, from that day; recorded as `interest_not_charged`
    # events by the nightly cycle (whole cents; the rest stays here).
    frozen_interest_micros: Mapped[int] = mapped_column(default=0, server_default="0")
    frozen_interest_from: Mapped[date | None] = mapped_column(Date)

    case: Mapped[Case] = relationship(back_populates="claims")


class LedgerEntry(Base):
    """Append-only; mirrors :class:`respite.domain.ledger.Entry`."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("claim_id", "seq", name="uq_ledger_claim_seq"),
        CheckConstraint("amount_cents > 0", name="ledger_amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    bucket: Mapped[str | None] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column()
    on_date: Mapped[date] = mapped_column(Date)
    payment_seq: Mapped[int | None] = mapped_column(Integer)
    reverses: Mapped[int | None] = mapped_column(Integer)
    memo: Mapped[str] = mapped_column(String(200), default="")


class Hold(Base):
    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    start: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(100))


TIMELINE_JSON = JSON().with_variant(JSONB(), "postgresql")


class Event(Base):
    """The case timeline: who, when, what, why. Append-only (database triggers)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_case", "case_id", "id"),
        Index("ix_events_kind_date", "kind", "business_date", "case_id"),  # social report
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    business_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    # jsonb on PostgreSQL: the social report reads fields of millions of events, and a
    # json column is parsed again for each read (migration 0008).
    before: Mapped[dict[str, object]] = mapped_column(TIMELINE_JSON, default=dict)
    after: Mapped[dict[str, object]] = mapped_column(TIMELINE_JSON, default=dict)


class OutboxMessage(Base):
    """An action the cycle decided on, for the communications engine to deliver."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_outbox_dedupe"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    business_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # message | call_task | review
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(60))
    brand: Mapped[str] = mapped_column(String(20), default="agency")
    status: Mapped[str] = mapped_column(String(20), default="queued")
    dedupe_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # The message that carries this action once the communications engine has taken it
    # (several outbox rows of one person and day become one message).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", name="fk_outbox_message"), index=True
    )


class Instalment(Base):
    __tablename__ = "instalments"
    __table_args__ = (Index("ix_instalments_due", "status", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column()
    paid_cents: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | paid | missed
    missed_on: Mapped[date | None] = mapped_column(Date)
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", name="fk_instalments_plan"), index=True
    )
    # The re-plan offer goes out once per missed instalment, some days after the reminder.
    replan_offered_on: Mapped[date | None] = mapped_column(Date)


class Payment(Base):
    """Money received for a case (from a bank file, a provider, or the demo's model)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("source_ref", name="uq_payment_source_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column()
    source_ref: Mapped[str] = mapped_column(String(120))
    booked: Mapped[bool] = mapped_column(Boolean, default=False)


class CycleRun(Base):
    """One shard of one business date's nightly cycle."""

    __tablename__ = "cycle_runs"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    shards: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))  # running | done
    cases: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportBatch(Base):
    """One claims file taken in: all of its valid rows, in one transaction."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_imported: Mapped[int] = mapped_column(Integer)
    rows_skipped: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdentityLink(Base):
    """A scored pair of debtor records that may be one person, with the reasons.

    ``status`` is ``linked`` (automatically above the policy threshold, or by a reviewer),
    ``review`` (between the thresholds: a person decides) or ``rejected``.
    """

    __tablename__ = "identity_links"
    __table_args__ = (
        UniqueConstraint("debtor_id", "other_debtor_id", name="uq_identity_pair"),
        CheckConstraint("debtor_id <> other_debtor_id", name="ck_identity_distinct"),
        Index("ix_identity_links_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    other_debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    score: Mapped[int] = mapped_column(Integer)  # 0-100
    reasons: Mapped[list[object]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10))  # linked | review | rejected
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BudgetStatement(Base):
    """An income & expenditure statement as the debtor (or an agent) gave it."""

    __tablename__ = "budget_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    submitted_on: Mapped[date] = mapped_column(Date)
    household: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)  # category -> cents
    income_cents: Mapped[int] = mapped_column()
    expenditure_cents: Mapped[int] = mapped_column()
    protected_cents: Mapped[int] = mapped_column()
    capacity_cents: Mapped[int] = mapped_column()
    flags: Mapped[list[object]] = mapped_column(JSON, default=list)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(20))  # portal | agent | counsellor | demo


class Plan(Base):
    """A payment arrangement for one debtor over one or more cases (one schedule)."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("instalment_cents > 0", name="ck_plan_instalment_positive"),
        CheckConstraint("months > 0", name="ck_plan_months_positive"),
        Index("ix_plans_debtor_status", "debtor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    # proposed | pending_review | active | completed | broken | superseded | rejected
    status: Mapped[str] = mapped_column(String(20))
    created_on: Mapped[date] = mapped_column(Date)
    first_due: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    instalment_cents: Mapped[int] = mapped_column()
    total_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    interest_frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    misses: Mapped[int] = mapped_column(Integer, default=0)
    max_misses: Mapped[int] = mapped_column(Integer)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("budget_statements.id"))
    replaces_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    proposed_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")


class PlanCase(Base):
    """One case's share of a plan: its part of each instalment and of the total."""

    __tablename__ = "plan_cases"
    __table_args__ = (UniqueConstraint("plan_id", "case_id", name="uq_plan_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    share_cents: Mapped[int] = mapped_column()  # this case's part of a full instalment
    total_cents: Mapped[int] = mapped_column()


class Referral(Base):
    """A referral to (municipal) debt counselling, with the contact the debtor was given."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    created_on: Mapped[date] = mapped_column(Date)
    reasons: Mapped[list[object]] = mapped_column(JSON, default=list)
    municipality: Mapped[str] = mapped_column(String(100))
    contact: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10))  # open | closed
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))


class CostWaiver(Base):
    """Collection costs the platform did not charge, and why (for the social report)."""

    __tablename__ = "cost_waivers"
    __table_args__ = (UniqueConstraint("case_id", "reason", "on_date", name="uq_cost_waiver"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column()
    # aggregation (one scale over several cases) | policy_cap | replan
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")


class BankStatement(Base):
    """One imported bank file (CAMT.053 statement or CAMT.054 notification)."""

    __tablename__ = "bank_statements"
    __table_args__ = (UniqueConstraint("sha256", name="uq_bank_statement_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))  # e.g. camt.053.001.02
    message_id: Mapped[str] = mapped_column(String(140))
    statement_id: Mapped[str] = mapped_column(String(140))
    account: Mapped[str] = mapped_column(String(70))  # IBAN or other account id
    currency: Mapped[str] = mapped_column(String(3))
    opening_cents: Mapped[int | None] = mapped_column()
    closing_cents: Mapped[int | None] = mapped_column()
    # closing − opening − Σ entries; NULL when the file carries no balances (CAMT.054)
    difference_cents: Mapped[int | None] = mapped_column()
    entries: Mapped[int] = mapped_column(Integer)
    deviations: Mapped[list[object]] = mapped_column(JSON, default=list)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BankEntry(Base):
    """One booked transaction from a bank file, and what Respite did with it.

    ``entry_key`` is the natural key that makes an import exactly-once: the bank's
    AcctSvcrRef where it gives one, else a hash of the entry's contents (account, dates,
    amount, direction, references, counterparty, position in a batch).
    """

    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("entry_key", name="uq_bank_entry_key"),
        Index("ix_bank_entries_status", "status"),
        Index("ix_bank_entries_e2e", "end_to_end_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    entry_key: Mapped[str] = mapped_column(String(64))
    acct_svcr_ref: Mapped[str | None] = mapped_column(String(140))
    booking_date: Mapped[date] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    direction: Mapped[str] = mapped_column(String(4))  # CRDT | DBIT
    amount_cents: Mapped[int] = mapped_column()  # positive; see direction
    currency: Mapped[str] = mapped_column(String(3))
    reversal: Mapped[bool] = mapped_column(Boolean, default=False)
    end_to_end_id: Mapped[str | None] = mapped_column(String(140))
    structured_ref: Mapped[str | None] = mapped_column(String(140))
    remittance: Mapped[str] = mapped_column(Text, default="")
    counterparty_name: Mapped[str | None] = mapped_column(String(140))
    counterparty_iban: Mapped[str | None] = mapped_column(String(34))
    return_reason: Mapped[str | None] = mapped_column(String(10))  # e.g. AC04, MD06
    # booked | review | refund | ignored | reversed | returned
    status: Mapped[str] = mapped_column(String(10))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    match_rule: Mapped[str | None] = mapped_column(
        String(20)
    )  # rf | betalingskenmerk | ogm | e2e | fuzzy | agent
    match_reason: Mapped[str] = mapped_column(Text, default="")
    match_score: Mapped[int | None] = mapped_column(Integer)
    payment_ref: Mapped[str | None] = mapped_column(String(120))  # payments.source_ref


class Refund(Base):
    """Money to pay back: an overpayment, or a payment that matches no debt."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_entry_id: Mapped[int | None] = mapped_column(ForeignKey("bank_entries.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    amount_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    iban: Mapped[str | None] = mapped_column(String(34))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # queued | paid | cancelled
    created_on: Mapped[date] = mapped_column(Date)


class Mandate(Base):
    """A SEPA Direct Debit mandate the debtor signed for a case (or a plan's cases)."""

    __tablename__ = "mandates"
    __table_args__ = (UniqueConstraint("mandate_id", name="uq_mandate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mandate_id: Mapped[str] = mapped_column(String(35))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    holder: Mapped[str] = mapped_column(String(70))
    recurring: Mapped[bool] = mapped_column(Boolean)  # False: OOFF (one-off)
    status: Mapped[str] = mapped_column(String(10))  # active | revoked | ended
    first_collected_on: Mapped[date | None] = mapped_column(Date)  # NULL: next one is FRST


class DirectDebitBatch(Base):
    """One pain.008 file of collections sent to the bank."""

    __tablename__ = "direct_debit_batches"
    __table_args__ = (UniqueConstraint("message_id", name="uq_dd_batch_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(35))
    created_on: Mapped[date] = mapped_column(Date)
    collection_date: Mapped[date] = mapped_column(Date)
    version: Mapped[str] = mapped_column(String(20))  # pain.008.001.02 | pain.008.001.08
    transactions: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))


class DirectDebit(Base):
    """One collection in a batch; its EndToEndId comes back on the statement."""

    __tablename__ = "direct_debits"
    __table_args__ = (
        UniqueConstraint("end_to_end_id", name="uq_dd_end_to_end"),
        UniqueConstraint("instalment_id", name="uq_dd_instalment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("direct_debit_batches.id"), index=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("mandates.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    instalment_id: Mapped[int | None] = mapped_column(ForeignKey("instalments.id"))
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    sequence: Mapped[str] = mapped_column(String(4))  # FRST | RCUR | FNAL | OOFF
    amount_cents: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(10))  # sent | collected | returned
    return_reason: Mapped[str | None] = mapped_column(String(10))


class Payout(Base):
    """A remittance to a creditor: what was collected, the commission, what is paid out."""

    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("creditor_id", "period_to", name="uq_payout_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    collected_cents: Mapped[int] = mapped_column()
    commission_cents: Mapped[int] = mapped_column()
    payout_cents: Mapped[int] = mapped_column()
    message_id: Mapped[str] = mapped_column(String(35))
    version: Mapped[str] = mapped_column(String(20))  # pain.001.001.03 | pain.001.001.09
    created_on: Mapped[date] = mapped_column(Date)


# --- communications (issue 6) -----------------------------------------------------------


class ContactPreference(Base):
    """A person's channel choices: the preferred channel, consent and opt-out per channel.

    Keyed on the person (``COALESCE(debtors.person_id, debtors.id)``), so an opt-out given
    to one creditor's case holds for every creditor's case of the same person.
    """

    __tablename__ = "contact_preferences"
    __table_args__ = (
        UniqueConstraint("person_id", "channel", name="uq_contact_preference"),
        CheckConstraint(
            "status IN ('consented', 'opted_out', 'preferred')", name="contact_preference_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # email | sms | post | phone
    status: Mapped[str] = mapped_column(String(20))
    recorded_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(100))  # who recorded it: creditor, portal, agent


class Message(Base):
    """One message to one person on one channel: consolidated from outbox rows of one day.

    ``status``: queued → sent → delivered, or deferred (a guardrail said *not now*; tried
    again from ``next_attempt_at``), blocked (a guardrail said *not while this lasts*: a
    hold or an opt-out; kept and re-checked at every run, never dropped), bounced / failed
    (permanent; a fallback message on another channel takes over: ``fallback_of``).
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_message_dedupe"),
        Index("ix_messages_person", "person_id", "sent_at"),
        Index("ix_messages_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    case_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    business_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # message | call_task
    channel: Mapped[str] = mapped_column(String(20))  # email | sms | post | phone
    template: Mapped[str] = mapped_column(String(60))
    tone: Mapped[str] = mapped_column(String(20), default="neutral")
    language: Mapped[str] = mapped_column(String(5))
    brand: Mapped[str] = mapped_column(String(20))  # agency | creditor
    creditor_id: Mapped[int | None] = mapped_column(ForeignKey("creditors.id"))
    source: Mapped[str] = mapped_column(String(20), default="strategy")  # strategy|agent|portal
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    # Readability of the rendered text (Flesch reading ease, language-specific formula,
    # in hundredths so that no float is stored) and whether it meets the B1 threshold.
    readability_centi: Mapped[int | None] = mapped_column(Integer)
    b1: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    fallback_of: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", name="fk_messages_fallback")
    )
    dedupe_key: Mapped[str] = mapped_column(String(160))
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class ContactDecision(Base):
    """Every guardrail decision on a message: sent, deferred or blocked, and the rule."""

    __tablename__ = "contact_decisions"
    __table_args__ = (
        CheckConstraint("outcome IN ('send', 'defer', 'block')", name="contact_decision_outcome"),
        Index("ix_contact_decisions_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    business_date: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CallTask(Base):
    """A phone call for an agent, with its script; the outcome is logged when done."""

    __tablename__ = "call_tasks"
    __table_args__ = (
        Index("ix_call_tasks_open", "status", "due_at"),
        Index("ix_call_tasks_person", "person_id", "done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    case_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    script: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | done
    outcome: Mapped[str | None] = mapped_column(String(40))
    agent: Mapped[str | None] = mapped_column(String(100))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class PrintBatch(Base):
    """The day's letters: one PDF for the print house and a CSV manifest beside it."""

    __tablename__ = "print_batches"
    __table_args__ = (UniqueConstraint("business_date", name="uq_print_batch_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    letters: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    pdf_path: Mapped[str] = mapped_column(String(500))
    manifest_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccessCode(Base):
    """A one-time portal login code printed on a letter; only its argon2id hash is kept."""

    __tablename__ = "access_codes"
    __table_args__ = (Index("ix_access_codes_case", "case_id", "expires_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    code_hash: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- web: debtor portal, creditor API, operator console (issues 7 and 8) ----------------


class WebSession(Base):
    """A logged-in browser: a debtor in the portal or a user in the console.

    The cookie holds a random 256-bit token; only its SHA-256 is stored, so a copy of the
    database does not hand out live sessions. Sessions expire and are revoked by deletion.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('portal', 'console')", name="web_session_kind"),
        Index("ix_web_sessions_expiry", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    # portal: the person (COALESCE(person_id, id) of the debtor) and the case logged in with
    person_id: Mapped[int | None] = mapped_column(ForeignKey("debtors.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # console: the user
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed logins per key ("ref:R000000042", "ip:203.0.113.9", "user:alice").

    Kept in the database, not in process memory, so that every worker and every restart
    sees the same counts: a lockout cannot be dodged by hitting another process.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentCheckout(Base):
    """A payment started in the portal at the payment provider, until its webhook says paid."""

    __tablename__ = "payment_checkouts"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'paid', 'failed', 'cancelled', 'expired')",
            name="payment_checkout_status",
        ),
        CheckConstraint("amount_cents > 0", name="payment_checkout_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    amount_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="open")
    provider: Mapped[str] = mapped_column(String(40))
    provider_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Attachment(Base):
    """A file a debtor or an agent added to a case (a dispute's evidence); kept on disk."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))  # dispute | other
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[str] = mapped_column(String(100))


class SensitiveNote(Base):
    """Special-category data (vulnerability, health): the text is encrypted at rest.

    Only ``kind`` and who/when are readable without the data key; reading ``ciphertext``
    through the console writes an audit entry.
    """

    __tablename__ = "sensitive_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(30))  # vulnerability
    ciphertext: Mapped[str] = mapped_column(Text)
    consent: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(100))


class Feedback(Base):
    """The debtor's answer to "how did this go?" after a portal action (1-5, a comment)."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="feedback_score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    action: Mapped[str] = mapped_column(String(30))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    business_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    """An agency user of the console (agent, supervisor, admin, compliance) or a creditor's
    dashboard user (role ``creditor``, bound to ``creditor_id``)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('agent', 'supervisor', 'admin', 'compliance', 'creditor')",
            name="user_role",
        ),
        CheckConstraint(
            "(role = 'creditor') = (creditor_id IS NOT NULL)", name="user_creditor_binding"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    creditor_id: Mapped[int | None] = mapped_column(ForeignKey("creditors.id"))
    # Authority: the largest plan total and the largest write-off this user may approve.
    plan_limit_cents: Mapped[int] = mapped_column(default=0)
    writeoff_limit_cents: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A creditor's API key: ``rsp_<key_id>_<secret>``; only the secret's hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who read or changed whose personal data, when and why. Append-only (triggers)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))  # user:alice | api:<key_id> | debtor:<person>
    action: Mapped[str] = mapped_column(String(60))  # read_debtor | read_vulnerability | ...
    subject_type: Mapped[str] = mapped_column(String(30))  # debtor | case | creditor
    subject_id: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[str] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(64))


class IdempotencyKey(Base):
    """The first response to an API request with an ``Idempotency-Key``, replayed on retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("creditor_id", "key", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookEndpoint(Base):
    """Where a creditor wants status changes posted; the signing secret is encrypted."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    event_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One timeline event posted to one endpoint, retried with backoff until delivered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="webhook_delivery_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
