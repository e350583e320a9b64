"""facility time zones; learned fall-detector heights per radar

Revision ID: 0005
Revises: 0004

Every facility gets an IANA time zone (behaviour rules and daily summaries run in local time;
existing facilities get Asia/Shanghai, the product's home zone: set yours with the API).
Radars keep what the fall detector learned of their resident (upright height) across restarts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table): SQLite adds a NOT NULL column with a
    # constant default in place, and a copy of `facilities` would trip the foreign keys to it.
    op.add_column(
        "facilities",
        sa.Column("timezone", sa.String(length=64), nullable=False, server_default="Asia/Shanghai"),
    )
    op.add_column(
        "devices", sa.Column("learned", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )
    # Facilities that kept their zone in settings["timezone"] (read by shift rules) keep it.
    if op.get_bind().dialect.name == "postgresql":
        zone = "settings->>'timezone'"
    else:
        zone = "json_extract(settings, '$.timezone')"
    op.execute(f"UPDATE facilities SET timezone = {zone} WHERE {zone} IS NOT NULL AND {zone} <> ''")


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("learned")
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_column("timezone")
