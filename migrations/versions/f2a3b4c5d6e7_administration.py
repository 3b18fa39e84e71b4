"""administration: deactivated and muted users, archived rooms, audit log, reports, room moderators

Revision ID: f2a3b4c5d6e7
Revises: f3a4b5c6d7e8
Create Date: 2026-11-29 23:55:00

"""

import sqlalchemy as sa
from alembic import op

from chat.models import UTCDateTime

# revision identifiers, used by Alembic.
revision = "f2a3b4c5d6e7"
down_revision = "f3a4b5c6d7e8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("muted_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", UTCDateTime(), nullable=True))

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_type", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("target_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"], unique=False)

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("open_key", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reports_message_id", "reports", ["message_id"], unique=False)
    op.create_index("ix_reports_open_key", "reports", ["open_key"], unique=True)

    op.create_table(
        "room_moderators",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("room_id", "user_id"),
    )
    op.create_index("ix_room_moderators_user_id", "room_moderators", ["user_id"], unique=False)


def downgrade():
    op.drop_index("ix_room_moderators_user_id", table_name="room_moderators")
    op.drop_table("room_moderators")
    op.drop_index("ix_reports_open_key", table_name="reports")
    op.drop_index("ix_reports_message_id", table_name="reports")
    op.drop_table("reports")
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("muted_until")
        batch_op.drop_column("deactivated_at")
