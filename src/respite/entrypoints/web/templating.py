"""Server-rendered pages: one Jinja2 environment over the areas' template folders.

``render`` gives every template the visitor's language (``_``, ``t`` for formatting,
``lang``, ``languages``), the CSRF token for its forms and the current path for the
language switcher. Autoescaping is on for everything.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from respite.entrypoints.web.i18n import LANGUAGES, negotiate, translator
from respite.entrypoints.web.security import csrf_token

__all__ = ["LANG_COOKIE", "environment", "language_of", "render"]

ROOT = Path(__file__).resolve().parents[1]  # respite/entrypoints
LANG_COOKIE = "respite_lang"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Each area's templates live in <area>/templates; "web/templates" holds the layouts.
    folders = [str(ROOT / area / "templates") for area in ("web", "portal", "console")]
    return Environment(
        loader=FileSystemLoader(folders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language_of(request: Request) -> str:
    cached = getattr(request.state, "language", None)
    if isinstance(cached, str):
        return cached
    if request.url.path.startswith("/console"):
        # The console speaks English (its users are the agency's staff), error pages too.
        request.state.language = "en"
        return "en"
    settings = request.app.state.settings
    lang = negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        settings.default_language,
    )
    request.state.language = lang
    return lang


def _with_lang(request: Request, code: str) -> str:
    """This page in another language, its other query parameters kept (a pre-filled login
    link or a ``next`` must survive the switch)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*query, ('lang', code)])}"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language_of(request)
    t = translator(lang)
    page = (
        environment()
        .get_template(template)
        .render(
            request=request,
            _=t.gettext,
            t=t,
            lang=lang,
            languages=LANGUAGES,
            csrf_token=csrf_token(request),
            path=request.url.path,
            lang_href=lambda code: _with_lang(request, code),
            **context,
        )
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, httponly=True, samesite="lax", max_age=365 * 24 * 3600, path="/"
        )
    return response
