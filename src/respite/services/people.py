"""One person behind several debtor records.

Each creditor sends its own spelling of a debtor. Exact matches share one ``debtors`` row
(``identity_key``); identity resolution (:mod:`respite.services.identity`) links the rest
by setting ``debtors.person_id`` to the person's first record. The *person key* of a
debtor record is therefore ``COALESCE(person_id, id)``, and everything that must see "one
debtor, many debts" (plans, referrals, the debtor-360 view) asks this module for it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, bindparam, func, select

from respite.adapters.db.models import Case, Debtor
from respite.errors import InputError

__all__ = ["debtor_ids_of_person", "open_case_ids_of_person", "person_key", "person_of"]


def person_key() -> ColumnElement[int]:
    """The SQL expression for a debtor row's person key."""
    return func.coalesce(Debtor.person_id, Debtor.id)


# Built once: these run on every portal page, where building the expression each time
# cost more than running it (the compiled form is cached by SQLAlchemy either way).
_PERSON_OF = select(Debtor.id, Debtor.person_id).where(Debtor.id == bindparam("debtor"))
_DEBTORS_OF = select(Debtor.id).where(
    (Debtor.id == bindparam("person")) | (Debtor.person_id == bindparam("person"))
)
_OPEN_CASES_OF = (
    select(Case.id)
    .join(Debtor, Debtor.id == Case.debtor_id)
    .where(
        (Debtor.id == bindparam("person")) | (Debtor.person_id == bindparam("person")),
        Case.closed.is_(False),
    )
    .order_by(Case.id)
)


def person_of(conn: Connection, debtor_id: int) -> int:
    """The person key of one debtor record; a clear error for an unknown record."""
    row = conn.execute(_PERSON_OF, {"debtor": debtor_id}).first()
    if row is None:
        raise InputError(f"no debtor with id {debtor_id}", field="debtor")
    return int(row.person_id or row.id)


def debtor_ids_of_person(conn: Connection, person: int) -> list[int]:
    """Every debtor record that belongs to the person, oldest first."""
    rows = conn.execute(_DEBTORS_OF, {"person": person}).scalars()
    return sorted(int(r) for r in rows)


def open_case_ids_of_person(conn: Connection, person: int) -> list[int]:
    """The person's open cases with every creditor, oldest first."""
    rows = conn.execute(_OPEN_CASES_OF, {"person": person}).scalars()
    return [int(r) for r in rows]
