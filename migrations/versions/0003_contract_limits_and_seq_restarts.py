"""contract limits and seq restarts: devices.fw as wide as the contract; device_seqs.last_ts, boot

Revision ID: 0003
Revises: 0002

`devices.fw` was 40 characters while the contract allows 64 (issue 11, fault 1): PostgreSQL refused
the whole batch. Lengths are written out here (a migration is a record of what it did, so it does
not follow later changes to care_hub/kernel/limits.py); tests/devices/test_limits.py checks the
migrated schema against the limits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column(
            "fw", existing_type=sa.String(length=40), type_=sa.String(length=64), nullable=True
        )
    with op.batch_alter_table("device_seqs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_ts", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("boot", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_seqs", schema=None) as batch_op:
        batch_op.drop_column("boot")
        batch_op.drop_column("last_ts")
    # Firmware strings longer than the old column are cut rather than failing the downgrade.
    op.execute("UPDATE devices SET fw = substr(fw, 1, 40) WHERE length(fw) > 40")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column(
            "fw", existing_type=sa.String(length=64), type_=sa.String(length=40), nullable=True
        )
