"""Shared rate budgets: recent calls per credential key, so every process paces together.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

``rate_keys`` has one row per key (a connection's credentials): it is locked while a call is
reserved, and holds ``not_before`` when the vendor answered "slow down". ``rate_calls`` keeps
the calls of the last minute per key (older ones are deleted as calls are reserved).
Times are epoch seconds (floats) so every backend compares them alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, ID, create_index, create_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "rate_keys",
        sa.Column("key", ID, primary_key=True),
        sa.Column("not_before", sa.Float, nullable=False),
    )
    create_table(
        "rate_calls",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("key", ID, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    create_index("ix_rate_calls_key_at", "rate_calls", ["key", "at"])


def downgrade() -> None:
    op.drop_table("rate_calls")
    op.drop_table("rate_keys")
