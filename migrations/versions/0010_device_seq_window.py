"""device seq window: device_seqs.seen (which seqs just below last_seq were accepted) and since

Revision ID: 0010
Revises: 0009

A QoS 1 message can reach the hub after a later one from the same device: an MQTT client that
reconnects sends what it queued while offline and what is published during the reconnect in
either order (paho 2.2 sends a message published before the CONNACK ahead of the ones it held).
A high-water mark alone took such a late press for a redelivery and dropped it. `seen` is a
bitmask of the 63 seqs below `last_seq` (bit i: seq last_seq - 1 - i was accepted), so a late
message that never arrived is taken and a redelivery of one that did is not (devices/dedupe.py).
NULL (rows written before this migration) means all seen: the old rule. `since` is the device ts
of the message that began the current counter run (a restart): without a boot counter, a lower seq
with an earlier ts belongs to the run before and is never taken late.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_seqs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seen", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("since", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_seqs", schema=None) as batch_op:
        batch_op.drop_column("since")
        batch_op.drop_column("seen")
