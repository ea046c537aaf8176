"""report indexes: events by kind and business date

The social collection report reads the timeline one kind at a time over a period
(payments, closes, holds, messages ...); this index turns each of those reads into a
range scan instead of a scan of every event.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not in batch mode: on SQLite a batch may copy the table, and the copy would lose the
    # triggers that keep the timeline append-only.
    op.create_index("ix_events_kind_date", "events", ["kind", "business_date", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_events_kind_date", table_name="events")
