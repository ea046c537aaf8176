"""``respite payment``: how a debtor pays a case (references, account, EPC QR code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from respite.adapters.bank.epc_qr import epc_qr_png, epc_qr_svg
from respite.domain.money import Currency, Money
from respite.entrypoints.cli.options import open_database
from respite.errors import ConflictError, InputError
from respite.services.agency import agency_from_env, case_payment_details

payment_app = typer.Typer(
    help="Payment details of a case: references, the agency's account, EPC QR code.",
    no_args_is_help=True,
)


@payment_app.command("details")
def details(
    case_ref: Annotated[str, typer.Argument(help="Case reference.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The open amount, the structured references and where to pay."""
    with open_database() as engine, engine.connect() as conn:
        result = case_payment_details(conn, case_ref)
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    b = result["beneficiary"]
    typer.echo(f"case              {result['case']} ({result['creditor']})")
    typer.echo(f"open amount       {result['currency']} {result['open_amount']}")
    typer.echo(f"pay to            {b['name']}, IBAN {b['iban']}, BIC {b['bic']}")
    typer.echo(f"reference (RF)    {result['rf']}")
    typer.echo(f"betalingskenmerk  {result['betalingskenmerk']}")
    typer.echo(f"OGM               {result['ogm']}")
    if result["epc_unavailable"]:
        typer.echo(f"QR code           none: {result['epc_unavailable']}")


@payment_app.command("qr")
def qr(
    case_ref: Annotated[str, typer.Argument(help="Case reference.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.png or FILE.svg")],
    scale: Annotated[int, typer.Option(help="Pixels per module.")] = 5,
) -> None:
    """Write the EPC QR code for the exact open amount of the case."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InputError(f"the file must end in .png or .svg, got {out.name!r}", field="--out")
    agency = agency_from_env()
    with open_database() as engine, engine.connect() as conn:
        result = case_payment_details(conn, case_ref, agency=agency)
    if result["epc_unavailable"]:
        raise ConflictError(f"no QR code for {case_ref}: {result['epc_unavailable']}")
    args: dict[str, Any] = {
        "name": agency.name,
        "iban": agency.iban,
        "bic": agency.bic,
        "amount": Money.from_minor_units(result["open_amount_cents"], Currency.EUR),
        "reference": result["rf"],
        "scale": scale,
    }
    if suffix == ".png":
        out.write_bytes(epc_qr_png(**args))
    else:
        out.write_text(epc_qr_svg(**args), encoding="utf-8")
    typer.echo(f"{out}: EUR {result['open_amount']} to {agency.iban}, reference {result['rf']}")
