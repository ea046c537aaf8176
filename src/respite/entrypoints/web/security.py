"""Security headers on every response, and the CSRF token of every HTML form.

CSRF: a random token in an HttpOnly, SameSite=Strict cookie (``respite_csrf``), repeated
in a hidden ``csrf_token`` field of every form (double submit). A cross-site page can
neither read the cookie nor make the browser send it, so it cannot forge a matching form.
``csrf_protect`` is a router dependency of the portal and the console: every unsafe
request on them is checked, so no route can forget. The JSON API uses API keys in a
header instead of cookies and is not exposed to CSRF.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_COOKIE", "SecurityMiddleware", "csrf_protect", "csrf_token"]

CSRF_COOKIE = "respite_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _cookie(scope: Scope, name: str) -> str | None:
    # Starlette's own parser: the same reading of the header as ``request.cookies``.
    for key, value in scope.get("headers", []):
        if key == b"cookie" and (found := cookie_parser(value.decode("latin-1")).get(name)):
            return found
    return None


class SecurityMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and break streaming)."""

    def __init__(
        self, app: ASGIApp, *, form_origins: tuple[str, ...] = (), max_form_bytes: int = 6 << 20
    ) -> None:
        self.app = app
        # Pages take forms with at most one upload; anything bigger is refused before it is
        # parsed and spooled (the API has its own limits for bulk files).
        self.max_form_bytes = max_form_bytes
        extra = " ".join(form_origins)
        self.csp = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            f"form-action 'self' {extra}".strip()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        existing = _cookie(scope, CSRF_COOKIE)
        token = existing if existing and 20 <= len(existing) <= 100 else None
        fresh = token is None
        if token is None:
            token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = token
        https = scope.get("scheme") == "https"
        is_api = scope.get("path", "").startswith("/api/")
        if not is_api:
            length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
            if length is not None and (not length.isdigit() or int(length) > self.max_form_bytes):
                response = PlainTextResponse("Request too large", status_code=413)
                await response(scope, receive, send)
                return
            receive = self._capped(receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault(
                    "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
                )
                if not is_api:
                    headers.setdefault("Content-Security-Policy", self.csp)
                    # Pages show personal data: never kept by a shared computer's cache.
                    headers.setdefault("Cache-Control", "no-store")
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
                    )
                if fresh and not is_api:
                    secure = "; Secure" if https else ""
                    headers.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _capped(self, receive: Receive) -> Receive:
        """A chunked body without Content-Length is counted as it arrives and cut off."""
        seen = 0
        limit = self.max_form_bytes

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    return {"type": "http.disconnect"}
            return message

        return capped


def csrf_token(request: Request) -> str:
    token: str = request.state.csrf
    return token


async def csrf_protect(request: Request) -> None:
    """Router dependency: an unsafe request must carry the cookie's token in its form."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent: object = None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get("csrf_token")
    if sent is None:
        sent = request.headers.get("x-csrf-token")
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise HTTPException(status_code=403, detail="The form has expired. Please try again.")
