"""The communications commands as an operator runs them, against a local SMTP sink and SMS
provider: `simulate --send`, `send --date`, `messages list`, `letter`, `contact`, `calls`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from respite.adapters.channels.fake_sms import FakeSmsProvider
from respite.adapters.channels.mail_sink import MailSink


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "respite", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def ok(*args: str, env: dict[str, str]) -> Any:
    proc = run(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.lstrip().startswith(("{", "[")) else proc.stdout


@pytest.fixture
def world(tmp_path: Path) -> Any:
    with (
        MailSink(tmp_path / "mail") as sink,
        FakeSmsProvider(api_key="k", log_path=tmp_path / "sms.jsonl") as sms,
    ):
        env = {
            "RESPITE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
            "RESPITE_SMTP_HOST": sink.host,
            "RESPITE_SMTP_PORT": str(sink.port),
            "RESPITE_SMS_URL": sms.url,
            "RESPITE_SMS_API_KEY": "k",
            "RESPITE_PRINT_DIR": str(tmp_path / "print"),
        }
        yield env, sink, sms, tmp_path


def test_a_fortnight_of_mornings_delivers_mail_and_a_print_batch(world: Any) -> None:
    env, sink, _sms, tmp = world
    ok(
        "demo-data",
        "--debtors",
        "40",
        "--creditors",
        "3",
        "--seed",
        "7",
        "--date",
        "2025-03-03",
        env=env,
    )
    out = ok("simulate", "--from", "2025-03-03", "--days", "16", "--quiet", "--send", env=env)
    assert "messages sent:" in out
    assert len(sink.messages) > 0  # the friendly reminders, by e-mail
    batches = sorted((tmp / "print" / "batches").glob("letters-*.pdf"))
    assert batches  # the formal notices, on paper
    text = subprocess.run(
        ["pdftotext", str(batches[0]), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "127.0.0.1:8000" in text
    # `respite send` for a day already delivered sends nothing twice.
    again = ok("send", "--date", "2025-03-18", env=env)
    assert again["sent_total"] == 0
    listed = ok("messages", "list", "--limit", "5", env=env)
    assert listed
    assert all(m["decisions"] for m in listed if m["status"] != "cancelled")


def test_letter_writes_the_current_letter_of_a_case(world: Any) -> None:
    env, _sink, _sms, tmp = world
    ok(
        "demo-data",
        "--debtors",
        "5",
        "--creditors",
        "1",
        "--seed",
        "3",
        "--date",
        "2025-03-03",
        env=env,
    )
    pdf = tmp / "letter.pdf"
    result = ok("letter", "R000000001", "--date", "2025-03-04", "--out", str(pdf), env=env)
    assert result["pdf"] == str(pdf)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "R000000001" in text.replace(" ", "")
    bad = run("letter", "R999999999", "--out", str(pdf), env=env)
    assert bad.returncode == 2
    assert "R999999999" in bad.stderr


def test_an_agent_request_passes_the_guardrails_and_an_opt_out_blocks_it(world: Any) -> None:
    env, sink, _sms, _tmp = world
    ok(
        "demo-data",
        "--debtors",
        "5",
        "--creditors",
        "1",
        "--seed",
        "3",
        "--date",
        "2025-03-03",
        env=env,
    )
    ok(
        "contact",
        "preference",
        "R000000001",
        "--channel",
        "email",
        "--status",
        "opted_out",
        "--date",
        "2025-03-04",
        env=env,
    )
    blocked = ok(
        "contact",
        "request",
        "R000000001",
        "--channel",
        "email",
        "--template",
        "friendly_reminder",
        "--by",
        "agent:kim",
        "--date",
        "2025-03-04",
        "--at",
        "10:00",
        env=env,
    )
    assert blocked["status"] == "blocked"
    assert blocked["decision"]["rule"] == "opt_out:email"
    night = ok(
        "contact",
        "request",
        "R000000002",
        "--channel",
        "phone",
        "--template",
        "call_offer_help",
        "--by",
        "agent:kim",
        "--date",
        "2025-03-04",
        "--at",
        "22:30",
        env=env,
    )
    assert night["status"] == "deferred"
    assert night["decision"]["rule"] == "quiet_hours"
    assert sink.messages == []
