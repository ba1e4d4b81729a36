"""The queue dashboard: admins see the relay's status and ask for moves, which a real running relay
carries out; the POST answers at once and the page shows the relay's answer when it comes; members
who are not admins get 403 on every page and POST."""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape

from channel import status
from relay.admin.move_requests import make_folders
from relay.daemon.control import Control
from relay.queue.activity import Activity
from relay.queue.folders import BADMAIL, DEFERRED, HOLD, Queue
from tests.configs import SITE, build_config
from tests.relay.relay_helpers import RunningRelay, place_queued, wait_until
from tests.smtp_servers import FaultyServer
from tests.webapp.accounts.test_auth import PASSWORD, login
from tests.webapp.admin.test_moderation import admin
from tests.webapp.conftest import csrf_token
from tests.webapp.qa_helpers import member


@pytest.fixture
def upstream():
    with FaultyServer() as server:
        yield server


@pytest.fixture
def config(tmp_path, upstream):
    """One config for the site and the relay: deferred mail would wait an hour."""
    return build_config(tmp_path, SITE, relay={"retry_schedule": ["1h"], "connections": 1,
                                               "smarthost": {"port": upstream.port, "timeout": "2s"}})


def move(client, what: str, *ids: str, **filters):
    token = csrf_token(client, "/admin/queue")
    return client.post("/admin/queue/move", data={"csrf_token": token, "move": what,
                                                  "ids": list(ids), **filters})


def answer_page(client, response) -> str:
    """The page a move's POST sent the admin to, once the relay has answered (as the script
    waits for it through /admin/queue/result.json)."""
    request_id = parse_qs(urlsplit(response.location).query)["request"][0]

    def answer():
        return client.get("/admin/queue/result.json", query_string={"request": request_id}).get_json()

    wait_until(lambda: answer()["answered"], what="the relay's answer")
    return client.get(response.location).get_data(as_text=True)


def folder_of(config, queue_id: str) -> str | None:
    found = Queue.from_config(config).locate(queue_id)
    return found[0] if found else None


def test_members_who_are_not_admins_get_403_everywhere_and_visitors_the_login(app, config):
    ann = member(app, config, "Ann")
    token = csrf_token(ann, "/")
    assert ann.get("/admin/queue").status_code == 403
    assert ann.get("/admin/queue.json").status_code == 403
    assert ann.post("/admin/queue/move", data={"csrf_token": token, "move": "delete",
                                               "ids": ["0" * 24]}).status_code == 403
    assert not (config.relay.admin_dir / "requests").exists() or \
        not list((config.relay.admin_dir / "requests").iterdir())
    visitor = app.test_client()
    for response in (visitor.get("/admin/queue"), visitor.get("/admin/queue.json")):
        assert response.status_code == 302 and "/account/login" in response.location
    assert visitor.post("/admin/queue/move", data={"move": "delete"}).status_code in (302, 400)


def test_a_move_without_the_csrf_token_is_refused(app, config):
    root = admin(app)
    response = root.post("/admin/queue/move", data={"move": "delete", "ids": ["0" * 24]})
    assert response.status_code == 400


def test_without_a_relay_the_page_says_so(app):
    root = admin(app)
    html = root.get("/admin/queue").get_data(as_text=True)
    assert "No status from the relay yet" in html
    assert root.get("/admin/queue.json").get_json()["at"] is None


def test_every_move_asked_on_the_page_is_carried_out_by_the_running_relay(app, config, upstream):
    due_later = place_queued(config, DEFERRED, to=("ann@example.org",), age=600,
                             attempts=((451, "451 4.3.0 greylisted"),))
    to_hold = place_queued(config, DEFERRED, to=("bob@example.org",))
    to_delete = place_queued(config, DEFERRED, to=("cid@example.org",))
    bad = place_queued(config, BADMAIL, to=("dan@example.org",))
    root = admin(app)
    with RunningRelay(config) as relay:
        wait_until(lambda: status.read(config.relay.admin_dir) is not None, what="a snapshot")
        page = root.get("/admin/queue").get_data(as_text=True)
        assert due_later in page and "451 4.3.0 greylisted" in page and bad in page
        assert re.search(r'<td>deferred</td><td class="count">3</td>', page)

        shown = answer_page(root, move(root, "retry", due_later))
        assert f"<code>{due_later}</code>:\n        due now" in shown
        wait_until(lambda: len(upstream.received) == 1, what="the retried message sent")

        shown = answer_page(root, move(root, "hold", to_hold))
        assert "held" in shown and folder_of(config, to_hold) == HOLD
        shown = answer_page(root, move(root, "delete", to_delete))
        assert "deleted" in shown and folder_of(config, to_delete) is None
        shown = answer_page(root, move(root, "release", to_hold))
        assert "released" in shown
        shown = answer_page(root, move(root, "requeue-badmail", bad))
        assert re.search(rf"<code>{bad}</code>:\s+requeued, now <code>[0-9a-f]{{24}}</code>", shown)
        wait_until(lambda: len(upstream.received) == 3, what="released and requeued sent")
        shown = answer_page(root, move(root, "hold", due_later))
        assert f"not held: {due_later}" in shown   # sent already: the relay says why, per id

        def counts():
            return root.get("/admin/queue.json").get_json()["counts"]
        wait_until(lambda: counts() and counts()[DEFERRED] == counts()[BADMAIL] == 0,
                   what="the dashboard's counts to follow")
        assert relay.activity.to_json(0)["sent"]
    rate = status.read(config.relay.admin_dir).activity
    assert rate.sent_last_minute == 3


