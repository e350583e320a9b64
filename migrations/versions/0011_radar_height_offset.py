"""radar height offset: devices.height_offset_m, a radar's height calibration

Revision ID: 0011
Revises: 0010

A radar model or mounting whose centroids read higher (or lower) than the heights the fall
detector assumes loses falls at the fixed floor level (docs/detection.md, round 25: 0.10 m high
cost up to 19 points of sensitivity held out). The offset is set at installation and subtracted
from every height before the signal core sees it; 0 (every existing radar) changes nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("height_offset_m", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("height_offset_m")
