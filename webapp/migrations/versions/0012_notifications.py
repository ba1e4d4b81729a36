"""notifications: on-site notification rows, each member's unread count, mail only when away

Members on "instant" move to "away" (the new default: mail only what is unread on the site
after [webapp] mail_when_away); "instant" now means "always, at once".

Revision ID: dbcee2668788
Revises: 5a1c3e9d7f42
Create Date: 2026-12-06 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'dbcee2668788'
down_revision = '5a1c3e9d7f42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('thread_kind', sa.String(length=10), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'user_id', name='uq_notifications_event_user')
    )
    unread = sa.text('read_at IS NULL')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('ix_notifications_unread_thread', ['user_id', 'thread_kind', 'thread_id'],
                              unique=False, sqlite_where=unread, postgresql_where=unread)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unread_notices', sa.Integer(), server_default='0', nullable=False))
        batch_op.alter_column('notify_mode', existing_type=sa.String(length=10),
                              server_default='away', existing_nullable=False)
    op.execute("UPDATE users SET notify_mode = 'away' WHERE notify_mode = 'instant'")


def downgrade():
    op.execute("UPDATE users SET notify_mode = 'instant' WHERE notify_mode = 'away'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('notify_mode', existing_type=sa.String(length=10),
                              server_default='instant', existing_nullable=False)
        batch_op.drop_column('unread_notices')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_unread_thread', sqlite_where=sa.text('read_at IS NULL'),
                            postgresql_where=sa.text('read_at IS NULL'))
        batch_op.drop_index('ix_notifications_user_id_id')
    op.drop_table('notifications')