def test_an_admin_with_a_long_name_and_address_moves_and_is_named_whole_on_one_log_line(
        app, config, caplog):
    """An 80-character name and a 240-character address (what the forms allow) used to pass
    the request's 200-character limit for who asked: every move of that admin was refused."""
    name = "Ada Lovelace-Byron, Countess of Lovelace\u2028keeper of the queue and the relay"
    address = ("ada.lovelace.byron.countess.of.lovelace.keeper.of.the.queue.x@"
               + ".".join(["mail-relay-of-the-analytical-engine-society-london"] * 3) + ".example.org")
    assert len(name) <= 80 and len(address) <= 254 and len(name) + len(address) > 200
    created = app.test_cli_runner().invoke(args=["create-admin", "--email", address, "--name", name,
                                                 "--password", PASSWORD])
    assert created.exit_code == 0, created.output
    ada = app.test_client()
    assert login(ada, email=address).status_code == 302
    make_folders(config.relay.admin_dir)
    queued = place_queued(config, DEFERRED)

    response = move(ada, "hold", queued)
    assert "request=" in response.location, ada.get(response.location).get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="relay"):
        Control(config, Queue.from_config(config), Activity()).run_once(time.time())
    who = f"Ada Lovelace-Byron, Countess of Lovelace keeper of the queue and the relay <{address}>"
    assert f"{queued}: held by admin {who} (dashboard request" in caplog.text
    assert all("\n" not in r.getMessage() and "\u2028" not in r.getMessage() for r in caplog.records)
    assert folder_of(config, queued) == HOLD
    assert f"asked by {escape(who)}" in answer_page(ada, response)


def test_filters_narrow_the_lists_by_sender_recipient_and_age(app, config):
    old = place_queued(config, DEFERRED, sender="news@example.org", to=("ann@example.org",), age=7200)
    young = place_queued(config, DEFERRED, sender="noreply@example.org", to=("bob@example.org",))
    held = place_queued(config, HOLD, sender="news@example.org", to=("bob@example.org",))
    make_folders(config.relay.admin_dir)
    queue = Queue.from_config(config)
    Control(config, queue, Activity()).publish(time.time(), force=True)
    root = admin(app)

    def ids(**filters):
        html = root.get("/admin/queue", query_string=filters).get_data(as_text=True)
        return {i for i in (old, young, held) if f'value="{i}"' in html}

    assert ids() == {old, young, held}
    assert ids(sender="NEWS") == {old, held}
    assert ids(recipient="bob@") == {young, held}
    assert ids(older_than="1h") == {old}
    assert "older than:" in root.get("/admin/queue?older_than=soon").get_data(as_text=True)
    feed = root.get("/admin/queue.json", query_string={"sender": "noreply"}).get_json()
    assert young in feed["tables"][DEFERRED] and old not in feed["tables"][DEFERRED]


def test_a_move_answers_at_once_with_no_relay_and_shows_the_answer_once_it_comes(app, config):
    make_folders(config.relay.admin_dir)
    queued = place_queued(config, DEFERRED)
    root = admin(app)
    token = csrf_token(root, "/admin/queue")
    started = time.monotonic()
    response = root.post("/admin/queue/move", data={"csrf_token": token, "move": "hold", "ids": [queued]})
    took = time.monotonic() - started
    assert response.status_code == 302 and took < 1.0, took   # it used to wait up to 5 s
    request_id = parse_qs(urlsplit(response.location).query)["request"][0]
    assert [p.name for p in (config.relay.admin_dir / "requests").iterdir()] == [f"{request_id}.json"]

    page = root.get(response.location).get_data(as_text=True)
    assert "Asked the relay to hold 1 message(s)." in page
    assert f"waiting for the relay's answer to request <code>{request_id}</code>" in page
    assert "refresh to see the result" in page and "is one running?" in page
    assert f'data-waiting="/admin/queue/result.json?request={request_id}"' in page
    asked = {"request": request_id}
    assert root.get("/admin/queue/result.json", query_string=asked).get_json() == {
        "request": request_id, "answered": False, "html": None}

    queue = Queue(config.relay.queue_dir, config.pickup.dir)
    Control(config, queue, Activity()).run_once(time.time())   # a relay comes and carries it out
    answer = root.get("/admin/queue/result.json", query_string=asked).get_json()
    assert answer["answered"] and f"<code>{queued}</code>:\n        held" in answer["html"]
    page = root.get(response.location).get_data(as_text=True)
    assert f"<code>{queued}</code>:\n        held" in page and "data-waiting" not in page
    assert "refresh to see the result" not in page and folder_of(config, queued) == HOLD


def test_the_answer_route_is_for_admins_and_request_ids_only(app, config):
    ann = member(app, config, "Ann")
    asked = {"request": "ab" * 16}
    assert ann.get("/admin/queue/result.json", query_string=asked).status_code == 403
    root = admin(app)
    assert root.get("/admin/queue/result.json", query_string={"request": "../status"}).status_code == 404
    assert root.get("/admin/queue/result.json", query_string=asked).get_json()["answered"] is False
    page = root.get("/admin/queue", query_string={"request": "<script>"}).get_data(as_text=True)
    assert "move-result" not in page
