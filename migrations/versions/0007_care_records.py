"""care records: assessments, plans, tasks, completions, guidance, observations, audit

Revision ID: 0007
Revises: 0006

Issue 16 (care_records/): scored assessments by scale, care plans with recurring tasks and
their completions, guidance suggestions with evidence and decisions, observations by hand
(NEWS2 inputs) and an audit of every change. New tables only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_audit")),
    )
    with op.batch_alter_table("care_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_audit_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "care_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=True),
        sa.Column("subscores", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("assessed_at", sa.Float(), nullable=False),
        sa.Column("assessor", sa.String(length=100), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["users.id"], name=op.f("fk_care_assessments_assessor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_care_assessments_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_care_assessments_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_assessments")),
    )
    with op.batch_alter_table("care_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_assessments_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            "ix_care_assessments_resident_scale_at",
            ["resident_id", "scale", "assessed_at"],
            unique=False,
        )

    op.create_table(
        "care_guidance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=60), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_care_guidance_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_care_guidance_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_guidance")),
    )
    with op.batch_alter_table("care_guidance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_guidance_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_care_guidance_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "care_observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.Float(), nullable=False),
        sa.Column("consciousness", sa.String(length=1), nullable=True),
        sa.Column("supplemental_oxygen", sa.Boolean(), nullable=True),
        sa.Column("respiration_rate", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_care_observations_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_care_observations_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_observations")),
    )
    with op.batch_alter_table("care_observations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_observations_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            "ix_care_observations_resident_at", ["resident_id", "observed_at"], unique=False
        )

    op.create_table(
        "care_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("goals", sa.JSON(), nullable=False),
        sa.Column("staff_notes", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_care_plans_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_care_plans_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plans")),
    )
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_plans_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_care_plans_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "care_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("recurrence", sa.String(length=20), nullable=False),
        sa.Column("interval_h", sa.Float(), nullable=True),
        sa.Column("time_of_day", sa.String(length=5), nullable=True),
        sa.Column("shift", sa.String(length=20), nullable=True),
        sa.Column("shifts", sa.JSON(), nullable=False),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("guidance_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_care_tasks_facility_id_facilities")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["care_plans.id"], name=op.f("fk_care_tasks_plan_id_care_plans")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_care_tasks_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_tasks")),
    )
    with op.batch_alter_table("care_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_tasks_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_care_tasks_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_care_tasks_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "care_task_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("done_at", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("done_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_care_task_completions_resident_id_residents"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["care_tasks.id"], name=op.f("fk_care_task_completions_task_id_care_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_task_completions")),
    )
    with op.batch_alter_table("care_task_completions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_task_completions_resident_at", ["resident_id", "done_at"], unique=False
        )
        batch_op.create_index(
            "ix_care_task_completions_task_at", ["task_id", "done_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("care_task_completions", schema=None) as batch_op:
        batch_op.drop_index("ix_care_task_completions_task_at")
        batch_op.drop_index("ix_care_task_completions_resident_at")

    op.drop_table("care_task_completions")
    with op.batch_alter_table("care_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_tasks_resident_id"))
        batch_op.drop_index(batch_op.f("ix_care_tasks_plan_id"))
        batch_op.drop_index(batch_op.f("ix_care_tasks_facility_id"))

    op.drop_table("care_tasks")
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_plans_resident_id"))
        batch_op.drop_index(batch_op.f("ix_care_plans_facility_id"))

    op.drop_table("care_plans")
    with op.batch_alter_table("care_observations", schema=None) as batch_op:
        batch_op.drop_index("ix_care_observations_resident_at")
        batch_op.drop_index(batch_op.f("ix_care_observations_facility_id"))

    op.drop_table("care_observations")
    with op.batch_alter_table("care_guidance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_guidance_resident_id"))
        batch_op.drop_index(batch_op.f("ix_care_guidance_facility_id"))

    op.drop_table("care_guidance")
    with op.batch_alter_table("care_assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_care_assessments_resident_scale_at")
        batch_op.drop_index(batch_op.f("ix_care_assessments_facility_id"))

    op.drop_table("care_assessments")
    with op.batch_alter_table("care_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_audit_resident_id"))

    op.drop_table("care_audit")
