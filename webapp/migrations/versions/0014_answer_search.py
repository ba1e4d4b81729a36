"""full-text search over answers

SQLite: an FTS5 table answers_fts over answers' body_source (external content, like
questions_fts in 0004), kept in step by three triggers and filled from the existing
answers. PostgreSQL: a GIN index on to_tsvector('english', body_source), the expression
webapp/posts/search.py queries. As 0004 notes: a batch_alter_table of answers on SQLite
recreates the table and drops these triggers; such a migration must create them again.

Revision ID: 953c9c667b65
Revises: 179ea3f86790
Create Date: 2026-12-06 15:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '953c9c667b65'
down_revision = '179ea3f86790'
branch_labels = None
depends_on = None

TRIGGERS = [
    """CREATE TRIGGER answers_fts_insert AFTER INSERT ON answers BEGIN
         INSERT INTO answers_fts(rowid, body_source) VALUES (new.id, new.body_source);
       END""",
    """CREATE TRIGGER answers_fts_delete AFTER DELETE ON answers BEGIN
         INSERT INTO answers_fts(answers_fts, rowid, body_source) VALUES ('delete', old.id, old.body_source);
       END""",
    """CREATE TRIGGER answers_fts_update AFTER UPDATE OF body_source ON answers BEGIN
         INSERT INTO answers_fts(answers_fts, rowid, body_source) VALUES ('delete', old.id, old.body_source);
         INSERT INTO answers_fts(rowid, body_source) VALUES (new.id, new.body_source);
       END""",
]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_answers_search ON answers USING gin (to_tsvector('english', body_source))")
        return
    op.execute("CREATE VIRTUAL TABLE answers_fts USING fts5(body_source, "
               "content='answers', content_rowid='id', tokenize='porter unicode61')")
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute("INSERT INTO answers_fts(answers_fts) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_answers_search")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER answers_fts_{name}")
    op.execute("DROP TABLE answers_fts")
