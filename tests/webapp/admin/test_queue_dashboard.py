"""The queue dashboard: admins see the relay's status and ask for moves, which a real running relay
carries out; members who are not admins get 403 on every page and POST."""

from __future__ import annotations

import re
import time

import pytest

from relay import snapshot
from relay.queue import BADMAIL, DEFERRED, HOLD, Queue
from settings import parse_config
from tests.relay.relay_helpers import RunningRelay, place_queued, wait_until
from tests.smtp_servers import FaultyServer
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
    data = {"pickup": {"dir": "pickup"},
            "relay": {"queue_dir": "queue", "retry_schedule": ["1h"], "connections": 1,
                      "smarthost": {"port": upstream.port, "timeout": "2s"}},
            "webapp": {"database_url": "sqlite:///var/site.db", "base_url": "http://qa.example.test"}}
    cfg = parse_config(data, base_dir=tmp_path, source=None)
    cfg.pickup.dir.mkdir()
    return cfg


def move(client, what: str, *ids: str, **filters):
    token = csrf_token(client, "/admin/queue")
    return client.post("/admin/queue/move", data={"csrf_token": token, "move": what,
                                                  "ids": list(ids), **filters})


def folder_of(config, queue_id: str) -> str | None:
    found = Queue(config.relay.queue_dir, config.pickup.dir).locate(queue_id)
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
        wait_until(lambda: snapshot.read(config.relay.admin_dir) is not None, what="a snapshot")
        page = root.get("/admin/queue").get_data(as_text=True)
        assert due_later in page and "451 4.3.0 greylisted" in page and bad in page
        assert re.search(r'<td>deferred</td><td class="count">3</td>', page)

        shown = root.get(move(root, "retry", due_later).location).get_data(as_text=True)
        assert f"<code>{due_later}</code>:\n        due now" in shown
        wait_until(lambda: len(upstream.received) == 1, what="the retried message sent")

        shown = root.get(move(root, "hold", to_hold).location).get_data(as_text=True)
        assert "held" in shown and folder_of(config, to_hold) == HOLD
        shown = root.get(move(root, "delete", to_delete).location).get_data(as_text=True)
        assert "deleted" in shown and folder_of(config, to_delete) is None
        shown = root.get(move(root, "release", to_hold).location).get_data(as_text=True)
        assert "released" in shown
        shown = root.get(move(root, "requeue-badmail", bad).location).get_data(as_text=True)
        assert re.search(rf"<code>{bad}</code>:\s+requeued, now <code>[0-9a-f]{{24}}</code>", shown)
        wait_until(lambda: len(upstream.received) == 3, what="released and requeued sent")
        shown = root.get(move(root, "hold", due_later).location).get_data(as_text=True)
        assert f"not held: {due_later}" in shown   # sent already: the relay says why, per id

        def counts():
            return root.get("/admin/queue.json").get_json()["counts"]
        wait_until(lambda: counts() and counts()[DEFERRED] == counts()[BADMAIL] == 0,
                   what="the dashboard's counts to follow")
        assert relay.activity.to_json(0)["sent"]
    rate = snapshot.read(config.relay.admin_dir).activity
    assert rate["sent_last_minute"] == 3


def test_filters_narrow_the_lists_by_sender_recipient_and_age(app, config):
    old = place_queued(config, DEFERRED, sender="news@example.org", to=("ann@example.org",), age=7200)
    young = place_queued(config, DEFERRED, sender="noreply@example.org", to=("bob@example.org",))
    held = place_queued(config, HOLD, sender="news@example.org", to=("bob@example.org",))
    from relay.activity import Activity
    from relay.control import Control
    from relay.move_requests import make_folders
    make_folders(config.relay.admin_dir)
    queue = Queue(config.relay.queue_dir, config.pickup.dir)
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


def test_a_move_with_no_relay_running_says_it_is_waiting(app, config, monkeypatch):
    from relay.move_requests import make_folders
    from webapp.admin import queue_dashboard
    monkeypatch.setattr(queue_dashboard, "RESULT_WAIT", 0.2)
    make_folders(config.relay.admin_dir)
    queued = place_queued(config, DEFERRED)
    root = admin(app)
    response = move(root, "hold", queued)
    page = root.get(response.location).get_data(as_text=True)
    assert "it has not answered yet" in page and "Waiting for the relay" in page
    assert len(list((config.relay.admin_dir / "requests").glob("*.json"))) == 1
