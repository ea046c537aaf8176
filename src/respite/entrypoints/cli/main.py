"""The ``respite`` command line.

Calculators print JSON (amounts as strings with two decimals). Bad input exits with
status 2 and one line on stderr naming the option and what is wrong; never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from respite.domain.money import Currency, Money, parse_amount
from respite.domain.notice import Channel
from respite.entrypoints.cli.affordability import budget_check_command, protected_income_command
from respite.entrypoints.cli.api_admin import webhooks_app
from respite.entrypoints.cli.bank import bank_app
from respite.entrypoints.cli.cases import case_app
from respite.entrypoints.cli.creditors import creditor_app
from respite.entrypoints.cli.cycle import cycle as cycle_command
from respite.entrypoints.cli.cycle import simulate as simulate_command
from respite.entrypoints.cli.cycle import summary as summary_command
from respite.entrypoints.cli.debtors import debtor_app
from respite.entrypoints.cli.demodata import demo_data as demo_data_command
from respite.entrypoints.cli.intake import import_app
from respite.entrypoints.cli.messaging import calls_app, contact_app, messages_app
from respite.entrypoints.cli.messaging import letter as letter_command
from respite.entrypoints.cli.messaging import mail_sink as mail_sink_command
from respite.entrypoints.cli.messaging import print_batch as print_batch_command
from respite.entrypoints.cli.messaging import send as send_command
from respite.entrypoints.cli.options import date_or_today, parse_date
from respite.entrypoints.cli.payment import payment_app
from respite.entrypoints.cli.payment_provider import payment_provider as payment_provider_command
from respite.entrypoints.cli.payouts import payout_app
from respite.entrypoints.cli.plans import plan_app
from respite.entrypoints.cli.portal import portal_app
from respite.entrypoints.cli.referrals import referral_app
from respite.entrypoints.cli.report import report_app
from respite.entrypoints.cli.screening import court_costs_command, legal_app, screen_command
from respite.entrypoints.cli.sepa import sepa_app
from respite.entrypoints.cli.serve import serve as serve_command
from respite.entrypoints.cli.users import audit_app, user_app
from respite.entrypoints.cli.worker import worker as worker_command
from respite.errors import ConflictError, InputError, NotAllowed, RespiteError
from respite.rules.loader import load_pack
from respite.services import calculators

app = typer.Typer(
    name="respite",
    help="Respite: social debt collection with exact money and law.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)
calc = typer.Typer(
    help="Calculators for collection costs, interest, allocation and dates.", no_args_is_help=True
)
app.add_typer(calc, name="calc")
app.add_typer(creditor_app, name="creditor")
app.add_typer(case_app, name="case")
app.add_typer(import_app, name="import")
app.add_typer(plan_app, name="plan")
app.add_typer(referral_app, name="referral")
app.add_typer(debtor_app, name="debtor")
app.add_typer(sepa_app, name="sepa")
app.add_typer(bank_app, name="bank")
app.add_typer(payout_app, name="payout")
app.add_typer(payment_app, name="payment")
app.add_typer(report_app, name="report")
app.add_typer(portal_app, name="portal")
app.add_typer(messages_app, name="messages")
app.add_typer(contact_app, name="contact")
app.add_typer(calls_app, name="calls")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.command("send")(send_command)
app.command("letter")(letter_command)
app.command("mail-sink")(mail_sink_command)
app.command("print-batch")(print_batch_command)
calc.command("protected-income")(protected_income_command)
calc.command("budget")(budget_check_command)
calc.command("court-costs")(court_costs_command)
app.command("screen")(screen_command)
app.add_typer(legal_app, name="legal")
app.command("cycle")(cycle_command)
app.command("worker")(worker_command)
app.command("serve")(serve_command)
app.command("payment-provider")(payment_provider_command)
app.command("simulate")(simulate_command)
app.command("summary")(summary_command)
app.command("demo-data")(demo_data_command)

EXIT_INPUT = 2
EXIT_CONFLICT = 1


def _emit(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


def _money(value: str, currency: Currency, option: str) -> Money:
    try:
        return Money(parse_amount(value, currency), currency)
    except InputError as exc:
        raise InputError(str(exc), field=option) from None


def _currency(value: str | None, jurisdiction: str) -> Currency:
    if value is None:
        return load_pack(jurisdiction).currency
    try:
        return Currency.of(value)
    except InputError as exc:
        raise InputError(str(exc), field="--currency") from None


def _jurisdiction(value: str, allowed: Sequence[str] = ("NL", "BE", "PL")) -> str:
    code = value.strip().upper()
    if code not in allowed:
        raise InputError(
            f"must be one of {', '.join(allowed)}, got {value!r}", field="--jurisdiction"
        )
    return code


def _choice(value: str, allowed: Sequence[str], option: str) -> str:
    v = value.strip().lower()
    if v not in allowed:
        raise InputError(f"must be one of {', '.join(allowed)}, got {value!r}", field=option)
    return v


def _percent(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        result = Decimal(value.strip().rstrip("%").replace(",", "."))
    except InvalidOperation:
        raise InputError(f"expected a number, got {value!r}", field=option) from None
    if not result.is_finite():
        raise InputError(f"expected a number, got {value!r}", field=option)
    return result


JurisdictionOpt = Annotated[str, typer.Option("--jurisdiction", "-j", help="NL, BE or PL.")]


@calc.command("costs")
def calc_costs(
    jurisdiction: JurisdictionOpt,
    principal: Annotated[
        list[str],
        typer.Option(help="Principal of a claim; repeat for several claims in one reminder."),
    ],
    debtor: Annotated[
        str | None,
        typer.Option(help="consumer or business (default: consumer; PL: business)."),
    ] = None,
    currency: Annotated[
        str | None, typer.Option(help="EUR or PLN (default: the jurisdiction's).")
    ] = None,
    vat_uplift: Annotated[
        bool,
        typer.Option("--vat-uplift", help="NL: the creditor declares it cannot deduct VAT."),
    ] = False,
    on: Annotated[
        str | None,
        typer.Option(help="Date of the reminder (PL: the due date). Default: today."),
    ] = None,
    paid_in_term: Annotated[
        str | None,
        typer.Option(help="NL: amount paid inside the 14-day term (costs are recomputed)."),
    ] = None,
    eur_rate: Annotated[
        str | None, typer.Option(help="PL: NBP average EUR rate to use instead of the table.")
    ] = None,
) -> None:
    """Statutory collection costs (NL BIK staffel, BE Book XIX caps, PL art. 10 compensation)."""
    code = _jurisdiction(jurisdiction)
    cur = _currency(currency, code)
    principals = [_money(p, cur, "--principal") for p in principal]
    paid = _money(paid_in_term, cur, "--paid-in-term") if paid_in_term is not None else None
    rate = _percent(eur_rate, "--eur-rate")
    _emit(
        calculators.collection_costs(
            code,
            principals,
            debtor=_choice(debtor, calculators.DEBTOR_KINDS, "--debtor") if debtor else None,
            on=date_or_today(on, "--on"),
            vat_uplift_declared=vat_uplift,
            paid_in_term=paid,
            eur_rate=rate,
        )
    )


@calc.command("interest")
def calc_interest(
    jurisdiction: JurisdictionOpt,
    principal: Annotated[str, typer.Option(help="The principal amount.")],
    from_: Annotated[str, typer.Option("--from", help="First day of default (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option(help="End date; days counted = to − from.")],
    kind: Annotated[str, typer.Option(help="consumer (statutory) or commercial.")] = "consumer",
    currency: Annotated[
        str | None, typer.Option(help="Default: the jurisdiction's currency.")
    ] = None,
    contract_rate: Annotated[
        str | None,
        typer.Option(help="A contractual yearly rate in percent (BE consumers: capped)."),
    ] = None,
) -> None:
    """Statutory interest, split at every rate change, with the periods used."""
    code = _jurisdiction(jurisdiction)
    cur = _currency(currency, code)
    _emit(
        calculators.interest(
            code,
            _choice(kind, ("consumer", "commercial"), "--kind"),
            _money(principal, cur, "--principal"),
            parse_date(from_, "--from"),
            parse_date(to, "--to"),
            contract_percent=_percent(contract_rate, "--contract-rate"),
        )
    )


@calc.command("allocate")
def calc_allocate(
    jurisdiction: JurisdictionOpt,
    payment: Annotated[str, typer.Option(help="The amount paid.")],
    costs: Annotated[str, typer.Option(help="Outstanding collection costs.")] = "0",
    interest: Annotated[str, typer.Option(help="Outstanding interest.")] = "0",
    principal: Annotated[str, typer.Option(help="Outstanding principal.")] = "0",
    currency: Annotated[
        str | None, typer.Option(help="Default: the jurisdiction's currency.")
    ] = None,
    on: Annotated[str | None, typer.Option(help="Date of payment. Default: today.")] = None,
) -> None:
    """Allocate a payment to costs, interest and principal (NL art. 6:44 BW)."""
    code = _jurisdiction(jurisdiction)
    cur = _currency(currency, code)
    _emit(
        calculators.allocate_payment(
            code,
            _money(payment, cur, "--payment"),
            costs=_money(costs, cur, "--costs"),
            interest_due=_money(interest, cur, "--interest"),
            principal=_money(principal, cur, "--principal"),
            on=date_or_today(on, "--on"),
        )
    )


@calc.command("distribute")
def calc_distribute(
    capacity: Annotated[str, typer.Option(help="The monthly repayment capacity to share.")],
    claim: Annotated[
        list[str],
        typer.Option(help="NAME=AMOUNT: a creditor and its outstanding principal (repeat)."),
    ],
    preferent: Annotated[
        list[str] | None,
        typer.Option(help="NAME of a preferent claim, served first (repeat)."),
    ] = None,
    currency: Annotated[str, typer.Option(help="Currency of the amounts.")] = "EUR",
) -> None:
    """Share a repayment capacity pro rata by principal; the shares sum exactly to it."""
    cur = Currency.of(currency.upper())
    claims: list[tuple[str, Money]] = []
    for item in claim:
        name, sep, amount = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"expected NAME=AMOUNT, got {item!r}", field="--claim")
        if any(n == name.strip() for n, _ in claims):
            raise InputError(f"claim {name.strip()!r} is given twice", field="--claim")
        claims.append((name.strip(), _money(amount, cur, f"--claim {name.strip()}")))
    _emit(
        calculators.distribute(
            _money(capacity, cur, "--capacity"), claims, preferent=preferent or []
        )
    )


@calc.command("cost-date")
def calc_cost_date(
    jurisdiction: JurisdictionOpt,
    sent: Annotated[str, typer.Option(help="Date the reminder was sent (YYYY-MM-DD).")],
    channel: Annotated[str, typer.Option(help="post or email.")] = "post",
    receipt_days: Annotated[
        int | None,
        typer.Option(
            help="NL: receipt on this delivery day after sending (default: the rule pack's)."
        ),
    ] = None,
) -> None:
    """First day collection costs may be charged after the formal notice (NL, BE)."""
    code = _jurisdiction(jurisdiction, ("NL", "BE"))
    try:
        ch = Channel.of(channel)
    except InputError as exc:
        raise InputError(str(exc), field="--channel") from None
    _emit(calculators.cost_date(code, parse_date(sent, "--sent"), ch, receipt_days=receipt_days))


@calc.command("reference")
def calc_reference(
    create: Annotated[str, typer.Option(help="Text to turn into an ISO 11649 RF reference.")],
) -> None:
    """Create an ISO 11649 structured creditor reference (RF)."""
    try:
        _emit(calculators.reference(create))
    except InputError as exc:
        raise InputError(str(exc), field="--create") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; map every expected error to one line and an exit status."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        code = app(args=args, standalone_mode=False, prog_name="respite")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as exc:
        # Typer's own (vendored click) usage errors: a missing or unknown option.
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help(), err=True)
        else:
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            typer.echo(f"respite: error: {_one_line(message)}", err=True)
        sys.exit(EXIT_INPUT)
    except InputError as exc:
        typer.echo(f"respite: error: {_one_line(str(exc))}", err=True)
        sys.exit(EXIT_INPUT)
    except (ConflictError, NotAllowed) as exc:
        typer.echo(f"respite: error: {_one_line(str(exc))}", err=True)
        sys.exit(EXIT_CONFLICT)
    except RespiteError as exc:
        typer.echo(f"respite: error: {_one_line(str(exc))}", err=True)
        sys.exit(EXIT_CONFLICT)
    except Exception as exc:
        # A bug, not bad input: still one line for the user; the trace on request.
        if os.environ.get("RESPITE_DEBUG"):
            raise
        typer.echo(
            f"respite: internal error ({type(exc).__name__}: {_one_line(str(exc))}); "
            "run again with RESPITE_DEBUG=1 for details and please report it",
            err=True,
        )
        sys.exit(EXIT_CONFLICT)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
