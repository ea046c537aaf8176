"""Run the respite CLI as a user does: a real ``python -m respite`` subprocess.

One place for the helpers every e2e test file uses: ``run`` returns the finished process,
``ok_text`` asserts exit code 0 and returns what was printed, ``ok`` parses that as JSON;
``hand_over`` adds a creditor and imports its claims.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Generous: the slowest commands (a fortnight of simulated sending, a PDF report) share two
# cores with other test runs.
TIMEOUT_SECONDS = 300


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``respite *args`` with ``env`` laid over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "respite", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
        env={**os.environ, **(env or {})},
    )


def ok_text(*args: str, env: dict[str, str] | None = None) -> str:
    """The standard output of a command that must succeed."""
    proc = run(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def ok(*args: str, env: dict[str, str] | None = None) -> Any:
    """The JSON printed by a command that must succeed."""
    return json.loads(ok_text(*args, env=env))


def hand_over(env: dict[str, str], creditor: str, claims: Path, on: str) -> None:
    """Add the Dutch ``creditor`` and import its claims from the CSV file on date ``on``."""
    ok_text("creditor", "add", creditor, "--jurisdiction", "NL", env=env)
    ok_text("import", "claims", str(claims), "--creditor", creditor, "--date", on, env=env)
