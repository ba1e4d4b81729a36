"""inbound: one record per drop file the inbound worker handled (bounces, complaints, replies)

Revision ID: 5a1c3e9d7f42
Revises: 4e8b1d6c0a27
Create Date: 2026-12-06 14:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a1c3e9d7f42'
down_revision = '4e8b1d6c0a27'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('message_id', sa.String(length=500), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('handled', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('handled_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('file_name')
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_messages_handled_at', ['handled', 'handled_at'], unique=False)
        batch_op.create_index('ix_inbound_messages_member', ['member_id', 'handled_at'], unique=False)


def downgrade():
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_messages_member')
        batch_op.drop_index('ix_inbound_messages_handled_at')

    op.drop_table('inbound_messages')
