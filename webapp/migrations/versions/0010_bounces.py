"""bounces: what the relay's feedback file says reaches the members

users.soft_bounces counts temporary-looking permanent failures since the last success and
users.bounce_reason keeps the last reply (shown to the member and to admins);
feedback_cursors remembers how far each host has read its relay's feedback file.

Revision ID: 4e8b1d6c0a27
Revises: 9c4d2a7e1b36
Create Date: 2026-11-28 18:41:07.251125

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4e8b1d6c0a27'
down_revision = '9c4d2a7e1b36'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback_cursors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('inode', sa.BigInteger(), nullable=False),
    sa.Column('read_to', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('host', 'path', name='uq_feedback_cursors_host_path')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('soft_bounces', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('bounce_reason', sa.String(length=300), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('bounce_reason')
        batch_op.drop_column('soft_bounces')

    op.drop_table('feedback_cursors')
