"""What the relay signs verifies with dkimpy (the oracle a receiver stands for) over a table of
awkward messages, with RSA 1024 and 2048 and Ed25519 keys, and is byte for byte the signature
dkimpy makes with the same key at the same second: relaxed canonicalization, header selection
and folding are dkimpy's exactly. Messages go through parse_pickup first, as in the relay."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import dkim
import pytest

from relay.delivery.signing import DkimSigner, load_key
from settings import DkimConfig
from settings.tables import DKIM_HEADERS
from spooler.envelope import ParsedMessage, parse_pickup
from tests.relay.delivery import key_files

_quiet = logging.getLogger("tests.dkimpy")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

HEAD = b"To: ann@example.test\r\nSubject: hello\r\nMessage-ID: <m@example.org>\r\n"
MESSAGES = {
    "utf8_8bit_body": (b"From: Q&A <noreply@example.org>\r\n" + HEAD +
                       b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       b"Content-Transfer-Encoding: 8bit\r\n\r\n" +
                       "Quelqu'un a répondu : « ça marche » ✓\r\n".encode()),
    "latin1_bytes_body": (b"From: noreply@example.org\r\n" + HEAD +
                          b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
                          b"caf\xe9 cr\xe8me br\xfbl\xe9e \xe0 la carte\r\n"),
    "lf_line_ends_dropped_by_hand": (b"From: noreply@example.org\nTo: ann@example.test\n"
                                     b"Subject: by hand\n\nline one\n.\nline three\n"),
    "long_lines": (b"From: noreply@example.org\r\n" + HEAD +
                   b"X-Long: " + b"word " * 150 + b"\r\n"
                   b"References: " + b" ".join(b"<id%d@example.org>" % n for n in range(40)) +
                   b"\r\n\r\n" + b"x" * 990 + b"\r\n" + b"y " * 700 + b"\r\n"),
    "folded_headers_tabs_and_spaces": (b"From: Q&A\r\n <noreply@example.org>\r\n"
                                       b"To: ann@example.test,\r\n\tbob@example.test,\r\n"
                                       b"    carl@example.test\r\n"
                                       b"Subject:   a  subject\r\n \t folded \t \r\n\tthree times  \r\n"
                                       b"Date:Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nbody\r\n"),
    "trailing_whitespace_and_empty_lines_at_the_end": (b"From: noreply@example.org\r\n" + HEAD +
                                                       b"\r\nline \t \r\n  indented\tand \t spaced\r\n"
                                                       b"\r\n \r\n\t\r\n\r\n\r\n"),
    "runs_of_spaces_without_tabs": (b"From: noreply@example.org\r\nTo: ann@example.test\r\n"
                                    b"Subject: two  spaces   and three\r\n\r\n"
                                    b"two  spaces   and three\r\n"),
    "empty_body": b"From: noreply@example.org\r\n" + HEAD + b"\r\n",
    "headers_only": b"From: noreply@example.org\r\n" + HEAD,
    "no_line_end_at_the_end": b"From: noreply@example.org\r\n" + HEAD + b"\r\nno end",
    "from_a_subdomain_signed_by_the_parent": (b"From: \"News\" <digest@news.example.org>"
                                              b" (the digest)\r\n" + HEAD + b"\r\nthis week\r\n"),
    "list_unsubscribe_pair": (b"From: <digest@example.org>\r\n" + HEAD +
                              b"List-Id: Digest <digest.example.org>\r\n"
                              b"List-Unsubscribe: <https://qa.example.org/unsubscribe/abc>,\r\n"
                              b" <mailto:unsubscribe@example.org?subject=abc>\r\n"
                              b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nhi\r\n"),
    "headers_that_appear_twice": (b"Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000\r\n"
                                  b"Received: from c by d; Mon, 7 Dec 2026 10:00:01 +0000\r\n"
                                  b"From: noreply@example.org\r\nSubject: first\r\n"
                                  b"To: ann@example.test\r\nSubject: second\r\n"
                                  b"Cc: bob@example.test\r\nCc: carl@example.test\r\n\r\nhi\r\n"),
    "header_names_in_odd_case": (b"fROM: noreply@example.org\r\nTO: ann@example.test\r\n"
                                 b"SUBJECT: Shouting\r\nmime-VERSION: 1.0\r\n"
                                 b"content-type: text/plain\r\n\r\nhi\r\n"),
}
KINDS = ("rsa-1024", "rsa-2048", "ed25519")


@dataclass
class Identity:
    """One key for example.org: the relay's signer, what dkimpy takes, and its DNS answer."""
    signer: DkimSigner
    config: DkimConfig
    dkimpy_private: bytes
    dns: Callable


