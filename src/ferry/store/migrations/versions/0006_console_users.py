"""Console users: login names and password hashes (never the password itself).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from ferry.store._ddl import create_table

DT = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    options: dict[str, Any] = {}
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        options = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
    create_table(
        "users",
        sa.Column("username", sa.String(191), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("last_login_at", DT),
        **options,
    )


def downgrade() -> None:
    op.drop_table("users")
