"""Releasing a captured message: send one message of the sink's Maildir on to a real SMTP server.

For trying a template in a real mail client: release() sends the message as the sink
captured it (nothing added; CRLF line ends and dot-stuffing on the wire) to recipients a
person typed, by default its envelope recipients, through [sink.release] (the host, its
TLS, AUTH and timeout, as [relay.smarthost] reads them). Before any connection every
recipient must be an address and in [sink.release] allowed_recipients: one outside it and
the message goes to nobody. It speaks SMTP through the relay's own client
(relay.smtp.client: STARTTLS with certificate checks, AUTH from password_file or
password_env, a timeout on every step), so it fails in the relay's words, said of
[sink.release]. Reads the message and the password file; writes nothing. Raises
ReleaseOff, ReleaseRefused (nothing sent: ours to refuse; RecipientNotAllowed among them)
or ReleaseFailed (the server or the network said no).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relay.sink.maildir import StoredMessage
from relay.smtp.client import SmtpConnection
from relay.smtp.replies import Outcome
from settings import ReleaseConfig, SmartHostConfig
from spooler.envelope import MalformedMessage, UnsafeHeaderError, check_address, envelope_lines, parse_pickup

_SEPARATORS = re.compile(r"[\s,;]+")


class ReleaseError(Exception):
    """The message was sent to nobody; str() says why and what to do."""


class ReleaseOff(ReleaseError):
    """[sink.release] host is not set."""


class ReleaseRefused(ReleaseError):
    """Refused before connecting: a recipient that is no address or not allowed, a message
    that SMTP cannot carry."""


class RecipientNotAllowed(ReleaseRefused):
    """A recipient outside [sink.release] allowed_recipients."""


class ReleaseFailed(ReleaseError):
    """The server could not be reached, TLS or AUTH failed, or it refused every recipient."""


@dataclass(frozen=True)
class Released:
    """What the server took: the recipients it accepted, and those it refused with its reply."""
    server: str                               # host:port
    sent_to: tuple[str, ...]
    refused: tuple[tuple[str, str], ...] = ()   # (recipient, the server's reply)


HOW_TO_TURN_ON = ("release is off: set [sink.release] host and allowed_recipients in config.toml "
                  "(see docs/inbox.md), then restart `relay inbox`")


def typed_recipients(text: str) -> list[str]:
    """Addresses as a person types them: separated by commas, semicolons or spaces."""
    return [a for a in _SEPARATORS.split(text.strip()) if a]


def release(stored: StoredMessage, recipients: list[str] | tuple[str, ...],
            config: ReleaseConfig) -> Released:
    """Send `stored` to `recipients` (none given: its envelope recipients) through `config`."""
    if not config.host:
        raise ReleaseOff(HOW_TO_TURN_ON)
    wanted = tuple(dict.fromkeys(r.strip() for r in (recipients or stored.recipients) if r.strip()))
    if not wanted:
        raise ReleaseRefused("no recipient: type at least one address")
    for recipient in wanted:
        _check_recipient(recipient, config)
    message = _wire_message(stored, config.sender or stored.sender, wanted)
    smarthost = _as_smarthost(config)
    connection = SmtpConnection(smarthost)
    try:
        result = connection.deliver(message)
    finally:
        connection.close()
    sent = tuple(r.recipient for r in result.replies if r.outcome is Outcome.SENT)
    refused = tuple((r.recipient, _said_of_release(str(r)))
                    for r in result.replies if r.outcome is not Outcome.SENT)
    if not sent:
        raise ReleaseFailed(_failure(smarthost.label, result.host_unavailable, refused))
    return Released(smarthost.label, sent, refused)


def allowed(recipient: str, config: ReleaseConfig) -> bool:
    """Whether [sink.release] allowed_recipients lets `recipient` have a released message."""
    address = recipient.lower()
    domain = address.rpartition("@")[2]
    return any(entry in ("*", address, domain) for entry in config.allowed_recipients)


def _check_recipient(recipient: str, config: ReleaseConfig) -> None:
    try:
        check_address(recipient, "recipient")
    except UnsafeHeaderError as e:
        raise ReleaseRefused(f"{e}; nothing was sent") from None
    if not allowed(recipient, config):
        raise RecipientNotAllowed(
            f"<{recipient}> is not in [sink.release] allowed_recipients "
            f"({', '.join(config.allowed_recipients)}); nothing was sent")


def _wire_message(stored: StoredMessage, sender: str, recipients: tuple[str, ...]):
    """The captured bytes under the chosen envelope, made what SMTP carries (parse_pickup's
    wire rules: CRLF, long lines folded, NUL refused)."""
    try:
        return parse_pickup(envelope_lines(sender, recipients) + stored.content)
    except UnsafeHeaderError as e:
        raise ReleaseRefused(f"{e}: set [sink.release] sender to an address; nothing was sent") from None
    except MalformedMessage as e:
        raise ReleaseRefused(f"this message cannot be sent as it is: {e}") from None


def _as_smarthost(config: ReleaseConfig) -> SmartHostConfig:
    """[sink.release] as the smart host settings the relay's SMTP client reads."""
    return SmartHostConfig(
        host=config.host, port=config.port, tls=config.tls, ca_file=config.ca_file,
        tls_name=config.tls_name, verify=config.verify, username=config.username,
        password_env=config.password_env, password_file=config.password_file,
        timeout=config.timeout, command_timeout=config.timeout, data_timeout=config.timeout)


def _said_of_release(text: str) -> str:
    # The relay's client names its settings; here the same keys live in [sink.release].
    return text.replace("[relay.smarthost]", "[sink.release]")


def _failure(server: str, unavailable: bool, refused: tuple[tuple[str, str], ...]) -> str:
    if unavailable:   # the same reason for every recipient: the connection itself failed
        return f"not released: {refused[0][1]}"
    said = "; ".join(f"<{recipient}>: {reply}" for recipient, reply in refused)
    return f"not released: {server} refused {'every recipient: ' if len(refused) > 1 else ''}{said}"
