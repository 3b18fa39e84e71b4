"""users.session_generation: logout ends every session of the user

Revision ID: b7e2c1d90a14
Revises: c3a9d2e41b07
Create Date: 2026-11-29 21:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2c1d90a14"
down_revision = "c3a9d2e41b07"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
