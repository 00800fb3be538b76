"""Placeholders that found nothing, kept with each run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10

``runs.placeholders`` holds, as JSON, how many records the run mapped and, per target field,
in how many of them a placeholder of the field's value found nothing: ``{"mapped": 399,
"missing": {"outer_id": 399}}``. Null for a run that mapped nothing, and for runs recorded
before this revision.

The step checks what is there first, so a migration interrupted half-way on MySQL (where each
DDL statement commits on its own) completes on the next start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import MEDIUM_TEXT

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("runs")}
    if "placeholders" not in columns:
        op.add_column("runs", sa.Column("placeholders", MEDIUM_TEXT))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("placeholders")
