"""threads: messages.thread_id (a reply's root) and thread_follows (following, read mark per thread)

Revision ID: b1c2d3e4f5a6
Revises: b3c4d5e6f7a8
Create Date: 2026-11-30 00:50:00

"""

import sqlalchemy as sa
from alembic import op

from chat.search.schema import create_statements, drop_statements

# revision identifiers, used by Alembic.
revision = "b1c2d3e4f5a6"
down_revision = "b3c4d5e6f7a8"
branch_labels = None
depends_on = None


def rebuilt_messages(change):
    """Run a batch change of `messages`: on SQLite it rebuilds the table, which drops the full-text
    index's triggers, so they go first and come back after (with the index rebuilt)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for statement in drop_statements("sqlite"):
            op.execute(statement)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        change(batch_op)
    if sqlite:
        for statement in create_statements("sqlite"):
            op.execute(statement)


def add_thread_id(batch_op):
    batch_op.add_column(sa.Column("thread_id", sa.Integer(), nullable=True))
    batch_op.create_foreign_key("fk_messages_thread_id", "messages", ["thread_id"], ["id"], ondelete="CASCADE")
    batch_op.create_index("ix_messages_thread_id_id", ["thread_id", "id"], unique=False)


def drop_thread_id(batch_op):
    batch_op.drop_index("ix_messages_thread_id_id")
    batch_op.drop_constraint("fk_messages_thread_id", type_="foreignkey")
    batch_op.drop_column("thread_id")


def upgrade():
    rebuilt_messages(add_thread_id)

    op.create_table(
        "thread_follows",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("following", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_read_id", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["thread_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("thread_id", "user_id"),
    )
    op.create_index("ix_thread_follows_user_id", "thread_follows", ["user_id", "following"], unique=False)


def downgrade():
    op.drop_index("ix_thread_follows_user_id", table_name="thread_follows")
    op.drop_table("thread_follows")
    rebuilt_messages(drop_thread_id)
