"""subscriptions, and members' settings

subscriptions: a member follows a question or an article (one row each, unique). Users
get their settings: follow_on_reply (follow what I answer or comment on), notify_mode
(instant | daily | off), newsletter, every existing member on the defaults (on,
instant, on), and pending_email (a new address waiting for its confirmation link).

Revision ID: 6e3a91c4b8d2
Revises: 2d9b7f3c6e15
Create Date: 2026-11-28 17:33:56.922850

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6e3a91c4b8d2'
down_revision = '2d9b7f3c6e15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'kind', 'target_id', name='uq_subscriptions_follow')
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_kind_target_id', ['kind', 'target_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_on_reply', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.add_column(sa.Column('notify_mode', sa.String(length=10), server_default='instant',
                                      nullable=False))
        batch_op.add_column(sa.Column('newsletter', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.add_column(sa.Column('pending_email', sa.String(length=254), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('pending_email')
        batch_op.drop_column('newsletter')
        batch_op.drop_column('notify_mode')
        batch_op.drop_column('follow_on_reply')

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_kind_target_id')

    op.drop_table('subscriptions')
