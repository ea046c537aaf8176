"""Shared test fixtures: where the repository and the shared data folder are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI lays a copy of shared/ beside the clone; so does every developer checkout.
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared test data not found at {data} (it lies beside the repository)")
    return data
