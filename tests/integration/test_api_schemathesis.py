"""The published OpenAPI, tested by a client nobody here wrote: schemathesis.

Schemathesis reads ``/api/v1/openapi.json`` from the app and generates requests for every
operation (valid ones and broken ones), sent with a valid key that holds every scope.
Every response must not be a server error, must have a status code the document
declares, the declared content type, and a body that matches the declared schema.

Random references rarely hit a real case, so ``test_seeded_objects_match_the_schema``
also sends each read to the seeded objects themselves, under the same checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from respite.adapters.clock import FixedClock
from respite.adapters.db.engine import make_engine
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.settings import WebSettings
from tests.e2e.portal_data import NOW, Portfolio, seed
from tests.integration.test_api import new_key

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The CSV endpoint's body is text; schemathesis sends generated strings as they are.
schemathesis.serializer.alias("text/csv", "text/plain")


# Schemathesis reads the document when this module loads; the database comes per test:
# the fixture below gives this app a freshly seeded engine (routes take the engine from
# app.state on every request). schemathesis.pytest.from_fixture would be the usual way,
# but its lazy loader touches pytest internals that pytest 9 no longer has.
APP = create_app(make_engine("sqlite://"), WebSettings(), FixedClock(NOW))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@dataclass
class Target:
    key: str
    portfolio: Portfolio

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def target(
    _sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    shutil.copy(_sqlite_template, tmp_path / "api.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    portfolio = seed(engine)
    key = new_key(engine, "Stroom & Water BV")
    APP.state.engine = engine
    APP.state.settings = WebSettings(business_date=portfolio.on)
    yield Target(key, portfolio)
    engine.dispose()


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_conforms_to_the_published_schema(case: Any, target: Target) -> None:
    case.call_and_validate(headers=target.headers, checks=CHECKS)


def test_seeded_objects_match_the_schema(target: Target) -> None:
    p = target.portfolio
    reads = [
        ("/api/v1/me", {}, {}),
        ("/api/v1/cases", {}, {"status": "open"}),
        ("/api/v1/cases/{reference}", {"reference": p.utility_case}, {}),
        ("/api/v1/cases/{reference}/timeline", {"reference": p.utility_case}, {}),
        ("/api/v1/claims/{external_ref}", {"external_ref": "UTIL-1001"}, {}),
        ("/api/v1/collections", {}, {"from": "2025-01-01", "to": "2025-12-31"}),
        ("/api/v1/remittances", {}, {}),
        ("/api/v1/webhooks", {}, {}),
    ]
    for path, params, query in reads:
        case = schema[path]["GET"].Case(path_parameters=params, query=query)
        response = case.call_and_validate(headers=target.headers, checks=CHECKS)
        assert response.status_code == 200, (path, response.text)
