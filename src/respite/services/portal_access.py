"""Portal access: log in with the case reference and the code printed on a letter.

Security choices (DESIGN.md, "Security and reliability lessons"):

- **Codes** are 12 symbols of a 32-symbol alphabet (60 bits,
  :data:`respite.services.messaging.CODE_ALPHABET`), stored only as argon2id hashes, valid
  until their ``expires_on``. A code is *not* spent by its first use: the debtor must be
  able to come back with the same letter. The first use is recorded (``used_at``, and a
  ``portal_login`` event on the case's timeline).
- **No enumeration.** An unknown reference, a wrong code, an expired code and a locked
  key give the same answer (``None``), and cost the same: every attempt reads the case,
  reads its codes and runs exactly :data:`VERIFICATIONS` argon2 verifications — the
  newest unexpired codes of the case, padded with a dummy hash made with the same
  parameters (an unknown reference verifies dummies only). Failures are counted for
  known and unknown references alike.
- **Throttling** (:mod:`respite.services.throttle`, in the database so every worker sees
  it): per reference :data:`REF_POLICY`, per client address :data:`IP_POLICY`. While a
  key is locked even the right code is refused. A success clears the reference's count,
  never the address's (one good code must not reset an attacker's budget).
- **Signed links** (the QR on a letter): ``/login/link?ref=&code=&exp=&sig=`` with an
  HMAC-SHA256 over the reference, code and expiry date. The link only fills in the form:
  a GET never logs in, because mail scanners and link previews fetch links.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from urllib.parse import urlencode

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, insert, select, update

from respite.adapters.db.models import AccessCode, Case, Debtor, Event
from respite.errors import InputError
from respite.services import messaging, throttle
from respite.services.store import event_row

__all__ = [
    "DEFAULT_POLICIES",
    "IP_POLICY",
    "REF_POLICY",
    "VERIFICATIONS",
    "IssuedCode",
    "LoggedIn",
    "Policies",
    "issue_code",
    "log_in",
    "login_link",
    "normalise_code",
    "normalise_reference",
    "read_link",
]

VERIFICATIONS = 3  # argon2 verifications per attempt, whatever the reference
REF_POLICY = throttle.Policy(limit=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
IP_POLICY = throttle.Policy(limit=20, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
ACTOR = "debtor:portal"
# Longer input is cut before hashing: argon2's cost grows with the input, and no real
# reference or code comes near these lengths.
MAX_REFERENCE = 30
MAX_CODE = 4 * messaging.CODE_LENGTH


@dataclass(frozen=True)
class Policies:
    reference: throttle.Policy = REF_POLICY
    address: throttle.Policy = IP_POLICY


DEFAULT_POLICIES = Policies()


@dataclass(frozen=True)
class LoggedIn:
    """Who logged in: the person (``COALESCE(person_id, id)``) and the case of the letter."""

    person_id: int
    case_id: int
    reference: str
    language: str


@dataclass(frozen=True)
class IssuedCode:
    reference: str
    code: str
    expires_on: date


def normalise_reference(text: str) -> str:
    """``r 0000 00042`` → ``R000000042``: upper case, no spaces, cut to the column's size."""
    return "".join(text.split()).upper()[:MAX_REFERENCE]


def normalise_code(text: str) -> str:
    """Upper case without spaces and dashes, as printed and as typed (``abcd-efgh-jkmn``).

    Letters the alphabet leaves out (I, O, 0, 1) are not mapped to look-alikes: such a
    code is simply wrong, like any other wrong code.
    """
    return "".join(ch for ch in text.upper() if not ch.isspace() and ch != "-")[:MAX_CODE]


@cache
def _dummy_hash() -> str:
    # Same parameters as real codes, so verifying it costs what verifying a code costs.
    return messaging.LOGIN_CODE_HASHER.hash(messaging.new_login_code())


def _verify(code_hash: str, code: str) -> bool:
    try:
        return messaging.LOGIN_CODE_HASHER.verify(code_hash, code)
    except (VerificationError, InvalidHashError):
        return False


