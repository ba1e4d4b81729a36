"""broadcasts: newsletters an admin sends to every member with the newsletter on

Each goes out through the outbox like a notification (an outbox_events row of kind
"newsletter"); this row keeps its text, its audience and whether it is paused or cancelled.

Revision ID: 9c4d2a7e1b36
Revises: 40f2c2036855
Create Date: 2026-11-28 18:37:27.218657

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c4d2a7e1b36'
down_revision = '40f2c2036855'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('broadcasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('audience', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('broadcasts')
