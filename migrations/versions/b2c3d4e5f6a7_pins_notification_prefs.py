"""pins, notification preferences, the read receipts opt-out

Revision ID: b2c3d4e5f6a7
Revises: f2a3b4c5d6e7
Create Date: 2026-11-30 00:50:00

"""

import sqlalchemy as sa
from alembic import op

from chat.models import UTCDateTime

# revision identifiers, used by Alembic.
revision = "b2c3d4e5f6a7"
down_revision = "f2a3b4c5d6e7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_receipts", sa.Boolean(), server_default=sa.true(), nullable=False))

    op.create_table(
        "pins",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("pinned_by", sa.Integer(), nullable=True),
        sa.Column("pinned_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pinned_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_pins_room_id", "pins", ["room_id", "message_id"], unique=False)

    op.create_table(
        "notification_prefs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "room_id"),
    )


def downgrade():
    op.drop_table("notification_prefs")
    op.drop_index("ix_pins_room_id", table_name="pins")
    op.drop_table("pins")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("read_receipts")
