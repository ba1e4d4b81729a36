"""full-text search over questions

SQLite: an FTS5 table questions_fts over questions' title and body_source (external
content: it stores only the index), kept in step by three triggers, and filled from the
existing questions. PostgreSQL: a GIN index on to_tsvector('english', title || ' ' ||
body_source), the expression webapp/search.py queries. Note for later migrations on
SQLite: a batch_alter_table of questions recreates the table and drops its triggers;
such a migration must create them again (see TRIGGERS).

Revision ID: 8c2f4e1a7d30
Revises: 5a1e0c7d9b42
Create Date: 2026-11-28 17:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '8c2f4e1a7d30'
down_revision = '5a1e0c7d9b42'
branch_labels = None
depends_on = None

TRIGGERS = [
    """CREATE TRIGGER questions_fts_insert AFTER INSERT ON questions BEGIN
         INSERT INTO questions_fts(rowid, title, body_source) VALUES (new.id, new.title, new.body_source);
       END""",
    """CREATE TRIGGER questions_fts_delete AFTER DELETE ON questions BEGIN
         INSERT INTO questions_fts(questions_fts, rowid, title, body_source)
           VALUES ('delete', old.id, old.title, old.body_source);
       END""",
    """CREATE TRIGGER questions_fts_update AFTER UPDATE OF title, body_source ON questions BEGIN
         INSERT INTO questions_fts(questions_fts, rowid, title, body_source)
           VALUES ('delete', old.id, old.title, old.body_source);
         INSERT INTO questions_fts(rowid, title, body_source) VALUES (new.id, new.title, new.body_source);
       END""",
]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_questions_search ON questions "
                   "USING gin (to_tsvector('english', title || ' ' || body_source))")
        return
    op.execute("CREATE VIRTUAL TABLE questions_fts USING fts5(title, body_source, "
               "content='questions', content_rowid='id', tokenize='porter unicode61')")
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute("INSERT INTO questions_fts(questions_fts) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_questions_search")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER questions_fts_{name}")
    op.execute("DROP TABLE questions_fts")
