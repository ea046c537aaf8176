"""Log a browser or an HTTP client in to the portal without the login form.

For tests of the pages behind the login: they create the session row the login would
create, and hand over its cookie. The login form itself is tested in test_portal_login.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from respite.adapters.db.models import Case, Debtor
from respite.entrypoints.web.sessions import COOKIE, create


def portal_session(engine: Engine, reference: str, *, language: str = "nl") -> str:
    """A live portal session for the person of case ``reference``; returns the cookie value."""
    with engine.begin() as conn:
        row = conn.execute(
            select(Case.id, Debtor.id.label("debtor"), Debtor.person_id)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.reference == reference)
        ).one()
        token: str = create(
            conn,
            "portal",
            now=datetime.now(UTC),
            idle=timedelta(hours=1),
            person_id=int(row.person_id or row.debtor),
            case_id=int(row.id),
            language=language,
        )
    return token


def log_in_browser(page: Any, base_url: str, engine: Engine, reference: str) -> None:
    """Give a Playwright page's context the portal cookie for ``reference``'s person."""
    token = portal_session(engine, reference)
    page.context.add_cookies([{"name": COOKIE["portal"], "value": token, "url": base_url}])
