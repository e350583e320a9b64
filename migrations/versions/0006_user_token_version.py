"""users.token_version: revocable tokens and websocket sessions

Revision ID: 0006
Revises: 0005

Every token and websocket ticket carries the user's token_version; bumping it (password change,
deactivation, revoke sessions) refuses every token issued before and closes their sockets.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN with a constant default: no table copy on SQLite (see 0005).
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
