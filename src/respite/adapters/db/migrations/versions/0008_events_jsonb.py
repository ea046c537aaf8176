"""events: the timeline's before/after as jsonb on PostgreSQL

The social collection report reads fields of millions of events (a message's id, channel
and B1 flag, a transition's stage, a payment's amount). In a ``json`` column PostgreSQL
keeps the text and parses it again for every ``->>``; ``jsonb`` is stored parsed, so a field
read is a lookup. On the benchmark portfolio (1,000,000 cases, a year of events) this was
most of the report's time. The values are the same; only the key order of an object is no
longer kept, which nothing reads. SQLite keeps its JSON text (it has no such type).

The change rewrites the table once (``ALTER … TYPE jsonb``), holding a lock on it while it
runs: on a large production timeline, run this migration in a maintenance window.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 20:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _retype("jsonb")


def downgrade() -> None:
    _retype("json")


def _retype(json_type: str) -> None:
    """``before`` and ``after`` of ``events`` as ``json_type``, on PostgreSQL only."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER TABLE events ALTER COLUMN before TYPE {json_type} USING before::{json_type}, "
        f"ALTER COLUMN after TYPE {json_type} USING after::{json_type}"
    )
