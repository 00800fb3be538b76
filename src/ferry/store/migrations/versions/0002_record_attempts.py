"""Record attempt history: one row per failed delivery attempt of a ledger record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Successful attempts need no row: the ledger row itself says when the record was delivered and
after how many attempts. Failed ones (``error``, ``dead``) are rare, so writing them costs
nothing on the hot path, and ``ferry records show`` can list every attempt with its reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, DT, ID, MEDIUM_TEXT, create_index, create_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "record_attempts",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("scheme_id", ID, nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", DT, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("error", MEDIUM_TEXT),
        sa.Column("next_attempt_at", DT),
        sa.CheckConstraint("status IN ('error', 'dead')", name="ck_record_attempts_status"),
    )
    create_index("ix_record_attempts_record", "record_attempts", ["scheme_id", "record_id", "id"])


def downgrade() -> None:
    op.drop_table("record_attempts")
