"""The web's shared ground, in a real server and a real browser: security headers, the
CSRF guard, language negotiation and an accessible error page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Form
from fastapi.responses import PlainTextResponse

from respite.adapters.db.engine import make_engine
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.security import CSRF_COOKIE, csrf_protect
from respite.entrypoints.web.settings import WebSettings
from tests.e2e.browser import LiveServer, assert_accessible, live_server


@pytest.fixture
def server(tmp_path: Path, _sqlite_template: Path) -> Iterator[LiveServer]:
    import shutil

    shutil.copy(_sqlite_template, tmp_path / "web.db")
    app = create_app(make_engine(f"sqlite:///{tmp_path / 'web.db'}"), WebSettings())
    probe = APIRouter(dependencies=[Depends(csrf_protect)])

    @probe.post("/_probe")
    def _probe(note: str = Form()) -> PlainTextResponse:
        return PlainTextResponse(f"accepted {note}")

    app.include_router(probe)
    with live_server(app) as live:
        yield live


def test_every_page_carries_the_security_headers(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/no-such-page")
    assert response.status_code == 404
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    # Plain http on loopback: no HSTS (it is only meaningful, and only sent, over TLS).
    assert "strict-transport-security" not in response.headers
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_hsts_is_sent_when_the_request_came_over_tls(server: LiveServer) -> None:
    from fastapi.testclient import TestClient

    app = create_app(make_engine("sqlite://"), WebSettings())
    with TestClient(app, base_url="https://portal.example") as client:
        response = client.get("/healthz")
    assert "max-age=" in response.headers["strict-transport-security"]
    assert "Secure" in response.headers["set-cookie"]


def test_a_form_post_without_the_matching_csrf_token_is_refused(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        client.get("/healthz")  # receives the CSRF cookie
        token = client.cookies[CSRF_COOKIE]
        missing = client.post("/_probe", data={"note": "x"})
        wrong = client.post("/_probe", data={"note": "x", "csrf_token": "A" * 43})
        right = client.post("/_probe", data={"note": "x", "csrf_token": token})
    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert (right.status_code, right.text) == (200, "accepted x")


def test_a_cross_site_form_cannot_post_without_the_cookie(server: LiveServer) -> None:
    # Another site's form carries no cookie of ours (SameSite=Strict) and cannot read it.
    response = httpx.post(f"{server.url}/_probe", data={"note": "x", "csrf_token": "guess"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        ("fr-BE,fr;q=0.9", "", "Un problème est survenu"),
        ("pl", "", "Coś poszło nie tak"),
        ("de-DE", "", "Er ging iets mis"),  # no German: the agency's default, Dutch
        ("fr", "?lang=en", "Something went wrong"),
    ],
)
def test_the_page_speaks_the_visitors_language(
    server: LiveServer, accept: str, query: str, expected: str
) -> None:
    response = httpx.get(f"{server.url}/missing{query}", headers={"accept-language": accept})
    assert expected in response.text


def test_the_chosen_language_is_remembered(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers={"accept-language": "nl"}) as client:
        client.get("/missing?lang=pl")
        assert "Coś poszło nie tak" in client.get("/missing").text


def test_the_error_page_is_accessible_in_chromium(server: LiveServer, page: Any) -> None:
    page.goto(f"{server.url}/missing")
    assert page.locator("h1").inner_text() == "Er ging iets mis"
    assert page.get_attribute("html", "lang") == "nl"
    assert_accessible(page)
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Something went wrong"


def test_an_oversized_form_is_refused_before_it_is_read(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        client.get("/healthz")
        token = client.cookies[CSRF_COOKIE]
        big = "x" * (WebSettings().max_upload_bytes + 100 * 1024)
        response = client.post("/_probe", data={"note": big, "csrf_token": token})
        small = client.post("/_probe", data={"note": "x" * 1000, "csrf_token": token})
    assert response.status_code == 413
    assert small.status_code == 200


def test_switching_language_keeps_the_other_query_parameters(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/missing?next=%2Foverview&ref=R1")
    assert 'href="/missing?next=%2Foverview&amp;ref=R1&amp;lang=en"' in page.text
