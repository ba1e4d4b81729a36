"""Site -> pickup -> relay -> smart host: a registration's activation mail reaches the Maildir."""

from __future__ import annotations

import quopri
import re

from relay.sink.server import Sink
from tests.configs import SITE, build_config
from tests.relay.relay_helpers import RunningRelay, wait_until
from tests.webapp.conftest import activate, post_form, site_app


def test_registering_makes_the_activation_mail_arrive_in_the_sinks_maildir(tmp_path):
    with Sink(tmp_path / "sink") as sink:
        config = build_config(tmp_path, SITE, relay={"smarthost": {"port": sink.port, "timeout": "5s"}})
        with site_app(config) as app:
            with RunningRelay(config) as relay:
                client = app.test_client()
                post_form(client, "/account/register", display_name="Zoë", email="zoe@example.org",
                          password="a long password", confirm="a long password")
                wait_until(lambda: sink.maildir.count() == 1 and relay.counts["sent"] == 1,
                           what="the activation mail in the sink, and the relay done with it")
            [stored] = sink.maildir.messages()
            assert stored.recipients == ("zoe@example.org",)
            assert stored.sender == "noreply@example.test"
            assert b"X-Receiver" not in stored.content and b"Subject: Activate your account" in stored.content
            text = quopri.decodestring(stored.content).decode()
            link = re.search(r"http://qa\.example\.test(/account/activate/\S+)", text).group(1)
            # the mailed link opens the page whose button activates the account
            assert activate(client, link).location == "/account/login"
