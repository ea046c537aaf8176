"""The communications commands as an operator runs them, against a local SMTP sink and SMS
provider: `simulate --send`, `send --date`, `messages list`, `letter`, `contact`, `calls`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from respite.adapters.channels.fake_sms import FakeSmsProvider
from respite.adapters.channels.mail_sink import MailSink

from .cli import ok, ok_text, run


def portfolio(env: dict[str, str], *, debtors: int, creditors: int, seed: int) -> None:
    """A small demo portfolio handed over on Monday 3 March 2025."""
    ok_text(
        "demo-data",
        "--debtors",
        str(debtors),
        "--creditors",
        str(creditors),
        "--seed",
        str(seed),
        "--date",
        "2025-03-03",
        env=env,
    )


def agent_request(env: dict[str, str], case: str, channel: str, template: str, *, at: str) -> Any:
    """`respite contact request` by agent Kim on Tuesday 4 March 2025 at ``at``."""
    return ok(
        "contact",
        "request",
        case,
        "--channel",
        channel,
        "--template",
        template,
        "--by",
        "agent:kim",
        "--date",
        "2025-03-04",
        "--at",
        at,
        env=env,
    )


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
    portfolio(env, debtors=40, creditors=3, seed=7)
    out = ok_text("simulate", "--from", "2025-03-03", "--days", "16", "--quiet", "--send", env=env)
    assert "messages sent:" in out
    assert len(sink.messages) > 0  # the friendly reminders, by e-mail
    days = sorted(p.name for p in (tmp / "print" / "spool").iterdir())
    assert days  # letters were spooled (the formal notices, on paper)
    batch = ok("print-batch", "--date", days[0], env=env)
    assert batch["letters"] == len(list((tmp / "print" / "spool" / days[0]).glob("*.json")))
    text = subprocess.run(
        ["pdftotext", batch["pdf_path"], "-"], capture_output=True, text=True, check=True
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
    portfolio(env, debtors=5, creditors=1, seed=3)
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
    portfolio(env, debtors=5, creditors=1, seed=3)
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
    blocked = agent_request(env, "R000000001", "email", "friendly_reminder", at="10:00")
    assert blocked["status"] == "blocked"
    assert blocked["decision"]["rule"] == "opt_out:email"
    night = agent_request(env, "R000000002", "phone", "call_offer_help", at="22:30")
    assert night["status"] == "deferred"
    assert night["decision"]["rule"] == "quiet_hours"
    assert sink.messages == []
