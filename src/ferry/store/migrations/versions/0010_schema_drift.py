"""Schema drift: each scheme's known source fingerprint and the drift events found against it.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-14

- ``schema_fingerprints``: one row per scheme, the field paths, types and presence counts of
  its source records as JSON (:mod:`ferry.engine.fingerprint`), learnt by its first run.
- ``schema_drift_events``: one row per drifted field (appeared, disappeared, changed type) with
  the types before and after, the run and window that found it, the id of a record showing it
  and the scheme's policy then; ``open`` until an operator accepts it (``ferry drift accept``).
  The same open change seen again only counts ``occurrences``.

It follows 0009, the quarantine ledger status (data-quality rules), without depending on it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, DT, ID, MEDIUM_TEXT, create_index, create_table

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "schema_fingerprints",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("fingerprint", MEDIUM_TEXT, nullable=False),
        sa.Column("updated_at", DT, nullable=False),
    )
    create_table(
        "schema_drift_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("scheme_id", ID, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("window_start", DT),
        sa.Column("window_end", DT),
        sa.Column("field_path", ID, nullable=False),
        sa.Column("change_kind", sa.String(16), nullable=False),
        sa.Column("types_before", sa.String(64)),
        sa.Column("types_after", sa.String(64)),
        sa.Column("record_id", ID),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
        sa.Column("detected_at", DT, nullable=False),
        sa.Column("last_seen_at", DT, nullable=False),
        sa.Column("accepted_at", DT),
        sa.Column("accepted_by", sa.String(191)),
    )
    create_index("ix_schema_drift_scheme", "schema_drift_events", ["scheme_id", "status", "id"])


def downgrade() -> None:
    op.drop_table("schema_drift_events")
    op.drop_table("schema_fingerprints")
