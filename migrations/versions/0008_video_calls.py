"""video calls: calls, their audit, resident screens, check-in schedules

Revision ID: 0008
Revises: 0007

Issue 17 (video/): one row per call (who, whom, when, how long, outcome), every transition in
video_call_events, resident screens (a device user bound to one resident) and weekly check-in
schedules. New tables only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("caller_user_id", sa.Integer(), nullable=True),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("answered_by_user_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("ended_by", sa.String(length=40), nullable=True),
        sa.Column("guests", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_video_calls_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_video_calls_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["caller_user_id"], ["users.id"], name=op.f("fk_video_calls_caller_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_calls")),
    )
    with op.batch_alter_table("video_calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_video_calls_facility_started", ["facility_id", "started_at"], unique=False
        )
        batch_op.create_index(
            "ix_video_calls_resident_started", ["resident_id", "started_at"], unique=False
        )

    op.create_table(
        "video_call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["video_calls.id"], name=op.f("fk_video_call_events_call_id_video_calls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_call_events")),
    )
    with op.batch_alter_table("video_call_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_call_events_call_id"), ["call_id"], unique=False
        )

    op.create_table(
        "video_resident_screens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_video_resident_screens_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_video_resident_screens_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_video_resident_screens")),
    )
    with op.batch_alter_table("video_resident_screens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_resident_screens_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "video_checkin_schedules",
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("at_local", sa.String(length=5), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_video_checkin_schedules_resident_id_residents"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_video_checkin_schedules_facility_id_facilities"),
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_video_checkin_schedules")),
    )
    with op.batch_alter_table("video_checkin_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_checkin_schedules_facility_id"), ["facility_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("video_checkin_schedules")
    op.drop_table("video_resident_screens")
    op.drop_table("video_call_events")
    op.drop_table("video_calls")
