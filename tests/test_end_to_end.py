"""Site -> pickup -> relay -> smart host: a registration's activation mail reaches the sink, and
the test finds it through the inbox's API as any site's end-to-end test would."""

from __future__ import annotations

from urllib.parse import urlsplit

from relay.sink.inbox import InboxServer
from relay.sink.server import Sink
from tests.configs import SITE, build_config
from tests.inbox_client import InboxClient, link_in
from tests.relay.relay_helpers import RunningRelay, wait_until
from tests.webapp.conftest import activate, post_form, site_app


def test_registering_makes_the_activation_mail_arrive_in_the_sinks_inbox(tmp_path):
    with Sink(tmp_path / "sink") as sink, InboxServer(sink.maildir.root) as inbox:
        mail = InboxClient(inbox.url)
        config = build_config(tmp_path, SITE, relay={"smarthost": {"port": sink.port, "timeout": "5s"}})
        with site_app(config) as app:
            with RunningRelay(config) as relay:
                client = app.test_client()
                post_form(client, "/account/register", display_name="Zoë", email="zoe@example.org",
                          password="a long password", confirm="a long password")
                message = mail.wait_for("to:zoe@example.org subject:activate", timeout=15)
                wait_until(lambda: relay.counts["sent"] == 1, what="the relay done with it")
            assert message["envelope"] == {"from": "noreply@example.test", "to": ["zoe@example.org"]}
            assert message["subject"] == "Activate your account"
            assert not [name for name, _ in message["headers"] if name.lower() == "x-receiver"]
            link = link_in(message, "http://qa.example.test/account/activate/")
            assert mail.messages()["total"] == 1
            # the mailed link opens the page whose button activates the account
            assert activate(client, urlsplit(link).path).location == "/account/login"
