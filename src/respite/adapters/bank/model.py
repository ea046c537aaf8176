"""What a bank file says, as plain values: the contract between the parser and the import.

The CAMT parser (:mod:`respite.adapters.bank.camt`) produces these; the import service
(:mod:`respite.services.bank_import`) matches and books them. Amounts are integer cents
of ``currency`` (positive; ``direction`` says which way the money went).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = ["BankTransaction", "Deviation", "ParsedStatement"]


@dataclass(frozen=True, slots=True)
class Deviation:
    """Something in the file that breaks its schema or does not add up, and where."""

    where: str  # e.g. "Stmt[1]/Ntry[3]/NtryDtls/TxDtls[2]" or "line 118"
    message: str
    severity: str = "warning"  # warning | error (an error blocks booking only by setting)


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One transaction: an entry, or one TxDtls of a batch entry.

    ``key`` (at most 64 characters) is the natural key for exactly-once booking: ``a:`` +
    a hash of the bank's AcctSvcrRef bound to the account, booking date, amount,
    direction and the TxDtls position when the bank gives one (banks do reuse a
    reference), else ``c:`` + a hash of the account, booking date, amount, direction,
    reversal flag, references, counterparty and position. The same transaction in an
    overlapping statement has the same key.
    """

    key: str
    account: str  # IBAN (or other id) of the statement's account
    booking_date: date
    value_date: date | None
    direction: str  # CRDT (money in) | DBIT (money out)
    amount_cents: int
    currency: str
    reversal: bool = False  # RvslInd: this undoes an earlier entry
    status: str = "BOOK"  # BOOK | PDNG | INFO (only BOOK is booked)
    acct_svcr_ref: str | None = None
    end_to_end_id: str | None = None
    mandate_id: str | None = None
    structured_refs: tuple[str, ...] = ()  # Strd/CdtrRefInf/Ref values as written
    remittance: str = ""  # Ustrd lines joined with " "
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    return_reason: str | None = None  # RtrInf/Rsn/Cd, e.g. AC04, MD06, AM04
    bank_code: str | None = None  # BkTxCd Domn/Fmly/SubFmlyCd joined with "/", or Prtry
    where: str = ""  # position in the file, for messages


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    """One Stmt (CAMT.053) or Ntfctn (CAMT.054) with its transactions."""

    kind: str  # camt.053.001.02 | .04 | .08 | camt.054.001.xx ...
    message_id: str
    statement_id: str
    account: str
    currency: str
    opening_cents: int | None  # signed (CRDT positive); None if not in the file
    closing_cents: int | None
    transactions: tuple[BankTransaction, ...]
    entries_sum_cents: int  # Σ signed entry amounts (Ntry level, before TxDtls split)
    deviations: tuple[Deviation, ...] = field(default_factory=tuple)

    @property
    def difference_cents(self) -> int | None:
        """closing − opening − Σ entries; 0 when the statement adds up, None if unknown."""
        if self.opening_cents is None or self.closing_cents is None:
            return None
        return self.closing_cents - self.opening_cents - self.entries_sum_cents