@pytest.fixture(scope="module")
def identities(tmp_path_factory) -> dict[str, Identity]:
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for kind in KINDS:
        if kind == "ed25519":
            pem = key_files.ed25519_pem()
            dkimpy_private, algorithm = key_files.ed25519_seed(pem), "ed25519-sha256"
        else:
            pem = key_files.rsa_pem(int(kind.split("-")[1]))
            dkimpy_private, algorithm = pem, "rsa-sha256"
        config = DkimConfig(domain="example.org", selector=kind.replace("-", ""),
                            key_file=key_files.key_file(folder, f"{kind}.key", pem),
                            algorithm=algorithm)
        key = load_key(config)
        made[kind] = Identity(DkimSigner([key]), config, dkimpy_private,
                              key_files.published(key.dns_record()))
    return made


def wire(name: str) -> ParsedMessage:
    return parse_pickup(MESSAGES[name])


def signature_domain(content: bytes) -> bytes:
    return re.search(rb"\bd=([^;]+);", content)[1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", MESSAGES)
def test_a_receiver_verifies_what_the_relay_signs_and_not_once_the_body_is_changed(
        identities, kind, name):
    identity = identities[kind]
    signed = identity.signer.sign(wire(name)).message.content
    assert signature_domain(signed) == b"example.org"   # news.example.org aligns with its parent
    assert dkim.verify(signed, dnsfunc=identity.dns, logger=_quiet)
    assert not dkim.verify(signed + b"added on the way\r\n", dnsfunc=identity.dns, logger=_quiet)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", MESSAGES)
def test_the_signature_is_byte_for_byte_the_one_dkimpy_makes_with_the_same_key_and_second(
        identities, kind, name):
    identity, message = identities[kind], wire(name)
    headers, _body = dkim.rfc822_parse(message.content)
    present = {field.lower().decode() for field, _value in headers}
    names = [h.encode() for h in DKIM_HEADERS if h in present] + [b"from"]
    theirs = dkim.sign(message.content, identity.config.selector.encode(), b"example.org",
                       identity.dkimpy_private, canonicalize=(b"relaxed", b"relaxed"),
                       signature_algorithm=identity.config.algorithm.encode(),
                       include_headers=names, logger=_quiet)
    second = int(re.search(rb"\bt=(\d+);", theirs)[1])
    ours = identity.signer.sign(message, now=second).message.content
    assert ours == theirs + message.content


def test_a_second_from_added_on_the_way_breaks_the_signature(identities):
    identity = identities["rsa-2048"]
    signed = identity.signer.sign(wire("utf8_8bit_body")).message.content
    head, _, body = signed.partition(b"\r\n\r\n")
    forged = head + b"\r\nFrom: ceo@example.org\r\n\r\n" + body
    assert dkim.verify(signed, dnsfunc=identity.dns, logger=_quiet)
    assert not dkim.verify(forged, dnsfunc=identity.dns, logger=_quiet)


def test_only_the_configured_headers_present_are_signed_with_from_twice(identities):
    signed = identities["ed25519"].signer.sign(wire("list_unsubscribe_pair")).message.content
    h = re.search(rb"\bh=([^;]+);", signed.replace(b"\r\n ", b" "))[1].split(b" : ")
    assert h == [b"from", b"subject", b"message-id", b"to", b"list-id", b"list-unsubscribe",
                 b"list-unsubscribe-post", b"from"]
