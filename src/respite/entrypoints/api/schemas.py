"""The API's request and response bodies: Pydantic models, so the OpenAPI is exact.

Amounts are strings with the currency's two decimals (``"1234.56"``): JSON numbers are
binary floating point in most clients, and money never passes through a float.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from respite.services.api_keys import SCOPES
from respite.services.intake import FIELDS, REQUIRED

Amount = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["1234.56"])]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(Out):
    detail: str = Field(examples=["no case R000000042"])


class Me(Out):
    key_id: str
    creditor: str
    scopes: list[str] = Field(examples=[list(SCOPES)])


# --- intake ---------------------------------------------------------------------------


class Problem(Out):
    row: int = Field(description="CSV: the line number in the file; JSON: the claim's position")
    field: str
    value: str
    message: str


class IntakeAccepted(Out):
    file: str
    sha256: str
    creditor: str
    business_date: date
    rows_total: int
    rows_imported: int
    rows_skipped: int
    cases_opened: int
    cases: list[str] = Field(description="References of the cases opened (R + nine digits)")
    claims: int
    debtors_new: int
    debtors_known: int
    problems: list[Problem]


class IntakeRejected(Out):
    detail: str
    file: str
    imported: bool = Field(description="Always false: nothing of the request was applied")
    rows_total: int
    rows_invalid: int
    problems: list[Problem]


def claim_schema() -> dict[str, Any]:
    """JSON Schema of one claim (the intake fields; the intake service checks the values)."""
    text: dict[str, Any] = {"type": "string", "maxLength": 300}
    properties: dict[str, Any] = {name: dict(text) for name in FIELDS}
    properties["debtor_type"] = {"type": "string", "enum": ["consumer", "business"]}
    properties["amount"] = {
        "oneOf": [{"type": "string", "maxLength": 40}, {"type": "number"}],
        "description": "more than zero; 1234.56, 1.234,56 or 1,234.56",
    }
    for name in ("issue_date", "due_date", "debtor_birth_date"):
        properties[name] = {"type": "string", "format": "date"}
    return {
        "type": "object",
        "properties": properties,
        "required": list(REQUIRED),
        "additionalProperties": False,
    }


def claims_body_schema(max_items: int) -> dict[str, Any]:
    claim = claim_schema()
    many = {"type": "array", "items": claim, "minItems": 1, "maxItems": max_items}
    return {
        "oneOf": [
            claim,
            many,
            {
                "type": "object",
                "properties": {"claims": many},
                "required": ["claims"],
                "additionalProperties": False,
            },
        ]
    }


# --- cases ----------------------------------------------------------------------------


class CaseStatusFilter(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FRIENDLY_REMINDER = "friendly_reminder"
    FORMAL_NOTICE = "formal_notice"
    AMICABLE = "amicable"
    ARRANGEMENT = "arrangement"
    LEGAL_SCREENING = "legal_screening"
    LEGAL_HANDOVER = "legal_handover"


class CaseHead(Out):
    reference: str = Field(examples=["R000000042"])
    stage: str
    stage_since: date
    closed: bool
    close_reason: str | None = Field(description="paid, settled, written_off or recalled")
    opened_on: date


class CaseSummary(CaseHead):
    currency: str
    external_refs: list[str]
    principal: Amount
    outstanding: Amount


class Paged(Out):
    page: int
    per_page: int
    total: int
    next_page: int | None


class CaseList(Paged):
    items: list[CaseSummary]


class HoldOut(Out):
    kind: str = Field(
        description="dispute, deferral, breathing_space, debt_counselling, deceased, or "
        "protected (a review the creditor is not told the reason of)"
    )
    since: date
    until: date | None


class DebtorOut(Out):
    name: str
    kind: str
    country: str


class ClaimOut(Out):
    external_ref: str
    description: str
    issue_date: date
    due_date: date
    principal: Amount
    open_principal: Amount
    open_interest: Amount
    open_costs: Amount
    outstanding: Amount


class OpenAmounts(Out):
    principal: Amount
    interest: Amount
    costs: Amount
    total: Amount


class CaseStatus(CaseHead):
    currency: str
    debtor: DebtorOut
    on_hold: bool
    holds: list[HoldOut]
    claims: list[ClaimOut]
    open: OpenAmounts
    credit: Amount = Field(description="Received and not (yet) allocated: an overpayment")
    collected: Amount = Field(description="Every booked payment on the case so far")


class TimelineEvent(Out):
    id: str = Field(examples=["evt_1234"])
    case_reference: str
    kind: str
    date: date
    recorded_at: datetime
    actor: str
    reason: str | None = Field(description="Withheld (null) for a protected review")
    before: dict[str, Any]
    after: dict[str, Any]


class Timeline(Paged):
    reference: str
    items: list[TimelineEvent]


class ClaimStatus(ClaimOut):
    currency: str
    case_reference: str
    stage: str
    closed: bool
    close_reason: str | None


class RecallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, examples=["paid to us directly"])


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: str | None = Field(
        default=None,
        max_length=40,
        description="The corrected principal: lower than the current one",
        examples=["95.00"],
    )
    due_date: date | None = Field(default=None, description="The corrected due date")
    reason: str = Field(min_length=1, max_length=500, examples=["credit note 2025-118"])


# --- money ----------------------------------------------------------------------------


class CollectedDay(Out):
    date: date
    payments: int
    collected: Amount


class Collections(Out):
    from_: date = Field(alias="from")
    to: date
    currency: str
    payments: int
    collected: Amount
    refunded: Amount
    net: Amount
    days: list[CollectedDay]

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class RemittanceOut(Out):
    id: int
    period_from: date
    period_to: date
    currency: str
    collected: Amount
    commission: Amount
    payout: Amount
    transfer_message_id: str
    created_on: date


class RemittanceList(Paged):
    items: list[RemittanceOut]


class RemittanceLine(Out):
    case_reference: str
    external_refs: list[str]
    collected: Amount
    refunded: Amount
    net: Amount


class RemittanceDetail(RemittanceOut):
    lines: list[RemittanceLine]


# --- webhooks -------------------------------------------------------------------------


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=500, examples=["https://erp.example.com/respite"])
    event_kinds: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Only these event kinds; empty: every status event",
    )


class WebhookOut(Out):
    id: int
    url: str
    event_kinds: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret, shown only now")


class WebhookList(Out):
    items: list[WebhookOut]
