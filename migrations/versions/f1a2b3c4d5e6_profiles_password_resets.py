"""profiles (display name, avatar, status, time zone, email) and password reset tokens

Revision ID: f1a2b3c4d5e6
Revises: f4a5b6c7d8e9
Create Date: 2026-11-29 23:55:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f1a2b3c4d5e6"
down_revision = "f4a5b6c7d8e9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("display_name_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("avatar", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("status_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("email_key", sa.String(length=254), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_display_name_key"), ["display_name_key"], unique=True)
        batch_op.create_index(batch_op.f("ix_users_email_key"), ["email_key"], unique=True)

    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_user_id"))
    op.drop_table("password_resets")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email_key"))
        batch_op.drop_index(batch_op.f("ix_users_display_name_key"))
        for column in (
            "email_key",
            "email",
            "time_zone",
            "status_expires_at",
            "status_text",
            "avatar",
            "display_name_key",
            "display_name",
        ):
            batch_op.drop_column(column)
