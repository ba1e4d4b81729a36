"""dns_txt against a real DNS server on 127.0.0.1 (dnspython's message code, over UDP): a
server that fails is not "no record", and of several TXT records the one of the asked kind
is read."""

from __future__ import annotations

import socket
import threading

import dkim
import dns.message
import dns.rcode
import dns.resolver
import dns.rrset
import pytest

from webapp.inbound.dkim_verification import dns_txt
from webapp.inbound.dmarc import refusal

ANSWERS = {
    "_dmarc.failing-dns.org.": dns.rcode.SERVFAIL,
    "_dmarc.no-policy.org.": dns.rcode.NXDOMAIN,
    "_dmarc.several-records.org.": ['"v=spf1 -all"', '"v=DMARC1; p=reject"'],
    "sel._domainkey.several-records.org.": ['"google-site-verification=x"', '"v=DKIM1; k=rsa; p=AB"'],
}


class _DnsServer:
    """Answers each question from ANSWERS over UDP on 127.0.0.1; stopped by the test."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, name="dns-server")
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            name = query.question[0].name.to_text().lower()
            answer = ANSWERS.get(name, dns.rcode.NXDOMAIN)
            if isinstance(answer, list):
                reply.answer.append(dns.rrset.from_text_list(name, 60, "IN", "TXT", answer))
            else:
                reply.set_rcode(answer)
            self.sock.sendto(reply.to_wire(), client)

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def resolver():
    server = _DnsServer()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], server.port
    try:
        yield resolver
    finally:
        server.stop()


def test_a_dns_server_that_fails_is_not_taken_for_no_record(resolver):
    with pytest.raises(dkim.DnsTimeoutError):
        dns_txt(b"_dmarc.failing-dns.org.", timeout=2, resolver=resolver)
    assert dns_txt(b"_dmarc.no-policy.org.", timeout=2, resolver=resolver) is None


def test_of_several_txt_records_the_one_of_the_asked_kind_is_read(resolver):
    assert dns_txt(b"_dmarc.several-records.org.", timeout=2, resolver=resolver) == b"v=DMARC1; p=reject"
    assert dns_txt(b"sel._domainkey.several-records.org.", timeout=2,
                   resolver=resolver) == b"v=DKIM1; k=rsa; p=AB"


def test_a_reply_from_a_domain_whose_dns_fails_waits_instead_of_being_posted(resolver):
    def lookup(name: bytes, timeout: float = 2) -> bytes | None:
        return dns_txt(name, timeout=timeout, resolver=resolver)
    said = refusal("failing-dns.org", (), lookup)
    assert said is not None and "later" in said
    assert refusal("several-records.org", (), lookup) is not None          # p=reject, unsigned
    assert refusal("no-policy.org", (), lookup) is None              # no policy published
