"""Search from the top bar: questions with their answers and articles, by the start of a
word, each hit with its words highlighted (and everything else escaped), and a page that
says what was searched for when nothing matched. The same checks run on PostgreSQL
(tests/webapp/site/test_postgres.py)."""

from __future__ import annotations

import re

from tests.webapp.posts.test_browse import titles
from tests.webapp.qa_helpers import answer, ask, member, press, write_article


def snippets(html: str) -> list[str]:
    return [" ".join(s.split()) for s in re.findall(r'<p class="snippet">(.*?)</p>', html, re.S)]


def finds_answers_articles_and_word_starts(app, config) -> None:
    """What both databases must do; the questions and answers are made here."""
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Keeping fish in a lab", body="Which species is easiest?")
    answer_id = answer(bob, question_id, "Try the zebrafishunique strain: <b>hardy</b> & cheap.")
    write_article(ann, title="Notes on zebrafishunique husbandry", body="Water at 28 degrees.")
    visitor = app.test_client()
    html = visitor.get("/search?q=zebrafish").get_data(as_text=True)
    assert titles(html) == ["Keeping fish in a lab", "Notes on zebrafishunique husbandry"]
    assert f'/questions/{question_id}#answer-{answer_id}' in html     # the hit opens at the answer
    hit = snippets(html)[0]
    # Only our <mark> is markup (PostgreSQL's ts_headline drops the tags; SQLite's are escaped).
    assert "<mark>zebrafishunique</mark>" in hit and "&amp; cheap" in hit and "<b>" not in hit
    assert titles(visitor.get("/search?q=zebra+strain").get_data(as_text=True)) == ["Keeping fish in a lab"]
    press(bob, f"/questions/{question_id}", f"/answers/{answer_id}/delete", confirm="yes")
    assert titles(visitor.get("/search?q=strain").get_data(as_text=True)) == []   # deleted: gone


def test_search_finds_answers_articles_and_word_starts(app, config):
    finds_answers_articles_and_word_starts(app, config)


def test_a_snippet_shows_a_posts_markup_as_text(app, config):
    ann = member(app, config, "Ann")
    ask(ann, title="Escaping in templates", body='Is <script>alert("x")</script> shown as text?')
    hit = snippets(app.test_client().get("/search?q=alert").get_data(as_text=True))[0]
    assert "&lt;script&gt;<mark>alert</mark>(&#34;x&#34;)&lt;/script&gt;" in hit and "<script>" not in hit


def test_a_question_found_by_its_own_words_shows_them_not_an_answer(app, config):
    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    question_id = ask(ann, title="Pickling cucumbers fast", body="Brine or vinegar?")
    answer(bob, question_id, "Vinegar, and cucumbers sliced thin.")
    html = app.test_client().get("/search?q=cucumbers").get_data(as_text=True)
    assert titles(html) == ["Pickling cucumbers fast"]
    assert "In an answer" not in html and "<mark>cucumbers</mark>" in snippets(html)[0]


def test_nothing_found_says_what_was_searched_for(app, config):
    member(app, config, "Ann")
    html = app.test_client().get("/search", query_string={"q": "<quokka> habits"}).get_data(as_text=True)
    assert "Nothing here yet." not in html
    shown = re.search(r'<p class="no-results">(.*?)</p>', html, re.S).group(1)
    assert "&lt;quokka&gt; habits" in shown and "No posts hold every one of the words" in shown
    html = app.test_client().get("/search?q=quokka&in=articles").get_data(as_text=True)
    assert "No articles hold every one of the words" in html and "Search all posts" in html


def test_a_question_found_only_by_an_answer_takes_its_place_among_many_found_by_their_own(app, config):
    from tests.webapp.posts.test_browse import many_questions
    from webapp.posts.listing import PAGE_SIZE

    ann, bob = member(app, config, "Ann"), member(app, config, "Bob")
    many_questions(app, 12)                                  # "things" in their own words
    quiet = ask(ann, title="Keeping bees in a city", body="Is a balcony enough?")
    answer(bob, quiet, "Bees need few things: water and flowers.")
    many_questions(app, PAGE_SIZE - 1)                      # a page holds them and the bees
    first = titles(app.test_client().get("/search?q=things&in=questions").get_data(as_text=True))
    assert len(first) == PAGE_SIZE and first[PAGE_SIZE - 1] == "Keeping bees in a city"
