"""Full-text search over questions (with their answers) and articles, in the database's own
engine, each hit with a highlighted snippet of where the words were found.

SQLite: the FTS5 tables questions_fts, answers_fts and articles_fts (porter stemming),
kept in step by triggers (migrations 0004, 0005, 0014); snippet() cuts the snippet.
PostgreSQL: to_tsvector('english', ...) behind a GIN expression index per table (the
same expressions as the migrations'), queried with to_tsquery; ts_headline() cuts the
snippet. Either way every word typed is required (AND) and matches the start of a word
("zebra" finds "zebrafish"; on SQLite, when the words as typed fill no page: see
_sqlite_search); punctuation and FTS operators are ignored. A question is
found by its own text or by a shown answer's (the hit then links to that answer).
Results are newest first and paged by keyset (`before`), like every list. Never LIKE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import bindparam, text

from webapp.posts.listing import PAGE_SIZE, Page, articles_by_ids, questions_by_ids
from webapp.posts.snippets import START, STOP, highlighted
from webapp.site.extensions import db

MAX_WORDS = 10
KINDS = ("questions", "articles")
NO_LIMIT = 2**62
SNIPPET_WORDS = 16
SHOWN = "hidden_at IS NULL AND deleted_at IS NULL"


@dataclass(frozen=True)
class Hit:
    post: object               # a Question or an Article
    snippet: Markup            # where the words are, the words in <mark>
    answer_id: int | None      # the answer that matched, when it was not the question itself


_SQLITE = {
    "questions": """
        SELECT questions_fts.rowid FROM questions_fts JOIN questions AS p ON p.id = questions_fts.rowid
         WHERE questions_fts MATCH :match AND questions_fts.rowid < :before
           AND p.hidden_at IS NULL AND p.deleted_at IS NULL
         ORDER BY questions_fts.rowid DESC LIMIT :limit""",
    "articles": """
        SELECT articles_fts.rowid FROM articles_fts JOIN articles AS p ON p.id = articles_fts.rowid
         WHERE articles_fts MATCH :match AND articles_fts.rowid < :before
           AND p.hidden_at IS NULL AND p.deleted_at IS NULL
         ORDER BY articles_fts.rowid DESC LIMIT :limit""",
}
# The questions found by an answer's words, newest first. An FTS5 query walks its index (by
# rowid, the answer's id) and cannot be looked up row by row, so the answers are bounded by
# id: from the first answer to a question after `low`.
_ANSWERED = """
    SELECT a.question_id, max(a.id) FROM answers_fts JOIN answers AS a ON a.id = answers_fts.rowid
      JOIN questions AS p ON p.id = a.question_id
     WHERE answers_fts MATCH :match AND answers_fts.rowid >= :first_answer
       AND a.question_id > :low AND a.question_id < :before
       AND a.hidden_at IS NULL AND a.deleted_at IS NULL AND p.hidden_at IS NULL AND p.deleted_at IS NULL
     GROUP BY a.question_id ORDER BY a.question_id DESC LIMIT :limit"""
_FIRST_ANSWER = "SELECT min(id) FROM answers WHERE question_id > :low AND question_id < :before"
_NEWEST_QUESTION = "SELECT max(id) FROM questions"
BOUND_WITHIN = 2000   # questions between a page's last own match and `before`: see _sqlite_hits


def _sqlite_snippets(table: str):
    return text(f"SELECT rowid, snippet({table}_fts, -1, :start, :stop, '…', {SNIPPET_WORDS}) "
                f"FROM {table}_fts WHERE {table}_fts MATCH :match AND rowid IN :ids"
                ).bindparams(bindparam("ids", expanding=True))


_SNIPPETS = {table: _sqlite_snippets(table) for table in ("questions", "answers", "articles")}

_HEADLINE = "ts_headline('english', hits.doc, to_tsquery('english', :tsquery), :options)"
_POSTGRESQL = {
    # The expressions match the GIN indexes of migrations 0004 and 0014.
    "questions": f"""
        SELECT hits.id, hits.src, hits.answer_id, {_HEADLINE} FROM (
          SELECT DISTINCT ON (id) id, src, answer_id, doc FROM (
            SELECT id, 0 AS src, NULL::integer AS answer_id, title || ' ' || body_source AS doc
              FROM questions WHERE to_tsvector('english', title || ' ' || body_source)
                   @@ to_tsquery('english', :tsquery) AND id < :before AND {SHOWN}
            UNION ALL
            SELECT a.question_id, 1, a.id, a.body_source FROM answers AS a
              JOIN questions AS q ON q.id = a.question_id
             WHERE to_tsvector('english', a.body_source) @@ to_tsquery('english', :tsquery)
               AND a.question_id < :before AND a.hidden_at IS NULL AND a.deleted_at IS NULL
               AND q.hidden_at IS NULL AND q.deleted_at IS NULL
          ) AS found ORDER BY id DESC, src, answer_id LIMIT :limit
        ) AS hits ORDER BY hits.id DESC""",
    "articles": f"""
        SELECT hits.id, 0, NULL, {_HEADLINE} FROM (
          SELECT id, title || ' ' || body_source AS doc FROM articles
           WHERE to_tsvector('english', title || ' ' || body_source) @@ to_tsquery('english', :tsquery)
             AND id < :before AND {SHOWN} ORDER BY id DESC LIMIT :limit
        ) AS hits ORDER BY hits.id DESC""",
}
_PG_OPTIONS = f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords=5, MaxFragments=1"
_FIND = {"questions": questions_by_ids, "articles": articles_by_ids}


def words_of(query: str) -> list[str]:
    """The words to find: letters and digits only, so nothing typed is an operator."""
    return re.findall(r"[^\W_]+", query.lower())[:MAX_WORDS]


def search(query: str, before: int | None = None, size: int = PAGE_SIZE, kind: str = "questions") -> Page:
    """One page of Hits: the questions (their answers included) or the articles, by `kind`,
    holding every word of `query`, each word as the start of a word."""
    words = words_of(query)
    if not words:
        return Page([], None)
    values = {"before": before if before is not None else NO_LIMIT, "limit": size + 1}
    if db.engine.dialect.name == "postgresql":
        values |= {"tsquery": " & ".join(f"{w}:*" for w in words), "options": _PG_OPTIONS}
        rows = db.session.execute(text(_POSTGRESQL[kind]), values).all()
        more, rows = len(rows) > size, rows[:size]
    else:
        rows, match = _sqlite_search(kind, words, values)
        more, rows = len(rows) > size, _with_sqlite_snippets(rows[:size], kind, match)
    posts = {p.id: p for p in _FIND[kind]([r[0] for r in rows])}
    hits = [Hit(posts[r[0]], highlighted(r[3]), r[2]) for r in rows if r[0] in posts]
    return Page(hits, rows[-1][0] if more else None)


def _sqlite_search(kind: str, words: list[str], values: dict) -> tuple[list[tuple], str]:
    """The hits, and the FTS5 query that found them: every word as typed first, and only when
    that fills no page, every word as the start of a word. A prefix makes FTS5 read and merge
    the whole list of every indexed word it starts (a common one: tens of ms at 100,000
    questions); a word as typed reads its own list only as far as the page needs."""
    for prefix in (False, True):
        # Each word quoted (nothing typed is an operator), then `*` for a prefix.
        match = " ".join(f'"{w}"' + ("*" if prefix else "") for w in words)
        rows = _sqlite_hits(kind, {**values, "match": match})
        if len(rows) == values["limit"]:
            break
    return rows, match


def _sqlite_hits(kind: str, values: dict) -> list[tuple]:
    """(id, src, answer_id) newest first, `limit` of them: a question's own match (src 0)
    wins over its answers' (src 1, the newest matching answer)."""
    own = [(i, 0, None) for i in db.session.execute(text(_SQLITE[kind]), values).scalars()]
    if kind != "questions":
        return own
    # A page of own matches: only questions between its last one and `before` can still come
    # in, so only their answers and later ones are read (a common word stays cheap); else all.
    # Finding the first of those answers walks the questions between: done only when they are
    # few. When they are many, the page's words are rare (a page of matches spread over them),
    # and reading all their answers' matches costs less than finding where to start.
    low = own[-1][0] if len(own) == values["limit"] else 0
    newest = min(values["before"], db.session.execute(text(_NEWEST_QUESTION)).scalar() or 0)
    first = db.session.execute(text(_FIRST_ANSWER), {**values, "low": low}).scalar() \
        if low and newest - low <= BOUND_WITHIN else 0
    answered = [] if first is None else db.session.execute(
        text(_ANSWERED), {**values, "low": low, "first_answer": first}).all()
    found = {i: (i, 1, answer_id) for i, answer_id in answered} | {hit[0]: hit for hit in own}
    return [found[i] for i in sorted(found, reverse=True)][:values["limit"]]


def _with_sqlite_snippets(rows, kind: str, match: str) -> list[tuple]:
    """(id, src, answer_id, snippet) for `rows`: each snippet cut from the post that matched
    (the question, its answer, or the article)."""
    def cut(table: str, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        values = {"match": match, "ids": ids, "start": START, "stop": STOP}
        return dict(db.session.execute(_SNIPPETS[table], values).all())
    own = cut(kind, [r[0] for r in rows if r[2] is None])
    in_answers = cut("answers", [r[2] for r in rows if r[2] is not None])
    return [(r[0], r[1], r[2], own.get(r[0]) if r[2] is None else in_answers.get(r[2])) for r in rows]
