"""What every mail of the site shares: its sender ([webapp] mail_from), a Message-ID on the
site's domain, and the writer of single messages into pickup.

The writer is spooler.pickup.PickupWriter on [pickup] dir, durable, with [relay]
max_message_size: the writer checks the size (MessageTooLarge) and the site checks it
nowhere else. Writing fails with spooler.pickup.PickupError (nothing is then left in
pickup).
"""

from __future__ import annotations

from spooler.message import Address, OutgoingMessage
from spooler.names import TRANSACTIONAL, new_queue_id
from spooler.pickup import PickupWriter
from webapp.site.config import site_config
from webapp.site.links import site_domain


def sender() -> Address:
    return Address.parse(site_config().webapp.mail_from)


def new_message_id() -> str:
    return f"{new_queue_id()}@{site_domain()}"


def pickup_writer() -> PickupWriter:
    config = site_config()
    return PickupWriter(config.pickup.dir, durable=True, max_size=config.relay.max_message_size)


def write_transactional(message: OutgoingMessage, sender: str | None = None) -> None:
    """One message to pickup in the transactional class (never behind bulk mail); `sender`:
    an envelope sender other than the message's (its return path)."""
    pickup_writer().write(message, sender=sender, priority=TRANSACTIONAL)
