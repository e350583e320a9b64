"""alert engine: routing fields, reminders, snooze, coverage roster

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("wing", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("next_reminder_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_alerts_state_next_escalation", ["state", "next_escalation_at"], unique=False
        )

    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("wing", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("recipients", sa.JSON(), nullable=True))

    op.create_table(
        "coverage_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("shift", sa.String(length=20), nullable=False),
        sa.Column("duty", sa.String(length=20), nullable=False),
        sa.Column("floors", sa.JSON(), nullable=False),
        sa.Column("wings", sa.JSON(), nullable=False),
        sa.Column("resident_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_coverage_assignments_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coverage_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_assignments")),
    )
    with op.batch_alter_table("coverage_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coverage_assignments_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coverage_assignments_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("coverage_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_assignments_user_id"))
        batch_op.drop_index(batch_op.f("ix_coverage_assignments_facility_id"))
    op.drop_table("coverage_assignments")

    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_column("recipients")
        batch_op.drop_column("wing")
        batch_op.drop_column("floor")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_state_next_escalation")
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("wing")
        batch_op.drop_column("floor")
