"""Who is calling: ``Authorization: Bearer rsp_<key_id>_<secret>``, and what it may do.

A missing, malformed, unknown, wrong or revoked key gets the same 401 with the same body;
a valid key without the route's scope gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from respite.entrypoints.web import deps
from respite.services.api_keys import SCOPES, ApiPrincipal, touch_key, verify_key

__all__ = ["bearer", "principal", "require"]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="rsp_<key_id>_<secret>",
    description="A creditor's API key (`respite creditor key create`).",
)
UNAUTHORIZED = "missing, unknown or revoked API key"


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiPrincipal:
    found = None
    engine, now = deps.engine(request), deps.now(request)
    if credentials is not None:
        with engine.connect() as conn:
            found = verify_key(conn, credentials.credentials, now=now)
    if found is None:
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if found.stale:
        touch_key(engine, found.key_id, now=now)
    return found


def require(scope: str) -> Callable[[ApiPrincipal], ApiPrincipal]:
    """A dependency: the caller, who must hold ``scope``."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def check(caller: Annotated[ApiPrincipal, Depends(principal)]) -> ApiPrincipal:
        if scope not in caller.scopes:
            raise HTTPException(403, f"this API key lacks the scope {scope}")
        return caller

    return check
