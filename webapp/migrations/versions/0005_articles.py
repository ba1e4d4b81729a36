"""articles and their comments, and full-text search over articles

Articles (title, Markdown body) and flat comments, with the same edit mark, soft delete
and hiding as questions and answers. Search over articles is made as 0004 made it for
questions: an FTS5 table articles_fts kept by triggers on SQLite, a GIN expression
index on PostgreSQL.

Revision ID: 2d9b7f3c6e15
Revises: 8c2f4e1a7d30
Create Date: 2026-11-28 17:27:29.146215

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2d9b7f3c6e15'
down_revision = '8c2f4e1a7d30'
branch_labels = None
depends_on = None


TRIGGERS = [
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
         INSERT INTO articles_fts(rowid, title, body_source) VALUES (new.id, new.title, new.body_source);
       END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
         INSERT INTO articles_fts(articles_fts, rowid, title, body_source)
           VALUES ('delete', old.id, old.title, old.body_source);
       END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body_source ON articles BEGIN
         INSERT INTO articles_fts(articles_fts, rowid, title, body_source)
           VALUES ('delete', old.id, old.title, old.body_source);
         INSERT INTO articles_fts(rowid, title, body_source) VALUES (new.id, new.title, new.body_source);
       END""",
]


def upgrade():
    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index('ix_articles_author_id_id', ['author_id', 'id'], unique=False)

    op.create_table('comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_at', sa.DateTime(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index('ix_comments_article_id_id', ['article_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comments_author_id'), ['author_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_articles_search ON articles "
                   "USING gin (to_tsvector('english', title || ' ' || body_source))")
    else:
        op.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body_source, "
                   "content='articles', content_rowid='id', tokenize='porter unicode61')")
        for trigger in TRIGGERS:
            op.execute(trigger)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_articles_search")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER articles_fts_{name}")
        op.execute("DROP TABLE articles_fts")
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comments_author_id'))
        batch_op.drop_index('ix_comments_article_id_id')

    op.drop_table('comments')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_author_id_id')

    op.drop_table('articles')
