"""event log replay indexes: (facility_id, seq) and (resident_id, seq)

Revision ID: 0004
Revises: 0003

Replay filters by audience in the query and pages by seq (issue 11, fault 4): a caregiver reads
their facility's events, a family member their resident's, in seq order. (facility_id, seq)
replaces the single-column facility index, which it covers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index("ix_event_log_facility_id")
        batch_op.create_index("ix_event_log_facility_seq", ["facility_id", "seq"], unique=False)
        batch_op.create_index("ix_event_log_resident_seq", ["resident_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index("ix_event_log_resident_seq")
        batch_op.drop_index("ix_event_log_facility_seq")
        batch_op.create_index("ix_event_log_facility_id", ["facility_id"], unique=False)
