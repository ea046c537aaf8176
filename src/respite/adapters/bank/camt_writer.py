"""Writing CAMT.053 bank statements (001.02 and 001.08), streamed to a file.

For the demo (a statement of what the demo's debtors paid), the benchmark (100,000
entries) and tests. One ``Ntry`` per transaction, each with one ``TxDtls``. The output
validates against the official XSDs (``shared/data/xsd/camt.053.001.0{2,8}.xsd``; tested).
Entries are written as they come, so memory stays flat whatever the number.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from respite.adapters.bank.model import BankTransaction
from respite.errors import InputError

__all__ = ["VERSIONS", "write_camt053"]

VERSIONS = ("001.02", "001.08")


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _bal(code: str, cents: int, currency: str, day: str) -> str:
    ind = "CRDT" if cents >= 0 else "DBIT"
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{_amount(abs(cents))}</Amt><CdtDbtInd>{ind}</CdtDbtInd>'
        f"<Dt><Dt>{day}</Dt></Dt></Bal>"
    )


def _text(value: str, size: int) -> str:
    return escape(value[:size])


def _entry(tx: BankTransaction, v08: bool) -> str:
    parts = [
        f'<Ntry><Amt Ccy="{tx.currency}">{_amount(tx.amount_cents)}</Amt>',
        f"<CdtDbtInd>{tx.direction}</CdtDbtInd>",
    ]
    if tx.reversal:
        parts.append("<RvslInd>true</RvslInd>")
    parts.append(f"<Sts><Cd>{tx.status}</Cd></Sts>" if v08 else f"<Sts>{tx.status}</Sts>")
    parts.append(f"<BookgDt><Dt>{tx.booking_date.isoformat()}</Dt></BookgDt>")
    if tx.value_date is not None:
        parts.append(f"<ValDt><Dt>{tx.value_date.isoformat()}</Dt></ValDt>")
    if tx.acct_svcr_ref:
        parts.append(f"<AcctSvcrRef>{_text(tx.acct_svcr_ref, 35)}</AcctSvcrRef>")
    family, sub = ("RCDT", "ESCT") if tx.direction == "CRDT" else ("RDDT", "ESDD")
    if tx.return_reason:
        family, sub = ("RDDT", "UPDD") if tx.end_to_end_id else ("RCDT", "RRTN")
    bktx = f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"
    parts.append(bktx)
    tx_parts = ["<NtryDtls><TxDtls>"]
    refs = []
    if tx.end_to_end_id:
        refs.append(f"<EndToEndId>{_text(tx.end_to_end_id, 35)}</EndToEndId>")
    if tx.mandate_id:
        refs.append(f"<MndtId>{_text(tx.mandate_id, 35)}</MndtId>")
    if refs:
        tx_parts.append("<Refs>" + "".join(refs) + "</Refs>")
    if tx.counterparty_name or tx.counterparty_iban:
        # The other party: the payer of money in, the payee of money out.
        role = "Dbtr" if tx.direction == "CRDT" else "Cdtr"
        party = ""
        if tx.counterparty_name:
            name = f"<Nm>{_text(tx.counterparty_name, 70)}</Nm>"
            party = f"<{role}><Pty>{name}</Pty></{role}>" if v08 else f"<{role}>{name}</{role}>"
        acct = ""
        if tx.counterparty_iban:
            acct = f"<{role}Acct><Id><IBAN>{tx.counterparty_iban}</IBAN></Id></{role}Acct>"
        tx_parts.append(f"<RltdPties>{party}{acct}</RltdPties>")
    if tx.remittance or tx.structured_refs:
        rmt = ["<RmtInf>"]
        if tx.remittance:
            rmt.append(f"<Ustrd>{_text(tx.remittance, 140)}</Ustrd>")
        for ref in tx.structured_refs:
            rmt.append(
                "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry>"
                + ("<Issr>ISO</Issr>" if ref.upper().startswith("RF") else "")
                + f"</Tp><Ref>{_text(ref, 35)}</Ref></CdtrRefInf></Strd>"
            )
        rmt.append("</RmtInf>")
        tx_parts.append("".join(rmt))
    if tx.return_reason:
        tx_parts.append(f"<RtrInf><Rsn><Cd>{_text(tx.return_reason, 4)}</Cd></Rsn></RtrInf>")
    tx_parts.append("</TxDtls></NtryDtls>")
    parts.extend(tx_parts)
    parts.append("</Ntry>\n")
    return "".join(parts)


def write_camt053(
    path: Path,
    *,
    account: str,
    currency: str,
    opening_cents: int,
    transactions: Iterable[BankTransaction],
    message_id: str,
    statement_id: str,
    created: datetime,
    version: str = "001.02",
    closing_cents: int | None = None,
) -> int:
    """Write one statement; returns the closing balance in cents (signed).

    The closing balance is opening + Σ entries unless ``closing_cents`` is given (tests
    write statements that do not add up). ``transactions`` may be a generator.
    """
    if version not in VERSIONS:
        raise InputError(f"unknown CAMT.053 version {version!r}: use one of {', '.join(VERSIONS)}")
    v08 = version == "001.08"
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.053.{version}"
    stamp = created.replace(microsecond=0).isoformat()
    body = path.with_name(path.name + ".part")
    total = 0
    first_day: str | None = None
    last_day: str | None = None
    with body.open("w", encoding="utf-8") as out:
        for tx in transactions:
            if tx.currency != currency:
                raise InputError(f"entry {tx.key} is in {tx.currency}, the statement in {currency}")
            if tx.status == "BOOK":
                total += tx.amount_cents if tx.direction == "CRDT" else -tx.amount_cents
            day = tx.booking_date.isoformat()
            first_day = day if first_day is None else min(first_day, day)
            last_day = day if last_day is None else max(last_day, day)
            out.write(_entry(tx, v08))
    closing = opening_cents + total if closing_cents is None else closing_cents
    day_from = first_day or created.date().isoformat()
    day_to = last_day or day_from
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{ns}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{_text(message_id, 35)}</MsgId><CreDtTm>{stamp}</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{_text(statement_id, 35)}</Id><CreDtTm>{stamp}</CreDtTm>"
        f"<FrToDt><FrDtTm>{day_from}T00:00:00</FrDtTm><ToDtTm>{day_to}T23:59:59</ToDtTm></FrToDt>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
        + _bal("OPBD", opening_cents, currency, day_from)
        + _bal("CLBD", closing, currency, day_to)
        + "\n"
    )
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out, body.open(encoding="utf-8") as entries:
        out.write(head)
        while chunk := entries.read(1 << 20):
            out.write(chunk)
        out.write("</Stmt></BkToCstmrStmt></Document>\n")
    body.unlink()
    tmp.replace(path)
    return closing
