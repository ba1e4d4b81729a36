"""mentions: each member's @handle (derived from their display name) and who a post mentioned

Revision ID: 179ea3f86790
Revises: dbcee2668788
Create Date: 2026-12-06 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from webapp.accounts.handles import derive_handles


# revision identifiers, used by Alembic.
revision = '179ea3f86790'
down_revision = 'dbcee2668788'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handle', sa.String(length=30), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('display_name', sa.String),
                     sa.column('handle', sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.display_name).order_by(users.c.id)).all()
    # Oldest members first: on a clash the earlier account keeps the plain handle.
    for user_id, handle in derive_handles(rows).items():
        bind.execute(users.update().where(users.c.id == user_id).values(handle=handle))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_handle', ['handle'], unique=True)

    op.create_table('mentions',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('post_kind', sa.String(length=10), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'user_id')
    )
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.create_index('ix_mentions_post', ['post_kind', 'post_id', 'user_id'], unique=True)


def downgrade():
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.drop_index('ix_mentions_post')
    op.drop_table('mentions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_handle')
        batch_op.drop_column('handle')
