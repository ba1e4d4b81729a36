"""Links in account mail: nothing readable in the token, and the token leaves the URL after one GET."""

from __future__ import annotations

import base64
import json
import quopri
import re

from tests.webapp.accounts.test_auth import activated_member, register
from tests.webapp.conftest import link_in, pickup_messages, post_form


def payload_of(link: str):
    """What anyone who sees the link (an access log, a proxy) can read: the token's first part."""
    part = link.rsplit("/", 1)[1].split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_an_activation_token_carries_no_address_only_an_id_and_an_opaque_fingerprint(client, config):
    register(client, email="ann@example.org")
    payload = payload_of(link_in(pickup_messages(config)[0], "activate"))
    assert isinstance(payload[0], int) and len(payload) == 2
    assert "ann" not in json.dumps(payload) and "example" not in json.dumps(payload)


def test_a_reset_token_carries_no_address_and_no_readable_password_fingerprint(client, config):
    activated_member(client, config)
    post_form(client, "/account/reset", email="ann@example.org")
    user_id, fingerprint = payload_of(link_in(pickup_messages(config)[-1], "reset"))
    assert isinstance(user_id, int) and len(fingerprint) == 22


def test_a_reset_link_moves_its_token_into_the_session_and_off_the_url(client, config):
    activated_member(client, config)
    post_form(client, "/account/reset", email="ann@example.org")
    link = link_in(pickup_messages(config)[-1], "reset")
    token = link.rsplit("/", 1)[1]
    opened = client.get(link)
    assert opened.status_code == 302 and opened.location == "/account/new-password"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    form = client.get(opened.location)
    assert form.status_code == 200 and token not in form.get_data(as_text=True)
    changed = post_form(client, "/account/new-password", password="a brand new secret",
                        confirm="a brand new secret")
    assert changed.status_code == 302 and token not in changed.location
    again = client.get("/account/new-password")  # the token left the session with its use
    assert again.status_code == 400


def test_the_new_password_form_without_a_link_says_to_open_the_link_again(client):
    response = client.get("/account/new-password")
    assert response.status_code == 400
    assert "Open the link from your password reset email again" in response.get_data(as_text=True)


def test_an_activation_link_answers_with_a_redirect_to_a_url_without_the_token(client, config):
    register(client)
    response = client.get(link_in(pickup_messages(config)[0], "activate"))
    assert response.status_code == 302 and response.location == "/account/welcome"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_link_refused_as_tampered_is_answered_without_a_referrer_too(client, config):
    activated_member(client, config)
    post_form(client, "/account/reset", email="ann@example.org")
    refused = client.get(link_in(pickup_messages(config)[-1], "reset") + "x")
    assert refused.status_code == 400 and refused.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/account/login").headers["Referrer-Policy"] == "same-origin"  # other pages keep theirs


def test_no_token_of_a_link_in_account_mail_reaches_the_access_log(app, client, config):
    from tests.webapp.accounts.test_address_change import ask_for
    from tests.webapp.qa_helpers import member
    from webapp.site.access_log import redact

    register(client, email="new@example.org")                                  # activation
    post_form(client, "/account/activate", email="new@example.org")            # choose a password
    ann = member(app, config, "Ann")
    post_form(app.test_client(), "/account/reset", email="ann@example.org")    # reset
    ask_for(ann, config)                                                       # new address, not me
    paths = {path for raw in pickup_messages(config)
             for path in re.findall(r"https?://[^/\s]+(/account/[^\s\"<>]*[A-Za-z0-9_-]{20,})",
                                    quopri.decodestring(raw).decode())}
    assert len(paths) >= 6
    for path in paths:
        token = path[-20:]
        assert token not in redact(f'"GET {path} HTTP/1.1"'), path