def log_in(
    conn: Connection,
    reference: str,
    code: str,
    *,
    client: str,
    on: date,
    now: datetime,
    policies: Policies = DEFAULT_POLICIES,
) -> LoggedIn | None:
    """The person behind ``reference`` if ``code`` is one of its live codes, else None.

    None says nothing more: unknown reference, wrong or expired code, or a lockout. Run it
    in the transaction that creates the session.
    """
    ref = normalise_reference(reference)
    candidate = normalise_code(code)
    keys = [f"ref:{ref}", f"ip:{client[:64]}"]
    locked = throttle.locked(conn, keys, now) is not None
    case = conn.execute(
        select(
            Case.id,
            Case.reference,
            func.coalesce(Debtor.person_id, Debtor.id).label("person"),
            Debtor.language,
        )
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.reference == ref)
    ).first()
    codes = conn.execute(
        select(AccessCode.id, AccessCode.code_hash)
        .where(AccessCode.case_id == (case.id if case is not None else -1))
        .where(AccessCode.expires_on >= on)
        .order_by(AccessCode.issued_on.desc(), AccessCode.id.desc())
        .limit(VERIFICATIONS)
    ).all()
    hashes: list[tuple[int | None, str]] = [(int(c.id), str(c.code_hash)) for c in codes]
    hashes += [(None, _dummy_hash())] * (VERIFICATIONS - len(hashes))
    matched: int | None = None
    for code_id, code_hash in hashes:  # every one, always: no early exit
        if _verify(code_hash, candidate) and code_id is not None and matched is None:
            matched = code_id
    if locked:
        # Not counted: the lock already refuses every try, and counting them would only
        # push the end of the lockout further away for the debtor.
        return None
    if case is None or matched is None:
        throttle.record_failure(
            conn, [(keys[0], policies.reference), (keys[1], policies.address)], now
        )
        return None
    throttle.clear(conn, keys[:1])
    first_use = conn.execute(
        update(AccessCode)
        .where(AccessCode.id == matched, AccessCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    # Every login is on the timeline: the social report counts portal logins and the
    # share of self-service from these events.
    conn.execute(
        insert(Event).values(
            event_row(
                int(case.id),
                on,
                now,
                ACTOR,
                "portal_login",
                "login to the portal with the code of a letter"
                + (" (its first use)" if first_use else ""),
                {"code_id": matched, "first_use": bool(first_use)},
            )
        )
    )
    return LoggedIn(int(case.person), int(case.id), str(case.reference), str(case.language))


# --- codes for agents and the demo --------------------------------------------------------


def issue_code(
    conn: Connection, reference: str, *, on: date, days: int, at: datetime, actor: str
) -> IssuedCode:
    """A new login code for a case (an agent reads it out on the phone; the demo prints it)."""
    if days < 1:
        raise InputError(f"must be at least 1, got {days}", field="--days")
    ref = normalise_reference(reference)
    case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar()
    if case_id is None:
        raise InputError(f"no case with reference {reference.strip()!r}", field="reference")
    code = messaging.issue_login_code(conn, int(case_id), on, days, None)
    expires = on + timedelta(days=days)
    conn.execute(
        insert(Event).values(
            event_row(
                int(case_id),
                on,
                at,
                actor,
                "login_code_issued",
                "portal login code issued",
                {"expires_on": expires.isoformat()},
            )
        )
    )
    return IssuedCode(ref, code, expires)


# --- signed links -------------------------------------------------------------------------


def _signature(reference: str, code: str, expires_on: date, secret: str) -> str:
    message = f"portal-login\n{reference}\n{code}\n{expires_on.isoformat()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def login_link(base_url: str, reference: str, code: str, expires_on: date, secret: str) -> str:
    """The link (and QR) that opens the login form filled in with ``reference`` and ``code``."""
    ref, normal = normalise_reference(reference), normalise_code(code)
    query = urlencode(
        {
            "ref": ref,
            "code": normal,
            "exp": expires_on.isoformat(),
            "sig": _signature(ref, normal, expires_on, secret),
        }
    )
    return f"{base_url.rstrip('/')}/login/link?{query}"


def read_link(
    reference: str, code: str, expires: str, signature: str, *, secret: str, on: date
) -> tuple[str, str] | None:
    """``(reference, code)`` of a link that is genuine and not expired on ``on``, else None."""
    try:
        expires_on = date.fromisoformat(expires)
    except ValueError:
        return None
    ref, normal = normalise_reference(reference), normalise_code(code)
    expected = _signature(ref, normal, expires_on, secret)
    given = signature.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode("ascii"), given) or expires_on < on:
        return None
    return ref, normal
