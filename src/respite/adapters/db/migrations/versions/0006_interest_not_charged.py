"""interest not charged: what a frozen or held claim would have accrued, until recorded

The nightly cycle accrues no interest on a claim whose dossier has its interest frozen by
a payment plan or is on hold. It now keeps what the same rates would have added, in
micro-cents like ``interest_carry_micros``, from ``frozen_interest_from``; it records the
whole cents as an ``interest_not_charged`` event when a month ends, when the freeze or hold
ends and when the dossier closes, and keeps the sub-cent rest.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table) on both databases.
    op.add_column(
        "claims",
        sa.Column(
            "frozen_interest_micros",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            server_default="0",
        ),
    )
    op.add_column("claims", sa.Column("frozen_interest_from", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_column("frozen_interest_from")
        batch_op.drop_column("frozen_interest_micros")
