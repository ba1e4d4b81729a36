"""disabled members

users.disabled_at: when an admin disabled the account (None: it is not disabled), and
users.disabled_by: that admin's address. A disabled member cannot log in and gets no
notifications; every existing member starts enabled.

Revision ID: 40f2c2036855
Revises: 7b1f0c2d9e54
Create Date: 2026-11-28 18:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '40f2c2036855'
down_revision = '7b1f0c2d9e54'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('disabled_by', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled_by')
        batch_op.drop_column('disabled_at')
