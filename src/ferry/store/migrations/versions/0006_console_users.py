"""Console users: login names and password hashes (never the password itself).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import DT, ID, create_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "users",
        sa.Column("username", ID, primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("last_login_at", DT),
    )


def downgrade() -> None:
    op.drop_table("users")
