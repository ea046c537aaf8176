"""Identity resolution across creditors: find, score, link or queue debtor records.

Candidates come from *blocking keys* in SQL - the same birth date, postcode, IBAN, e-mail
address or phone number (last nine digits) - never from comparing every record with every
other. Each candidate pair is scored by :func:`respite.domain.identity.score`; a pair at
or above the automatic threshold is linked (the two persons become one: the smaller person
key wins and every record of the other person points to it), a pair between the thresholds
waits in the review queue for a person, and every scored pair is kept in
``identity_links`` with its reasons, so a pair is scored once and a rejection stands.

Two guards keep automatic links from chaining into a wrong person: persons whose records
carry different birth dates, and persons with a rejected pair between them, are never
merged automatically (the pair goes to review instead).

A key value shared by more than ``max_block`` records (a shelter's postcode, a placeholder
birth date such as 1900-01-01) says nothing about identity and is skipped.

Nothing here logs personal data: log lines carry counts only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, insert, select, update

from respite.adapters.db.models import Debtor, IdentityLink
from respite.domain.identity import (
    Decision,
    Normalised,
    Reason,
    Record,
    Thresholds,
    house_number,
    normalise,
    score,
)
from respite.errors import ConflictError, InputError
from respite.services.people import person_key, person_of
from respite.services.store import chunks

__all__ = ["decide", "resolve", "resolve_all", "review_queue"]

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:identity"
MAX_BLOCK = 200
# A postcode group is split by house number in Python before the cap applies: a Belgian
# postcode covers a whole municipality, a Dutch one a street side.
POSTCODE_FETCH_FACTOR = 50
_CHUNK = 5000

Pair = tuple[int, int]  # (newer id, older id)


def _stripped(column: Any, *chars: str) -> ColumnElement[Any]:
    expr: ColumnElement[Any] = column
    for ch in chars:
        expr = func.replace(expr, ch, "")
    return expr


def _phone_digits() -> ColumnElement[Any]:
    return _stripped(Debtor.phone, " ", "-", ".", "(", ")", "/", "+")


def _blocking_keys() -> dict[str, ColumnElement[Any]]:
    """SQL expressions that put likely-same records side by side (formatting ignored)."""
    digits = _phone_digits()
    return {
        "birth_date": Debtor.birth_date.expression,
        "postcode": func.upper(_stripped(Debtor.postcode, " ", "-")),
        "iban": func.upper(_stripped(Debtor.iban, " ")),
        "email": func.lower(func.trim(Debtor.email)),
        # The last nine digits: the subscriber number in NL, BE, PL and GB, with or without
        # the country code or trunk zero.
        "phone": func.substr(digits, func.length(digits) - 8),
    }


def _key_filter(name: str, expr: ColumnElement[Any]) -> ColumnElement[bool]:
    if name == "phone":
        return and_(expr.is_not(None), func.length(_phone_digits()) >= 9)
    if name == "birth_date":
        return expr.is_not(None)
    return and_(expr.is_not(None), expr != "")


# --- candidates ----------------------------------------------------------------------


def _pairs_of_block(ids: Sequence[int], max_block: int) -> Iterable[Pair]:
    if len(ids) < 2 or len(ids) > max_block:
        return ()
    ordered = sorted(ids)
    return (
        (ordered[j], ordered[i]) for i in range(len(ordered)) for j in range(i + 1, len(ordered))
    )


def _house_of(street: str | None) -> str:
    house = house_number(street)
    return house.number if house else ""


def _split_by_house(
    rows: Iterable[tuple[Any, int, str | None]],
) -> dict[tuple[Any, str], list[int]]:
    blocks: dict[tuple[Any, str], list[int]] = defaultdict(list)
    for key, debtor_id, street in rows:
        # Records without a house number meet each other (the street comparison decides).
        blocks[(key, _house_of(street))].append(int(debtor_id))
    return blocks


def _candidate_pairs_all(conn: Connection, max_block: int) -> set[Pair]:
    pairs: set[Pair] = set()
    for name, expr in _blocking_keys().items():
        cap = max_block * POSTCODE_FETCH_FACTOR if name == "postcode" else max_block
        groups = (
            select(expr)
            .where(_key_filter(name, expr))
            .group_by(expr)
            .having(func.count() >= 2)
            .having(func.count() <= cap)
        )
        if name == "postcode":
            rows = conn.execute(select(expr, Debtor.id, Debtor.street).where(expr.in_(groups)))
            blocks = _split_by_house((r[0], r[1], r[2]) for r in rows)
        else:
            found: dict[Any, list[int]] = defaultdict(list)
            for key, debtor_id in conn.execute(select(expr, Debtor.id).where(expr.in_(groups))):
                found[key].append(int(debtor_id))
            blocks = {(k, ""): v for k, v in found.items()}
        for ids in blocks.values():
            pairs.update(_pairs_of_block(ids, max_block))
    return pairs


def _candidate_pairs_of(conn: Connection, debtor_id: int, max_block: int) -> set[Pair]:
    keys = _blocking_keys()
    own = conn.execute(
        select(*(e.label(k) for k, e in keys.items()), Debtor.street).where(Debtor.id == debtor_id)
    ).first()
    if own is None:
        raise InputError(f"no debtor with id {debtor_id}", field="debtor")
    values = own._mapping
    pairs: set[Pair] = set()
    for name, expr in keys.items():
        value = values[name]
        if value is None or value == "" or (name == "phone" and len(str(value)) < 9):
            continue
        cap = max_block * POSTCODE_FETCH_FACTOR if name == "postcode" else max_block
        rows = conn.execute(
            select(Debtor.id, Debtor.street)
            .where(expr == value, Debtor.id != debtor_id)
            .order_by(Debtor.id)
            .limit(cap + 1)
        ).all()
        if len(rows) > cap:
            continue
        if name == "postcode":
            mine = _house_of(values["street"])
            rows = [r for r in rows if _house_of(r.street) == mine]
        if len(rows) + 1 > max_block:
            continue
        pairs.update((max(debtor_id, int(r.id)), min(debtor_id, int(r.id))) for r in rows)
    return pairs


# --- scoring and storing -------------------------------------------------------------


def _known_pairs(conn: Connection, pairs: set[Pair]) -> set[Pair]:
    newer = sorted({p[0] for p in pairs})
    known: set[Pair] = set()
    for chunk in chunks(newer, _CHUNK):
        rows = conn.execute(
            select(IdentityLink.debtor_id, IdentityLink.other_debtor_id).where(
                IdentityLink.debtor_id.in_(chunk)
            )
        )
        known.update((int(a), int(b)) for a, b in rows)
    return known & pairs


def _load(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[int, Normalised]]:
    """Person key and normalised record by debtor id."""
    out: dict[int, tuple[int, Normalised]] = {}
    for chunk in chunks(sorted(set(ids)), _CHUNK):
        rows = conn.execute(
            select(
                Debtor.id,
                person_key().label("person"),
                Debtor.name,
                Debtor.kind,
                Debtor.birth_date,
                Debtor.street,
                Debtor.postcode,
                Debtor.city,
                Debtor.country,
                Debtor.iban,
                Debtor.email,
                Debtor.phone,
            ).where(Debtor.id.in_(chunk))
        )
        for r in rows:
            record = Record(
                name=r.name,
                birth_date=r.birth_date,
                street=r.street,
                postcode=r.postcode,
                city=r.city,
                country=r.country,
                iban=r.iban,
                email=r.email,
                phone=r.phone,
                kind=r.kind,
            )
            out[int(r.id)] = (int(r.person), normalise(record))
    return out


class _Persons:
    """Union-find over person keys with the two guards (birth dates, rejections)."""

    def __init__(self, conn: Connection, persons: set[int]) -> None:
        self.parent: dict[int, int] = {p: p for p in persons}
        self.dates: dict[int, set[Any]] = {p: set() for p in persons}
        self.groups: dict[int, set[int]] = {p: {p} for p in persons}
        owner: dict[int, int] = {}
        for chunk in chunks(sorted(persons), _CHUNK):
            rows = conn.execute(
                select(Debtor.id, person_key().label("person"), Debtor.birth_date).where(
                    Debtor.id.in_(chunk) | Debtor.person_id.in_(chunk)
                )
            )
            for debtor_id, person, birth_date in rows:
                owner[int(debtor_id)] = int(person)
                if birth_date is not None:
                    self.dates[int(person)].add(birth_date)
        self.rejected: dict[int, set[int]] = defaultdict(set)
        for chunk in chunks(sorted(owner), _CHUNK):
            rejected = conn.execute(
                select(IdentityLink.debtor_id, IdentityLink.other_debtor_id).where(
                    IdentityLink.status == "rejected", IdentityLink.debtor_id.in_(chunk)
                )
            )
            for a, b in rejected:
                if int(b) in owner:
                    pa, pb = owner[int(a)], owner[int(b)]
                    self.rejected[pa].add(pb)
                    self.rejected[pb].add(pa)

    def find(self, p: int) -> int:
        while self.parent[p] != p:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        return p

    def obstacle(self, a: int, b: int) -> str | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        if len(self.dates[ra] | self.dates[rb]) > 1:
            return "the two persons' records carry different dates of birth"
        for p in self.groups[ra]:
            if any(self.find(q) == rb for q in self.rejected.get(p, ())):
                return "a reviewer rejected a link between these persons"
        return None

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        root, other = min(ra, rb), max(ra, rb)
        self.parent[other] = root
        self.dates[root] |= self.dates.pop(other)
        self.groups[root] |= self.groups.pop(other)

    def moves(self) -> list[dict[str, int]]:
        """Every original person key that now belongs to another person, with its new key."""
        return [{"old_key": p, "new_key": self.find(p)} for p in self.parent if self.find(p) != p]


def _repoint(conn: Connection, moves: list[dict[str, int]]) -> None:
    if not moves:
        return
    by_id = (
        update(Debtor)
        .where(Debtor.id == bindparam("old_key"))
        .values(person_id=bindparam("new_key"))
        .execution_options(synchronize_session=False)
    )
    by_person = (
        update(Debtor)
        .where(Debtor.person_id == bindparam("old_key"))
        .values(person_id=bindparam("new_key"))
        .execution_options(synchronize_session=False)
    )
    # Members first: once the old key's own row points elsewhere, it is no person key.
    conn.execute(by_person, moves)
    conn.execute(by_id, moves)


def _process(
    conn: Connection, pairs: set[Pair], *, at: datetime, thresholds: Thresholds
) -> list[dict[str, Any]]:
    pairs -= _known_pairs(conn, pairs)
    if not pairs:
        return []
    records = _load(conn, {i for p in pairs for i in p})
    scored: list[tuple[Pair, int, list[Reason], Decision]] = []
    for newer, older in sorted(pairs):
        if newer not in records or older not in records:
            continue
        (p_new, rec_new), (p_old, rec_old) = records[newer], records[older]
        if p_new == p_old:
            continue  # already one person
        match = score(rec_new, rec_old, thresholds)
        if match.decision is not Decision.NONE:
            scored.append(((newer, older), match.score, list(match.reasons), match.decision))
    if not scored:
        return []
    persons = _Persons(conn, {records[i][0] for pair, *_ in scored for i in pair})
    # The strongest pairs first, so that a weaker pair meets the guards of a merged person.
    scored.sort(key=lambda s: (-s[1], s[0]))
    # Links first: a review pair whose records a link has just made one person is moot.
    scored.sort(key=lambda s: s[3] is not Decision.LINK)
    rows: list[dict[str, Any]] = []
    for (newer, older), total, reasons, decision in scored:
        status = "review"
        if decision is not Decision.LINK:
            if persons.find(records[newer][0]) == persons.find(records[older][0]):
                continue
        else:
            obstacle = persons.obstacle(records[newer][0], records[older][0])
            if obstacle is None:
                persons.union(records[newer][0], records[older][0])
                status = "linked"
            else:
                reasons.append(Reason("rule", f"not linked automatically: {obstacle}", 0))
        rows.append(
            {
                "debtor_id": newer,
                "other_debtor_id": older,
                "score": total,
                "reasons": [r.as_dict() for r in reasons],
                "status": status,
                "decided_by": SYSTEM_ACTOR,
                "decided_at": at,
            }
        )
    for chunk in chunks(rows, _CHUNK):
        conn.execute(insert(IdentityLink), list(chunk))
    ids = _link_ids(conn, [(r["debtor_id"], r["other_debtor_id"]) for r in rows])
    _repoint(conn, persons.moves())
    linked = sum(r["status"] == "linked" for r in rows)
    log.info(
        "identity resolution: %d pairs linked, %d queued for review", linked, len(rows) - linked
    )
    return [
        {
            "link_id": ids[(r["debtor_id"], r["other_debtor_id"])],
            "debtor_id": r["debtor_id"],
            "other_debtor_id": r["other_debtor_id"],
            "score": r["score"],
            "status": r["status"],
            "reasons": r["reasons"],
        }
        for r in rows
    ]


def _link_ids(conn: Connection, pairs: list[Pair]) -> dict[Pair, int]:
    wanted = set(pairs)
    out: dict[Pair, int] = {}
    for chunk in chunks(sorted({p[0] for p in pairs}), _CHUNK):
        rows = conn.execute(
            select(IdentityLink.id, IdentityLink.debtor_id, IdentityLink.other_debtor_id).where(
                IdentityLink.debtor_id.in_(chunk)
            )
        )
        for link_id, a, b in rows:
            if (int(a), int(b)) in wanted:
                out[(int(a), int(b))] = int(link_id)
    return out


# --- public --------------------------------------------------------------------------


def resolve(
    conn: Connection,
    debtor_id: int,
    *,
    at: datetime,
    thresholds: Thresholds | None = None,
    max_block: int = MAX_BLOCK,
) -> list[dict[str, Any]]:
    """Compare one debtor record with its candidates; store links and review items.

    Returns the pairs stored now (``linked`` or ``review``), each with its score and reasons.
    Pairs scored before are not scored again.
    """
    pairs = _candidate_pairs_of(conn, debtor_id, max_block)
    return _process(conn, pairs, at=at, thresholds=thresholds or Thresholds())


def resolve_all(
    conn: Connection,
    *,
    at: datetime,
    thresholds: Thresholds | None = None,
    max_block: int = MAX_BLOCK,
    since_id: int | None = None,
) -> list[dict[str, Any]]:
    """Resolve every debtor record (e.g. after an import), blocking in SQL.

    ``since_id`` limits the work to pairs with at least one record of that id or newer
    (the records an import just added).
    """
    pairs = _candidate_pairs_all(conn, max_block)
    if since_id is not None:
        pairs = {p for p in pairs if p[0] >= since_id}
    return _process(conn, pairs, at=at, thresholds=thresholds or Thresholds())


_FIELDS = (
    "id",
    "name",
    "kind",
    "birth_date",
    "street",
    "postcode",
    "city",
    "country",
    "iban",
    "email",
    "phone",
)


def _record_view(row: Any) -> dict[str, Any]:
    out = {f: getattr(row, f) for f in _FIELDS}
    out["birth_date"] = row.birth_date.isoformat() if row.birth_date else None
    out["person"] = int(row.person_id or row.id)
    return out


def review_queue(conn: Connection) -> list[dict[str, Any]]:
    """The pairs waiting for a person: highest score first, with both records and reasons."""
    links = conn.execute(
        select(IdentityLink)
        .where(IdentityLink.status == "review")
        .order_by(IdentityLink.score.desc(), IdentityLink.id)
    ).all()
    ids = {i for link in links for i in (link.debtor_id, link.other_debtor_id)}
    debtors: dict[int, dict[str, Any]] = {}
    for chunk in chunks(sorted(ids), _CHUNK):
        for row in conn.execute(
            select(*(getattr(Debtor, f) for f in _FIELDS), Debtor.person_id).where(
                Debtor.id.in_(chunk)
            )
        ):
            debtors[int(row.id)] = _record_view(row)
    return [
        {
            "link_id": int(link.id),
            "score": int(link.score),
            "queued_at": link.decided_at.isoformat(),
            "reasons": list(link.reasons),
            "debtor": debtors[int(link.debtor_id)],
            "other": debtors[int(link.other_debtor_id)],
        }
        for link in links
    ]


def decide(
    conn: Connection, link_id: int, accept: bool, *, actor: str, at: datetime
) -> dict[str, Any]:
    """A reviewer's decision on a queued pair: accept links the two persons, reject keeps
    them apart (and stops automatic links between them later)."""
    if not actor.strip():
        raise InputError("who decides is required", field="actor")
    link = conn.execute(select(IdentityLink).where(IdentityLink.id == link_id)).first()
    if link is None:
        raise InputError(f"no identity link with id {link_id}", field="link")
    if link.status != "review":
        raise ConflictError(f"identity link {link_id} is already decided ({link.status})")
    status = "linked" if accept else "rejected"
    conn.execute(
        update(IdentityLink)
        .where(IdentityLink.id == link_id, IdentityLink.status == "review")
        .values(status=status, decided_by=actor, decided_at=at)
    )
    if accept:
        a, b = person_of(conn, int(link.debtor_id)), person_of(conn, int(link.other_debtor_id))
        if a != b:
            _repoint(conn, [{"old_key": max(a, b), "new_key": min(a, b)}])
    log.info("identity link %d decided: %s", link_id, status)
    return {
        "link_id": link_id,
        "status": status,
        "debtor_id": int(link.debtor_id),
        "other_debtor_id": int(link.other_debtor_id),
        "person": person_of(conn, int(link.debtor_id)),
        "decided_by": actor,
    }
